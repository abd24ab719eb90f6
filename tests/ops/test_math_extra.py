"""CUMSUM, RANK, BROADCAST_ARGS, FAKE_QUANT, RIGHT_SHIFT, BITWISE_XOR, BITCAST and ATAN2
against LiteRT BUILTIN_REF."""
from __future__ import annotations

import numpy as np
import pytest

from qrun import Interpreter
from qrun.modelbuilder import ModelBuilder
from tests.oracle import check_against_litert
from tests.ops.test_data_movement import Op

INT_TYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32]


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
@pytest.mark.parametrize("shape,axis", [((7,), 0), ((2, 5), 1), ((2, 5), -2), ((2, 3, 4), 1)])
@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_cumsum(dtype, shape, axis, exclusive, reverse):
    Op(seed=len(shape)).data(shape, dtype).index(np.int32(axis)).run(
        "CUMSUM", [(shape, dtype)], exclusive=exclusive, reverse=reverse)


@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.uint8, np.int32, np.bool_])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3, 4, 5, 1)])
def test_rank(dtype, shape):
    Op().data(shape, dtype).run("RANK", [((), np.int32)])


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("a,b", [([2, 1, 3], [5, 1]), ([1], [4, 3, 2]), ([7, 1], [7, 6]),
                                 ([0, 1], [1])])
def test_broadcast_args(dtype, a, b):
    b_ = ModelBuilder()
    x = b_.add_input((len(a),), dtype)
    y = b_.add_input((len(b),), dtype)
    z = b_.mark_output(b_.add_tensor((max(len(a), len(b)),), dtype))
    b_.add_op("BROADCAST_ARGS", [x, y], [z])
    check_against_litert(b_.build(), inputs=[np.asarray(a, dtype), np.asarray(b, dtype)])


@pytest.mark.parametrize("lo,hi", [(-1.0, 1.0), (-6.0, 0.0), (0.0, 2.5), (-0.3, 3.7)])
@pytest.mark.parametrize("num_bits", [2, 8, 16])
def test_fake_quant(lo, hi, num_bits):
    rng = np.random.default_rng(num_bits)
    x = rng.uniform(lo - 1, hi + 1, (2, 3, 17)).astype(np.float32)
    b = ModelBuilder()
    i = b.add_input(x.shape, np.float32)
    o = b.mark_output(b.add_tensor(x.shape, np.float32))
    b.add_op("FAKE_QUANT", [i], [o], min=lo, max=hi, num_bits=num_bits)
    check_against_litert(b.build(), inputs=[x])


SHAPES2 = [((2, 3, 5), (2, 3, 5)), ((2, 3, 5), (5,)), ((4, 1), (1, 3)), ((1, 2, 1, 3), (2, 2, 1)),
           ((), (3,))]


def _bits(shape, dtype, rng, shift: bool):
    info = np.iinfo(dtype)
    if shift:  # amounts beyond the width and negative ones are clamped
        lo = max(int(info.min), -3)
        return rng.integers(lo, info.bits + 4, shape).astype(dtype)
    return rng.integers(int(info.min), int(info.max) + 1, shape, dtype=np.int64).astype(dtype)


@pytest.mark.parametrize("dtype", INT_TYPES)
@pytest.mark.parametrize("shapes", SHAPES2)
@pytest.mark.parametrize("opname", ["RIGHT_SHIFT", "BITWISE_XOR"])
def test_bitwise(dtype, shapes, opname):
    rng = np.random.default_rng(len(shapes[1]))
    b = ModelBuilder()
    ins = [b.add_input(s, dtype) for s in shapes]
    out = b.mark_output(b.add_tensor(np.broadcast_shapes(*shapes), dtype))
    b.add_op(opname, ins, [out])
    values = [_bits(shapes[0], dtype, rng, False),
              _bits(shapes[1], dtype, rng, opname == "RIGHT_SHIFT")]
    check_against_litert(b.build(), inputs=values)


@pytest.mark.parametrize("src,dst,in_shape,out_shape", [
    (np.float32, np.int32, (2, 3), (2, 3)), (np.int32, np.uint8, (5,), (5, 4)),
    (np.uint8, np.int32, (3, 4), (3,)), (np.int16, np.uint16, (2, 2, 3), (2, 2, 3)),
    (np.int64, np.float32, (3,), (3, 2)), (np.int16, np.float32, (1, 2), (1,)),
    (np.int8, np.uint8, (7,), (7,))])
