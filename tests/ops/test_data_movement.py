"""Data-movement ops against LiteRT BUILTIN_REF: grids of shapes (odd sizes, batch 2, up to
6-D), axes (negative too), dtypes, quantization, and index inputs given as constants or at
run time (outputs then sized at invoke)."""
from __future__ import annotations

import numpy as np
import pytest

from qrun import Interpreter
from qrun.interpreter.loader import load_model
from qrun.interpreter.registry import KERNELS, find_kernel
from qrun.modelbuilder import ModelBuilder
from tests.oracle import check_against_litert, litert, random_inputs, shared_model

Q8 = {np.dtype(np.int8): (0.05, -128), np.dtype(np.uint8): (0.1, 255),
      np.dtype(np.int16): (0.001, 0)}
DTYPES = [np.int8, np.uint8, np.float32, np.int16, np.int32, np.int64, np.bool_]
NO_BOOL = DTYPES[:-1]


def _q(dtype, q="auto"):
    if q == "auto":
        q = Q8.get(np.dtype(dtype))
    return {} if q is None else dict(scale=q[0], zero_point=q[1])


def _random(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype) == np.bool_:
        return rng.integers(0, 2, size=shape).astype(bool)
    if np.dtype(dtype).kind == "f":
        return rng.uniform(-10, 10, size=shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -1000), min(info.max, 1000) + 1, size=shape,
                        dtype=np.int64).astype(dtype)


class Op:
    """A one-op model: data inputs (random), index inputs (constant or run-time), outputs."""

    def __init__(self, seed: int = 0):
        self.b = ModelBuilder()
        self.ins, self.values, self.seed = [], [], seed

    def data(self, shape, dtype, q="auto"):
        self.ins.append(self.b.add_input(shape, dtype, **_q(dtype, q)))
        self.values.append(_random(shape, dtype, self.seed + len(self.values)))
        return self

    def index(self, value, dtype=np.int32, runtime=False):
        value = np.asarray(value, dtype)
        if runtime:
            self.ins.append(self.b.add_input(value.shape, dtype))
            self.values.append(value)
        else:
            self.ins.append(self.b.add_constant(value))
        return self

    def omitted(self):
        self.ins.append(-1)
        return self

    def run(self, opname, outputs, **options):
        """outputs: list of (shape, dtype[, q])."""
        outs = [self.b.add_tensor(o[0], o[1], **_q(o[1], *o[2:])) for o in outputs]
        self.b.add_op(opname, self.ins, outs, **options)
        for o in outs:
            self.b.mark_output(o)
        return check_against_litert(self.b.build(), inputs=self.values)


# -- CONCATENATION -----------------------------------------------------------------------------

CONCATS = [
    ([(2, 3, 4), (2, 5, 4)], 1),
    ([(2, 3, 4), (2, 3, 1), (2, 3, 7)], -1),
    ([(1, 5, 7, 3), (1, 5, 7, 5)], 3),
    ([(2, 5, 7, 3), (3, 5, 7, 3)], 0),
    ([(1, 2, 3, 4, 5), (1, 2, 1, 4, 5)], -3),
    ([(7,), (1,), (3,)], 0),
]


@pytest.mark.parametrize("case", range(len(CONCATS)))
@pytest.mark.parametrize("dtype", DTYPES + [np.uint32, np.float16])
def test_concatenation(case, dtype):
    shapes, axis = CONCATS[case]
    op = Op(case)
    for s in shapes:
        op.data(s, dtype)
    a = axis % len(shapes[0])
    out = list(shapes[0])
    out[a] = sum(s[a] for s in shapes)
    op.run("CONCATENATION", [(out, dtype)], axis=axis)


# (input quantizations, output quantization) for uint8: equal ones copy, others requantize.
UINT8_QS = [
    ([(0.1, 128), (0.1, 128)], (0.1, 128)),
    ([(0.1, 0), (0.05, 255)], (0.2, 100)),
    ([(0.0078125, 128), (0.0235294, 0), (1.5, 3)], (0.0235294, 0)),
    ([(0.3, 255), (0.003, 7)], (0.003, 255)),
    ([(0.0407254, 126), (0.0412456, 127)], (0.0583774, 125)),
]


