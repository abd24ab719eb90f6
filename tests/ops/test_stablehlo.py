"""STABLEHLO_ADD/MULTIPLY/MAXIMUM/MINIMUM and STABLEHLO_PAD against LiteRT BUILTIN_REF."""
from __future__ import annotations

import numpy as np
import pytest

from qrun.modelbuilder import ModelBuilder
from tests.oracle import check_against_litert
from tests.ops.test_data_movement import Op

TYPES = [np.float32, np.float16, np.int8, np.int16, np.int32, np.int64, np.uint8]


@pytest.mark.parametrize("opname", ["STABLEHLO_ADD", "STABLEHLO_MULTIPLY", "STABLEHLO_MAXIMUM",
                                    "STABLEHLO_MINIMUM"])
@pytest.mark.parametrize("dtype", TYPES)
@pytest.mark.parametrize("shape", [(7,), (2, 3, 5), (1, 2, 3, 4, 2)])
def test_elementwise(opname, dtype, shape):
    Op(seed=len(shape)).data(shape, dtype, q=None).data(shape, dtype, q=None).run(
        opname, [(shape, dtype, None)])


@pytest.mark.parametrize("dtype", TYPES)
@pytest.mark.parametrize("shape,low,high,interior", [
    ((5,), [2], [1], [0]), ((5,), [-1], [-2], [1]), ((2, 3), [1, 0], [0, 2], [1, 2]),
    ((2, 3, 4), [0, -1, 2], [1, 1, -3], [0, 1, 0]), ((3, 1), [1, 1], [1, 1], [2, 3])])
def test_pad(dtype, shape, low, high, interior):
    out = tuple(lo + hi + n + (n - 1) * g for n, lo, hi, g in zip(shape, low, high, interior))
    Op(seed=1).data(shape, dtype, q=None).index(np.asarray(7, dtype), dtype).run(
        "STABLEHLO_PAD", [(out, dtype, None)], options_type="StablehloPadOptions",
        edge_padding_low=np.asarray(low, np.int64), edge_padding_high=np.asarray(high, np.int64),
        interior_padding=np.asarray(interior, np.int64))


GATHER_TYPES = [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64,
                np.uint8, np.uint16, np.uint32]
# operand, indices, offset_dims, collapsed_slice_dims, start_index_map, index_vector_dim,
# slice_sizes, output shape. (Not index_vector_dim == rank of indices: LiteRT's kernel reads
# past the indices then, and crashes.)
GATHERS = [
    ((5, 4), [[1], [3], [4]], [1], [0], [0], 1, [1, 4], (3, 4)),          # rows (GATHER)
    ((3, 4, 2), [[0, 1], [2, 3], [1, 0]], [1, 2, 3], [], [0, 1], 1, [1, 2, 2], (3, 1, 2, 2)),
    ((3, 4, 2), [[[0, 2]], [[2, 3]]], [2], [0, 1], [0, 1], 2, [1, 1, 2], (2, 1, 2)),
    ((6, 5), [[1, 0], [4, 3]], [0, 1], [], [1, 0], 0, [3, 2], (3, 2, 2)),  # clamped starts
]


@pytest.mark.parametrize("dtype", GATHER_TYPES)
@pytest.mark.parametrize("case", GATHERS)
@pytest.mark.parametrize("index_type", [np.int32, np.int64])
def test_gather(dtype, case, index_type):
    operand, indices, offset, collapsed, start_map, ivd, sizes, out = case
    Op(seed=2).data(operand, dtype, q=None).index(indices, index_type, runtime=True).run(
        "STABLEHLO_GATHER", [(out, dtype, None)], options_type="StablehloGatherOptions",
        offset_dims=offset, collapsed_slice_dims=collapsed, start_index_map=start_map,
        index_vector_dim=ivd, slice_sizes=sizes)


@pytest.mark.parametrize("algorithm,state", [
    (0, [1, 2]), (1, [0xDEADBEEF12345678, 0xFFFFFFFFFFFFFFFE]), (1, [7, 9, 1 << 40]),
    (2, [3, 4]), (2, [0x0123456789ABCDEF, 0xFFFFFFFFFFFFFFFF])])
@pytest.mark.parametrize("out_type,shape", [(np.uint32, (7,)), (np.int32, (2, 5)),
                                            (np.uint64, (3,)), (np.int64, (2, 3, 2))])
def test_rng_bit_generator(algorithm, state, out_type, shape):
    state = np.asarray(state, np.uint64)
    b = ModelBuilder()
    x = b.add_input(state.shape, np.uint64, type_code=12)
    key = b.mark_output(b.add_tensor(state.shape, np.uint64, type_code=12))
    bits = b.mark_output(b.add_tensor(shape, out_type,
                                      type_code=12 if out_type == np.uint64 else None))
    b.add_op("STABLEHLO_RNG_BIT_GENERATOR", [x], [key, bits],
             options_type="StablehloRngBitGeneratorOptions", algorithm=algorithm)
    check_against_litert(b.build(), inputs=[state])