def test_bitcast(src, dst, in_shape, out_shape):
    Op().data(in_shape, src, q=None).run("BITCAST", [(out_shape, dst, None)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7,), (2, 3, 5), (1, 4, 4, 3)])
def test_atan2(dtype, shape):
    rng = np.random.default_rng(len(shape))
    values = [rng.uniform(-3, 3, shape).astype(dtype) for _ in range(2)]
    values[1].flat[0] = 0.0
    values[0].flat[1] = values[1].flat[1] = 0.0
    b = ModelBuilder()
    ins = [b.add_input(shape, dtype) for _ in range(2)]
    out = b.mark_output(b.add_tensor(shape, dtype))
    b.add_op("ATAN2", ins, [out])
    check_against_litert(b.build(), inputs=values)


WINDOW_TYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.float32, np.float64]


@pytest.mark.parametrize("dtype", WINDOW_TYPES)
@pytest.mark.parametrize("function,init", [(1, 0), (2, 1), (3, 100), (4, -100), (5, 1), (6, 0)])
@pytest.mark.parametrize("shape,window,strides,dilations", [
    ((9,), [3], [2], [1]), ((2, 7, 6, 3), [1, 3, 2, 1], [1, 2, 1, 1], [1, 1, 2, 1]),
    ((5, 4), [2, 2], [1, 1], [2, 1])])
def test_reduce_window(dtype, function, init, shape, window, strides, dilations):
    rng = np.random.default_rng(function)
    lo = 0 if np.dtype(dtype).kind == "u" else -3
    values = rng.integers(lo, 4, shape).astype(dtype)
    init = np.asarray(max(init, 0) if lo == 0 else init, dtype)
    out = tuple((n - ((w - 1) * d + 1)) // s + 1
                for n, w, s, d in zip(shape, window, strides, dilations))
    b = ModelBuilder()
    ins = [b.add_input(shape, dtype), b.add_constant(init)] + [
        b.add_constant(np.asarray(v, np.int64)) for v in (window, strides, dilations)]
    y = b.mark_output(b.add_tensor(out, dtype))
    b.add_op("REDUCE_WINDOW", ins, [y], reduce_function=function)
    check_against_litert(b.build(), inputs=[values])


def _one_op(opname, inputs, outputs, **options):
    """inputs: (shape, dtype) for run-time inputs or arrays for constants."""
    b = ModelBuilder()
    ins = [b.add_constant(i) if isinstance(i, np.ndarray) else b.add_input(*i) for i in inputs]
    outs = [b.mark_output(b.add_tensor(*o)) for o in outputs]
    b.add_op(opname, ins, outs, **options)
    return b.build()


INVALID = [
    ("ATAN2", [((2, 3), np.float32), ((3,), np.float32)], [((2, 3), np.float32)], {},
     "same type and shape"),
    ("BITCAST", [((2, 3), np.uint8)], [((2,), np.int32)], {}, "last dimension of 4"),
    ("RIGHT_SHIFT", [((2, 3), np.int8), ((2, 3), np.int16)], [((2, 3), np.int8)], {},
     "types"),
    ("CUMSUM", [((2, 3), np.float32), np.array([0, 1], np.int32)], [((2, 3), np.float32)], {},
     "scalar"),
    ("FAKE_QUANT", [((4,), np.float32)], [((4,), np.float32)],
     dict(min=0.5, max=1.0, num_bits=8), "min <= 0 <= max"),
    ("REDUCE_WINDOW", [((4, 4), np.float32), np.array(0, np.float32), np.array([5, 1], np.int64),
                       np.array([1, 1], np.int64), np.array([1, 1], np.int64)],
     [((1, 4), np.float32)], dict(reduce_function=1), "larger than input"),
]


@pytest.mark.parametrize("case", INVALID, ids=lambda c: c[0])
def test_invalid_parameters_fail_at_allocate(case):
    opname, inputs, outputs, options, message = case
    it = Interpreter(model_content=_one_op(opname, inputs, outputs, **options))
    with pytest.raises(RuntimeError, match=message):
        it.allocate_tensors()