@pytest.mark.parametrize("qi", range(len(UINT8_QS)))
@pytest.mark.parametrize("case", [0, 1, 3])
def test_concatenation_uint8_requantizes(qi, case):
    shapes, axis = CONCATS[case]
    qs, qo = UINT8_QS[qi]
    op = Op(qi)
    for s, q in zip(shapes, qs * 3):
        op.data(s, np.uint8, q)
    a = axis % len(shapes[0])
    out = list(shapes[0])
    out[a] = sum(s[a] for s in shapes)
    op.run("CONCATENATION", [(out, np.uint8, qo)], axis=axis)


def test_concatenation_uint8_all_values():
    """Every uint8 value through odd rescalings (rounding ties included)."""
    op = Op()
    op.data((256,), np.uint8, (0.5, 3)).data((256,), np.uint8, (0.25, 250))
    op.values = [np.arange(256, dtype=np.uint8), np.arange(256, dtype=np.uint8)[::-1].copy()]
    op.run("CONCATENATION", [((512,), np.uint8, (1.0, 128))], axis=0)


def test_concatenation_rejects_int8_rescale():
    b = ModelBuilder()
    x = b.add_input([2, 3], np.int8, scale=0.1, zero_point=0)
    y = b.add_input([2, 3], np.int8, scale=0.2, zero_point=0)
    z = b.add_tensor([4, 3], np.int8, scale=0.1, zero_point=0)
    b.add_op("CONCATENATION", [x, y], [z], axis=0)
    b.mark_output(z)
    with pytest.raises(RuntimeError, match="int8 CONCATENATION"):
        Interpreter(model_content=b.build()).allocate_tensors()


# -- PACK / UNPACK -----------------------------------------------------------------------------

@pytest.mark.parametrize("shape, n, axis", [((3, 4), 2, 0), ((3, 4), 3, 2), ((3, 4), 2, -1),
                                            ((2, 5, 3), 4, 1), ((7,), 1, 0), ((2, 1, 3, 2), 3, -3)])
@pytest.mark.parametrize("dtype", NO_BOOL + [np.uint32])
def test_pack(shape, n, axis, dtype):
    op = Op(n)
    for _ in range(n):
        op.data(shape, dtype)
    a = axis % (len(shape) + 1)
    out = list(shape[:a]) + [n] + list(shape[a:])
    op.run("PACK", [(out, dtype)], values_count=n, axis=axis)


@pytest.mark.parametrize("shape, axis", [((3, 4), 0), ((3, 4), 1), ((2, 5, 3), -1),
                                         ((2, 5, 3), -2), ((4,), 0), ((2, 3, 1, 2), 2)])
@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.float32, np.int16, np.int32, np.bool_,
                                   np.float16])
def test_unpack(shape, axis, dtype):
    a = axis % len(shape)
    out = list(shape[:a]) + list(shape[a + 1:])
    Op(a).data(shape, dtype).run("UNPACK", [(out, dtype)] * shape[a], num=shape[a], axis=axis)


# -- SPLIT / SPLIT_V ---------------------------------------------------------------------------

@pytest.mark.parametrize("shape, axis, n", [((2, 6, 5), 1, 3), ((2, 6, 5), -1, 5),
                                            ((4, 3), 0, 2), ((1, 8, 8, 12), 3, 2),
                                            ((9,), 0, 1), ((2, 2, 3, 2, 6), -1, 3)])
@pytest.mark.parametrize("dtype", NO_BOOL)
@pytest.mark.parametrize("runtime", [False, True])
def test_split(shape, axis, n, dtype, runtime):
    a = axis % len(shape)
    out = list(shape)
    out[a] //= n
    op = Op(n).index(np.int32(axis), runtime=runtime).data(shape, dtype)
    op.run("SPLIT", [(out, dtype)] * n, num_splits=n)


SPLIT_VS = [((2, 7, 5), 1, [2, 4, 1]), ((2, 7, 5), -1, [1, -1, 2]), ((6, 3), 0, [-1]),
            ((1, 4, 4, 10), 3, [3, 0, 7]), ((2, 2, 3, 2, 6), -2, [1, -1])]