BODIES = [("STABLEHLO_ADD", 0), ("STABLEHLO_MULTIPLY", 1), ("STABLEHLO_MAXIMUM", -50),
          ("STABLEHLO_MINIMUM", 50)]
# input shape, window, strides, base dilations, window dilations, (low, high) paddings
WINDOWS = [
    ((9,), [3], [2], [1], [1], [0, 0]),
    ((2, 7, 6, 3), [1, 3, 2, 1], [1, 2, 1, 1], [1, 1, 2, 1], [1, 1, 2, 1],
     [0, 0, 1, 2, -1, 0, 0, 0]),
    ((5, 4), [2, 2], [1, 2], [2, 1], [2, 1], [1, 1, 0, 1]),
]


def _body(g: ModelBuilder, opname, dtype):
    a, b = g.add_input((), dtype), g.add_input((), dtype)
    out = g.mark_output(g.add_tensor((), dtype))
    g.add_op(opname, [a, b], [out])


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8,
                                   np.float32, np.float64])
@pytest.mark.parametrize("body,init", BODIES)
@pytest.mark.parametrize("case", WINDOWS)
def test_reduce_window(dtype, body, init, case):
    _check_reduce_window(dtype, body, init, case)


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
@pytest.mark.parametrize("body,init", [("ADD", 0), ("MUL", 1), ("MAXIMUM", -50),
                                       ("MINIMUM", 50)])
def test_reduce_window_tflite_body(dtype, body, init):
    """Bodies made of the TFLite ops rather than their StableHLO twins."""
    _check_reduce_window(dtype, body, init, WINDOWS[1])


def _check_reduce_window(dtype, body, init, case):
    shape, window, strides, base, dilations, padding = case
    init = max(init, 0) if np.dtype(dtype).kind == "u" else init
    padded = [(n - 1) * b + 1 + lo + hi for n, b, lo, hi in
              zip(shape, base, padding[0::2], padding[1::2])]
    out = tuple((n - ((w - 1) * d + 1)) // s + 1
                for n, w, s, d in zip(padded, window, strides, dilations))
    b = ModelBuilder()
    x = b.add_input(shape, dtype)
    y = b.mark_output(b.add_tensor(out, dtype))
    _body(b.add_subgraph("body"), body, dtype)
    b.add_op("STABLEHLO_REDUCE_WINDOW", [x, b.add_constant(np.asarray(init, dtype))], [y],
             options_type="StablehloReduceWindowOptions", window_dimensions=window,
             window_strides=strides, base_dilations=base, window_dilations=dilations,
             padding=padding, body_subgraph_index=1)
    rng = np.random.default_rng(len(shape))
    lo = 0 if np.dtype(dtype).kind == "u" else -3
    check_against_litert(b.build(), inputs=[rng.integers(lo, 4, shape).astype(dtype)])


# operand, indices, update_window_dims, inserted_window_dims, scatter_dims_to_operand_dims,
# index_vector_dim, updates shape
SCATTERS = [
    ((6, 3), [[1], [4], [1]], [1], [0], [0], 1, (3, 3)),          # rows, one repeated
    ((4, 5), [[0, 1], [3, 3], [2, 4]], [], [0, 1], [0, 1], 1, (3,)),   # one element each
    ((3, 4, 5), [[1, 0], [0, 3]], [1, 2], [0], [0, 1], 1, (2, 2, 3)),  # windows, clipped
    ((5, 4), [[2, 1], [0, 3]], [0], [1], [1, 0], 0, (2, 2)),      # index_vector_dim 0
]


def _scatter_body(g: ModelBuilder, opname, dtype):
    a, b = g.add_input((), dtype), g.add_input((), dtype)
    if opname is None:
        g.mark_output(b)
        return
    out = g.mark_output(g.add_tensor((), dtype))
    g.add_op(opname, [a, b], [out])


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int8, np.int32, np.int64,
                                   np.uint8, np.uint32])
@pytest.mark.parametrize("body", [None, "STABLEHLO_ADD", "STABLEHLO_MULTIPLY",
                                  "STABLEHLO_MAXIMUM", "STABLEHLO_MINIMUM"])
@pytest.mark.parametrize("case", SCATTERS)
def test_scatter(dtype, body, case):
    operand, indices, window, inserted, to_operand, ivd, updates = case
    indices = np.asarray(indices, np.int32)
    b = ModelBuilder()
    ins = [b.add_input(operand, dtype), b.add_input(indices.shape, np.int32),
           b.add_input(updates, dtype)]
    y = b.mark_output(b.add_tensor(operand, dtype))
    _scatter_body(b.add_subgraph("update"), body, dtype)
    b.add_op("STABLEHLO_SCATTER", ins, [y], options_type="StablehloScatterOptions",
             update_window_dims=window, inserted_window_dims=inserted,
             scatter_dims_to_operand_dims=to_operand, index_vector_dim=ivd,
             update_computation_subgraph_index=1)
    rng = np.random.default_rng(len(operand))
    lo = 0 if np.dtype(dtype).kind == "u" else -3
    check_against_litert(b.build(), inputs=[rng.integers(lo, 5, operand).astype(dtype), indices,
                                            rng.integers(lo, 5, updates).astype(dtype)])