# LiteRT cannot return an empty dynamic output, so the empty piece is tested with constants.
@pytest.mark.parametrize("shape, axis, sizes, runtime",
                         [c + (False,) for c in SPLIT_VS] +
                         [c + (True,) for c in SPLIT_VS if 0 not in c[2]])
@pytest.mark.parametrize("dtype", NO_BOOL)
@pytest.mark.parametrize("size_dtype", [np.int32, np.int64])
def test_split_v(shape, axis, sizes, dtype, runtime, size_dtype):
    a = axis % len(shape)
    full = [s if s != -1 else shape[a] - (sum(sizes) + 1) for s in sizes]
    outs = [(list(shape[:a]) + [s] + list(shape[a + 1:]), dtype) for s in full]
    op = Op(len(sizes)).data(shape, dtype).index(sizes, size_dtype, runtime)
    op.index(np.int32(axis), runtime=runtime)
    op.run("SPLIT_V", outs, num_splits=len(sizes))


# -- TRANSPOSE ---------------------------------------------------------------------------------

@pytest.mark.parametrize("shape, perm", [((3, 4), (1, 0)), ((2, 5, 7, 3), (0, 3, 1, 2)),
                                         ((2, 3, 4), (2, 0, 1)), ((1, 2, 3, 4, 5), (4, 2, 0, 3, 1)),
                                         ((2, 1, 3, 2, 2, 3), (5, 3, 1, 0, 4, 2)), ((5,), (0,))])
@pytest.mark.parametrize("dtype", DTYPES + [np.uint16])
def test_transpose(shape, perm, dtype):
    out = [shape[p] for p in perm]
    Op(len(shape)).data(shape, dtype).index(perm).run("TRANSPOSE", [(out, dtype)])


def test_transpose_runtime_perm():
    op = Op().data((2, 3, 4), np.int8).index((1, 2, 0), runtime=True)
    op.run("TRANSPOSE", [((3, 4, 2), np.int8)])


# -- SLICE -------------------------------------------------------------------------------------

SLICES = [((4, 5), (1, 2), (2, 3)), ((4, 5), (0, 1), (-1, -1)),
          ((2, 5, 7, 3), (1, 0, 2, 1), (1, 5, -1, 2)),
          ((3, 2, 3, 2, 4), (0, 1, 1, 0, 1), (3, 1, 2, 2, -1)), ((6,), (5,), (1,))]


@pytest.mark.parametrize("shape, begin, size", SLICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index_dtype, runtime", [(np.int32, False), (np.int64, False),
                                                  (np.int32, True)])
def test_slice(shape, begin, size, dtype, index_dtype, runtime):
    out = [d - b if s == -1 else s for d, b, s in zip(shape, begin, size)]
    op = Op().data(shape, dtype).index(begin, index_dtype, runtime)
    op.index(size, index_dtype, runtime)
    op.run("SLICE", [(out, dtype)])


# -- STRIDED_SLICE -----------------------------------------------------------------------------

# (input shape, begin, end, strides, masks)
STRIDED = [
    ((5, 6), (1, 0), (4, 6), (1, 2), {}),
    ((5, 6), (-1, -2), (0, -7), (-1, -2), {}),                       # negative strides
    ((5, 6), (4, 5), (0, 0), (-2, -1), dict(end_mask=0b11)),
    ((2, 5, 7, 3), (0, 1, 0, 0), (2, 5, 7, 2), (1, 2, 3, 1), dict(begin_mask=0b101)),
    ((2, 5, 7, 3), (1, 2, 0, 1), (0, 0, 0, 0), (1, 1, 1, 1), dict(shrink_axis_mask=0b1001,
                                                                  end_mask=0b0110)),
    ((2, 5, 7, 3), (0, -3), (0, -1), (1, 1), dict(ellipsis_mask=0b01)),   # [..., -3:-1]
    ((2, 5, 7, 3), (1, 0, 2), (2, 0, 5), (1, 1, 2), dict(ellipsis_mask=0b010)),
    ((3, 4), (0, 0, 1), (0, 0, 3), (1, 1, 1), dict(new_axis_mask=0b001, begin_mask=0b010,
                                                   end_mask=0b010)),
    ((3, 4), (0, 0, 0), (3, 0, 4), (1, 1, 2), dict(new_axis_mask=0b010)),
    ((2, 3, 4), (0, 0), (0, 2), (1, -1), dict(ellipsis_mask=0b01, new_axis_mask=0b01)),
    ((2, 5, 7), (-1, 0, 0), (0, 0, 0), (1, 1, 1), dict(shrink_axis_mask=0b001, end_mask=0b110)),
    ((7,), (10,), (-10,), (-3,), {}),                                 # clamped both ends
    ((2, 3, 2, 3, 4), (0, 1, 0, 2, 0), (2, 3, 2, 0, 4), (1, 1, 1, -1, 3), {}),
    ((3, 4, 5), (1, 0, 2), (2, 3, 2), (1, 1, 1), dict(offset=True)),  # end = sizes
    ((4, 4), (0, 0), (0, 0), (1, 1), {}),                             # empty
]


@pytest.mark.parametrize("case", range(len(STRIDED)))
@pytest.mark.parametrize("dtype", DTYPES)
def test_strided_slice(case, dtype):
    shape, begin, end, strides, masks = STRIDED[case]
    op = Op(case).data(shape, dtype).index(begin).index(end).index(strides)
    options = dict(begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0,
                   shrink_axis_mask=0)
    options.update(masks)
    op.run("STRIDED_SLICE", [((1,), dtype)], **options)


@pytest.mark.parametrize("case", [0, 1, 3, 4, 6, 13])
def test_strided_slice_runtime_indices(case):
    shape, begin, end, strides, masks = STRIDED[case]
    op = Op(case).data(shape, np.int8).index(begin, runtime=True).index(end, runtime=True)
    op.index(strides, runtime=True)
    op.run("STRIDED_SLICE", [((1,), np.int8)], **masks)


@pytest.mark.parametrize("begin", [(0, 0, 0), (1, 1, 3), (2, 0, 1), (-1, -4, -2)])
def test_strided_slice_offset_runtime_begin(begin):
    """With offset, end holds sizes: the output shape is static while begin comes at run time."""
    op = Op().data((3, 4, 5), np.uint8).index(begin, runtime=True).index((1, 3, 2))
    op.index((1, 1, 1)).run("STRIDED_SLICE", [((1, 3, 2), np.uint8)], offset=True)


# -- GATHER / GATHER_ND ------------------------------------------------------------------------

# (params shape, indices, axis, batch_dims)
GATHERS = [
    ((5, 3), [4, 0, 2, 2], 0, 0),
    ((2, 5, 7, 3), [[1, 0], [6, 3]], 2, 0),
    ((2, 5, 7, 3), [2, 0, 1], -1, 0),
    ((3, 4), 2, 1, 0),                                  # scalar index drops the axis
    ((2, 5, 3), [[4, 0, 1], [2, 2, 3]], 1, 1),          # batch_dims
    ((2, 3, 4, 5), [[[0, 4], [1, 1], [3, 2]], [[4, 4], [0, 0], [2, 1]]], 3, 2),
    ((2, 3, 4, 5), [[1, 3], [0, 2]], 2, -1),            # negative batch_dims
    ((2, 1, 3, 2, 2, 3), [0, 2, 1, 1], 2, 0),
]


@pytest.mark.parametrize("case", range(len(GATHERS)))
@pytest.mark.parametrize("dtype", DTYPES + [np.float16])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64, np.int16])
def test_gather(case, dtype, index_dtype):
    shape, idx, axis, batch_dims = GATHERS[case]
    idx = np.asarray(idx)
    a = axis % len(shape)
    bd = batch_dims % idx.ndim if batch_dims < 0 else batch_dims
    out = list(shape[:a]) + list(idx.shape[bd:]) + list(shape[a + 1:])
    op = Op(case).data(shape, dtype).index(idx, index_dtype, runtime=case % 2 == 1)
    op.run("GATHER", [(out, dtype)], axis=axis, batch_dims=batch_dims)


def test_gather_rejects_out_of_range_index():
    op = Op().data((3, 4), np.int8).index([0, 3], runtime=True)
    b = op.b
    y = b.add_tensor([2, 4], np.int8, **_q(np.int8))
    b.add_op("GATHER", op.ins, [y], axis=0)
    b.mark_output(y)
    it = Interpreter(model_content=b.build())
    it.allocate_tensors()
    it.set_tensor(0, op.values[0])
    it.set_tensor(1, np.asarray([0, 3], np.int32))
    with pytest.raises(ValueError, match="out of bounds"):
        it.invoke()


GATHER_NDS = [
    ((4, 5), [[1, 2], [3, 4], [0, 0]]),
    ((4, 5), [[3], [1]]),
    ((2, 5, 7, 3), [[[1, 4, 6], [0, 0, 0]], [[1, 1, 1], [0, 2, 5]]]),
    ((2, 3, 4), [[[1], [0]]]),
    ((3, 2, 3, 2, 4), [[2, 1, 0, 1]]),
]


@pytest.mark.parametrize("case", range(len(GATHER_NDS)))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64, np.int16])
def test_gather_nd(case, dtype, index_dtype):
    shape, idx = GATHER_NDS[case]
    idx = np.asarray(idx)
    out = list(idx.shape[:-1]) + list(shape[idx.shape[-1]:])
    op = Op(case).data(shape, dtype).index(idx, index_dtype, runtime=case % 2 == 0)
    op.run("GATHER_ND", [(out, dtype)])


# -- TILE / BROADCAST_TO -----------------------------------------------------------------------

@pytest.mark.parametrize("shape, multiples", [((2, 3), (2, 1)), ((1, 5, 7, 3), (2, 1, 1, 3)),
                                              ((3,), (4,)), ((2, 1, 3, 1, 2), (1, 3, 1, 2, 2)),
                                              ((2, 3), (0, 2))])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index_dtype, runtime", [(np.int32, False), (np.int64, False),
                                                  (np.int32, True)])
def test_tile(shape, multiples, dtype, index_dtype, runtime):
    if runtime and 0 in multiples:
        multiples = (1, 2)      # LiteRT cannot return an empty dynamic output
    out = [d * m for d, m in zip(shape, multiples)]
    op = Op().data(shape, dtype).index(multiples, index_dtype, runtime)
    op.run("TILE", [(out, dtype)])


@pytest.mark.parametrize("shape, target", [((3,), (2, 3)), ((1, 3), (4, 3)),
                                           ((2, 1, 3), (2, 5, 3)), ((1, 1, 7, 1), (2, 5, 7, 3)),
                                           ((), (3, 2)), ((2, 1, 3, 1, 2), (2, 2, 3, 2, 2))])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index_dtype, runtime", [(np.int32, False), (np.int64, True)])
def test_broadcast_to(shape, target, dtype, index_dtype, runtime):
    op = Op().data(shape, dtype).index(target, index_dtype, runtime)
    b = op.b
    y = b.add_tensor(target, dtype, **_q(dtype))
    b.add_op("BROADCAST_TO", op.ins, [y], version=2)
    b.mark_output(y)
    check_against_litert(b.build(), inputs=op.values)


# -- DEPTH_TO_SPACE / SPACE_TO_DEPTH -----------------------------------------------------------

BLOCK_DTYPES = [np.int8, np.uint8, np.float32, np.int32, np.int64]


@pytest.mark.parametrize("shape, block", [((1, 2, 3, 4), 2), ((2, 3, 5, 18), 3),
                                          ((1, 1, 1, 12), 2), ((2, 4, 4, 8), 1)])
@pytest.mark.parametrize("dtype", BLOCK_DTYPES)
def test_depth_to_space(shape, block, dtype):
    n, h, w, c = shape
    out = (n, h * block, w * block, c // block ** 2)
    Op().data(shape, dtype).run("DEPTH_TO_SPACE", [(out, dtype)], block_size=block)


@pytest.mark.parametrize("shape, block", [((1, 4, 6, 3), 2), ((2, 6, 9, 5), 3),
                                          ((1, 2, 2, 1), 2), ((2, 4, 4, 8), 1)])
@pytest.mark.parametrize("dtype", BLOCK_DTYPES)
def test_space_to_depth(shape, block, dtype):
    n, h, w, c = shape
    out = (n, h // block, w // block, c * block ** 2)
    Op().data(shape, dtype).run("SPACE_TO_DEPTH", [(out, dtype)], block_size=block)


# -- SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND -----------------------------------------------------

# (input shape, block_shape, paddings)
S2B = [
    ((1, 4, 4, 3), (2, 2), ((0, 0), (0, 0))),
    ((2, 5, 7, 3), (2, 3), ((1, 0), (0, 2))),
    ((1, 3, 3, 1), (2, 2), ((1, 0), (1, 0))),        # dilated-conv style, edge padding
    ((2, 5, 4), (3,), ((0, 1),)),                     # 3-D: one spatial dim
    ((1, 6, 2, 5), (3, 1), ((3, 0), (0, 0))),
]
S2B_TYPES = [(np.int8, (0.05, -128)), (np.int8, (0.1, 37)), (np.uint8, (0.1, 255)),
             (np.uint8, (0.2, 0)), (np.int16, (0.001, 0)), (np.float32, None), (np.int32, None),
             (np.int64, None), (np.float16, None), (np.bool_, None)]


@pytest.mark.parametrize("case", range(len(S2B)))
@pytest.mark.parametrize("ti", range(len(S2B_TYPES)))
def test_space_to_batch_nd(case, ti):
    shape, block, pads = S2B[case]
    dtype, q = S2B_TYPES[ti]
    spatial = [(shape[d + 1] + lo + hi) // k for d, (k, (lo, hi)) in enumerate(zip(block, pads))]
    out = [shape[0] * int(np.prod(block))] + spatial + [shape[-1]]
    op = Op(case).data(shape, dtype, q).index(block).index(pads, runtime=case % 2 == 1)
    op.run("SPACE_TO_BATCH_ND", [(out, dtype, q)])


# (input shape, block_shape, crops)
B2S = [
    ((4, 2, 2, 3), (2, 2), ((0, 0), (0, 0))),
    ((12, 3, 3, 3), (2, 3), ((1, 0), (0, 2))),
    ((8, 2, 2, 1), (2, 2), ((1, 0), (1, 1))),
    ((6, 5, 4), (3,), ((0, 2),)),
    ((6, 2, 2, 5), (3, 1), ((3, 0), (0, 1))),
]


@pytest.mark.parametrize("case", range(len(B2S)))
@pytest.mark.parametrize("ti", range(len(S2B_TYPES)))
def test_batch_to_space_nd(case, ti):
    shape, block, crops = B2S[case]
    dtype, q = S2B_TYPES[ti]
    spatial = [shape[d + 1] * k - lo - hi for d, (k, (lo, hi)) in enumerate(zip(block, crops))]
    out = [shape[0] // int(np.prod(block))] + spatial + [shape[-1]]
    op = Op(case).data(shape, dtype, q).index(block, runtime=case % 2 == 0).index(crops)
    op.run("BATCH_TO_SPACE_ND", [(out, dtype, q)])


# -- REVERSE_V2 --------------------------------------------------------------------------------

@pytest.mark.parametrize("shape, axes", [((5,), [0]), ((3, 4), [1]), ((2, 5, 7, 3), [-1]),
                                         ((2, 5, 7, 3), [2, 1]), ((2, 3, 4, 2, 3), [-3, 1, 3])])
@pytest.mark.parametrize("dtype", DTYPES)
def test_reverse_v2(shape, axes, dtype):
    Op().data(shape, dtype).index(axes).run("REVERSE_V2", [(shape, dtype)])


def test_reverse_v2_rejects_non_contiguous_axes():
    op = Op().data((2, 3, 4), np.int8).index([0, 2])
    y = op.b.add_tensor([2, 3, 4], np.int8, **_q(np.int8))
    op.b.add_op("REVERSE_V2", op.ins, [y])
    op.b.mark_output(y)
    it = Interpreter(model_content=op.b.build())
    it.allocate_tensors()
    it.set_tensor(0, op.values[0])
    with pytest.raises(ValueError, match="not contiguous"):
        it.invoke()


# -- ZEROS_LIKE / FILL / RANGE -----------------------------------------------------------------

@pytest.mark.parametrize("shape", [(2, 5, 7, 3), (7,), ()])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
def test_zeros_like(shape, dtype):
    Op().data(shape, dtype).run("ZEROS_LIKE", [(shape, dtype)])


# A zero-length constant has no buffer (so it is no constant): scalar dims come at run time.
@pytest.mark.parametrize("dims, dims_dtype, runtime",
                         [(d, t, r) for d in [(2, 3), (1, 5, 7, 3), (4,), ()]
                          for t, r in [(np.int32, False), (np.int64, False), (np.int32, True)]
                          if d or r])
@pytest.mark.parametrize("dtype", DTYPES + [np.float16])
def test_fill(dims, dtype, dims_dtype, runtime):
    op = Op(len(dims)).index(dims, dims_dtype, runtime).data((), dtype)
    op.run("FILL", [(dims, dtype)])


RANGES = [
    (np.int32, 0, 10, 3), (np.int32, 10, -5, -4), (np.int32, -3, 4, 1), (np.int64, 5, 6, 7),
    (np.int64, 100, 0, -1), (np.float32, 0.1, 3.3, 0.1), (np.float32, 1.0, -2.5, -0.37),
    (np.float32, -1e3, 1e3, 7.3),
]


@pytest.mark.parametrize("case", range(len(RANGES)))
@pytest.mark.parametrize("runtime", [False, True])
def test_range(case, runtime):
    dtype, start, limit, delta = RANGES[case]
    op = Op()
    for v in (start, limit, delta):
        op.index(v, dtype, runtime)
    op.run("RANGE", [((1,), dtype)])


# -- the ops of this family inside real models -------------------------------------------------

FAMILY_MODULES = ("data_movement", "pad", "shape_ops")
FAMILY_OPS = {name for (name, _), e in KERNELS.items()
              if e.fn.__module__.rsplit(".", 1)[-1] in FAMILY_MODULES}


@pytest.mark.parametrize("name, expected", [
    ("split_concat_uint8.tflite", {"SPLIT", "CONCATENATION"}),
    ("edgetpu_deeplab_slim_257_os16_full_integer_quant.tflite",
     {"SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND", "CONCATENATION", "RESHAPE"}),
    ("shufflenet_quant.tflite", {"SPLIT", "TRANSPOSE", "PAD", "PADV2", "CONCATENATION"}),
    ("squeezenet_v1_1_quant.tflite", {"TRANSPOSE", "PADV2", "PAD", "CONCATENATION"}),
    ("yolov8n_full_integer_quant.tflite", {"STRIDED_SLICE", "CONCATENATION", "PAD", "TRANSPOSE"}),
    ("coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite", {"RESHAPE", "CONCATENATION"}),
    ("traffic_model_lstm_ssd.tflite", {"SPLIT", "CONCATENATION", "RESHAPE"}),
    ("id_model_int8.tflite", {"EXPAND_DIMS", "PAD"}),
])
def test_real_model_ops(name, expected):
    """Each op of this family in a real model, fed LiteRT's own intermediate tensors, gives
    LiteRT's output bit for bit (independent of the other op families' kernels)."""
    lite = litert()
    path = str(shared_model(name))
    it = lite.Interpreter(model_path=path, experimental_preserve_all_tensors=True,
                          experimental_op_resolver_type=lite.OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), random_inputs(it.get_input_details(), 1)):
        it.set_tensor(d["index"], x)
    it.invoke()
    seen = set()
    for op in load_model(path).subgraphs[0].operators:
        if op.opname not in FAMILY_OPS:
            continue
        for t in op.inputs:
            if t is not None:
                t.data = t.constant if t.is_constant else it.get_tensor(t.index)
                t.shape = tuple(t.data.shape)
        result = find_kernel(op).fn(op)
        for t, got in zip(op.outputs, result if isinstance(result, list) else [result]):
            want = it.get_tensor(t.index)
            assert got.dtype == want.dtype and got.shape == want.shape, (op.index, op.opname)
            assert np.array_equal(got, want), "operator %d %s differs" % (op.index, op.opname)
        seen.add(op.opname)
    assert expected <= seen
