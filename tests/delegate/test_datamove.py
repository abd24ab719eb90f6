"""Data movement (reshapes, concatenation, transpose, pads, splits, slicing and gathering
ops) and RESIZE_NEAREST_NEIGHBOR in the delegate: exact (RESIZE_BILINEAR:
test_resize_bilinear.py)."""
from __future__ import annotations

import numpy as np
import pytest

from qrun.delegate.datamove import COPY_BYTES, strided_ranges
from qrun.modelbuilder import ModelBuilder
from tests.delegate.util import check_delegate

DTYPES = (np.int8, np.uint8)
Q = dict(scale=0.05, zero_point=7)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,new_shape", [((2, 3, 4, 5), (6, 20)), ((1, 1, 1, 9), (9,)),
                                             ((7,), (1, 7, 1))])
def test_reshape(dtype, shape, new_shape):
    b = ModelBuilder()
    x = b.add_input(shape, dtype, **Q)
    s = b.add_constant(np.array(new_shape, np.int32))
    y = b.add_tensor(new_shape, dtype, **Q)
    b.add_op("RESHAPE", [x, s], [y], new_shape=list(new_shape))
    b.mark_output(y)
    check_delegate(b.build(), lsb=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_squeeze_and_expand_dims(dtype):
    b = ModelBuilder()
    x = b.add_input((1, 5, 1, 3), dtype, **Q)
    t = b.add_tensor((5, 3), dtype, **Q)
    b.add_op("SQUEEZE", [x], [t], squeeze_dims=[0, 2])
    axis = b.add_constant(np.array([1], np.int32))
    y = b.add_tensor((5, 1, 3), dtype, **Q)
    b.add_op("EXPAND_DIMS", [t, axis], [y])
    b.mark_output(y)
    check_delegate(b.build(), lsb=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes,axis", [
    (((1, 4, 4, 3), (1, 4, 4, 5)), 3), (((1, 4, 4, 3), (1, 4, 4, 5), (1, 4, 4, 1)), -1),
    (((2, 3, 5), (2, 1, 5)), 1), (((1, 2, 2), (3, 2, 2)), 0), (((2, 7), (2, 9)), 1),
    # per-pixel pieces of every size class of the short copies (1..3, 4..8, ..., 33..64, 65+)
    (tuple((2, 3, c) for c in (1, 3, 4, 7, 8, 9, 16, 17, 31, 32, 33, 63, 64, 65, 70)), 2),
    (((1, 30, 20, 5), (1, 30, 20, 16)), 3)])   # 600 rows: strided ranges in pieces
def test_concatenation(dtype, shapes, axis):
    b = ModelBuilder()
    xs = [b.add_input(s, dtype, **Q) for s in shapes]
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    y = b.add_tensor(out, dtype, **Q)
    b.add_op("CONCATENATION", xs, [y], axis=axis)
    b.mark_output(y)
    check_delegate(b.build(), seed=axis + 5, lsb=0)


@pytest.mark.parametrize("shapes,axis", [(((1, 4, 4, 3), (1, 4, 4, 5)), 3),
                                         (((2, 3, 5), (2, 1, 5), (2, 2, 5)), 1)])
def test_concatenation_uint8_rescaled(shapes, axis):
    b = ModelBuilder()
    qs = [dict(scale=0.05, zero_point=7), dict(scale=0.02, zero_point=250),
          dict(scale=0.1, zero_point=0)]
    xs = [b.add_input(s, np.uint8, **q) for s, q in zip(shapes, qs)]
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    y = b.add_tensor(out, np.uint8, scale=0.05, zero_point=7)
    b.add_op("CONCATENATION", xs, [y], axis=axis)
    b.mark_output(y)
    check_delegate(b.build(), seed=axis, lsb=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,perm", [
    ((2, 3, 4, 5), (0, 3, 1, 2)), ((1, 6, 7, 3), (0, 2, 1, 3)), ((5, 9), (1, 0)),
    ((2, 3, 1, 4, 5), (4, 2, 0, 3, 1)), ((2, 2, 3, 2, 3, 2), (0, 1, 5, 2, 3, 4)),
    ((3, 4, 5), (0, 1, 2)), ((2, 3, 4, 5), (1, 0, 2, 3)),
    # 16 x 16 blocks with partial row groups and columns; yolov8n's head layouts
    ((1, 37, 35, 50), (0, 3, 1, 2)), ((2, 4, 33, 70), (0, 1, 3, 2)), ((3, 48, 20), (0, 2, 1)),
    ((1, 16, 16, 32), (0, 3, 1, 2))])
def test_transpose(dtype, shape, perm):
    b = ModelBuilder()
    x = b.add_input(shape, dtype, **Q)
    p = b.add_constant(np.array(perm, np.int32))
    y = b.add_tensor([shape[a] for a in perm], dtype, **Q)
    b.add_op("TRANSPOSE", [x, p], [y])
    b.mark_output(y)
    check_delegate(b.build(), seed=len(shape), lsb=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,pads", [
    ((1, 5, 6, 3), ((0, 0), (1, 1), (1, 1), (0, 0))),
    ((2, 4, 3, 5), ((0, 1), (2, 0), (0, 3), (1, 2))),
    ((7,), ((3, 2),)), ((3, 4), ((0, 0), (0, 0))),
    ((2, 3, 4, 5), ((1, 0), (0, 2), (0, 0), (0, 0))),
    # one image padded on height and width: only the border written (fills and copies)
    ((1, 7, 9, 3), ((0, 0), (0, 2), (3, 0), (0, 0))),
    ((1, 4, 5, 17), ((0, 0), (2, 0), (0, 1), (0, 0))),
    ((1, 6, 1, 2), ((0, 0), (1, 3), (2, 5), (0, 0)))])
@pytest.mark.parametrize("op", ["PAD", "PADV2"])
def test_pad(op, dtype, shape, pads):
    b = ModelBuilder()
    q = dict(scale=0.05, zero_point=-128 if dtype == np.int8 else 255)
    x = b.add_input(shape, dtype, **q)
    inputs = [x, b.add_constant(np.array(pads, np.int32))]
    if op == "PADV2":
        inputs.append(b.add_constant(np.array([3], dtype), **q))
    out = [d + lo + hi for d, (lo, hi) in zip(shape, pads)]
    y = b.add_tensor(out, dtype, **q)
    b.add_op(op, inputs, [y])
    b.mark_output(y)
    check_delegate(b.build(), lsb=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axis,parts", [((1, 4, 4, 6), 3, 2), ((2, 6, 5), 1, 3),
                                              ((9, 4), -2, 3)])
def test_split(dtype, shape, axis, parts):
    b = ModelBuilder()
    a = b.add_constant(np.array(axis, np.int32))
    x = b.add_input(shape, dtype, **Q)
    out = list(shape)
    out[axis] //= parts
    ys = [b.add_tensor(out, dtype, **Q) for _ in range(parts)]
    b.add_op("SPLIT", [a, x], ys, num_splits=parts)
    for y in ys:
        b.mark_output(y)
    check_delegate(b.build(), lsb=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_split_v(dtype):
    b = ModelBuilder()
    x = b.add_input((2, 7, 3), dtype, **Q)
    sizes = b.add_constant(np.array([2, 4, 1], np.int32))
    a = b.add_constant(np.array(1, np.int32))
    ys = [b.add_tensor((2, n, 3), dtype, **Q) for n in (2, 4, 1)]
    b.add_op("SPLIT_V", [x, sizes, a], ys, num_splits=3)
    for y in ys:
        b.mark_output(y)
    check_delegate(b.build(), lsb=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,size", [((1, 4, 5, 3), (8, 10)), ((2, 6, 6, 7), (3, 4)),
                                        ((1, 3, 3, 1), (7, 5))])
@pytest.mark.parametrize("align,half", [(False, False), (True, False), (False, True)])
def test_resize_nearest(dtype, shape, size, align, half):
    b = ModelBuilder()
    x = b.add_input(shape, dtype, **Q)
    s = b.add_constant(np.array(size, np.int32))
    y = b.add_tensor((shape[0],) + size + (shape[3],), dtype, **Q)
    b.add_op("RESIZE_NEAREST_NEIGHBOR", [x, s], [y], align_corners=align,
             half_pixel_centers=half)
    b.mark_output(y)
    check_delegate(b.build(), lsb=0)


def _gather_model(op, dtype, shape, out_shape, params, **options):
    b = ModelBuilder()
    x = b.add_input(shape, dtype, **Q)
    consts = [b.add_constant(np.asarray(p, np.int32)) for p in params]
    y = b.add_tensor(out_shape, dtype, **Q)
    b.add_op(op, [x] + consts, [y], **options)
    b.mark_output(y)
    return b.build()


GATHER_CASES = [
    ("SLICE", (2, 5, 6, 3), (1, 3, 4, 2), [[1, 1, 2, 0], [1, 3, 4, 2]], {}),
    ("STRIDED_SLICE", (1, 8, 9, 4), (1, 4, 3, 4), [[0, 0, 1, 0], [1, 8, 9, 4], [1, 2, 3, 1]], {}),
    ("STRIDED_SLICE", (2, 6, 5), (2, 3, 5), [[0, 5, 0], [2, -7, 5], [1, -2, 1]],
     dict(end_mask=1)),
    ("STRIDED_SLICE", (1, 10, 7), (7,), [[0, 4, 0], [1, 5, 7], [1, 1, 1]],
     dict(shrink_axis_mask=3)),
    ("DEPTH_TO_SPACE", (1, 3, 4, 8), (1, 6, 8, 2), [], dict(block_size=2)),
    ("SPACE_TO_DEPTH", (2, 6, 4, 3), (2, 3, 2, 12), [], dict(block_size=2)),
    ("GATHER", (4, 5, 3), (4, 3, 3), [[4, 0, 2]], dict(axis=1)),
    ("TILE", (2, 3, 1), (4, 3, 5), [[2, 1, 5]], {}),
    ("BROADCAST_TO", (1, 3, 1), (2, 3, 4), [[2, 3, 4]], dict(version=2)),
    ("REVERSE_V2", (3, 4, 5), (3, 4, 5), [[1]], {}),
    ("BATCH_TO_SPACE_ND", (4, 3, 3, 2), (1, 5, 6, 2), [[2, 2], [[0, 1], [0, 0]]], {}),
    ("SPACE_TO_BATCH_ND", (1, 5, 6, 2), (4, 3, 4, 2), [[2, 2], [[0, 1], [1, 1]]], {}),
    ("SPACE_TO_BATCH_ND", (1, 3, 3, 1), (1, 4, 4, 1), [[1, 1], [[1, 0], [1, 0]]], {}),
    ("MIRROR_PAD", (2, 4, 5), (2, 7, 6), [[[0, 0], [1, 2], [0, 1]]], dict(mode="REFLECT")),
    ("MIRROR_PAD", (1, 3, 3, 2), (1, 5, 7, 2), [[[0, 0], [1, 1], [2, 2], [0, 0]]],
     dict(mode="SYMMETRIC")),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", range(len(GATHER_CASES)))
def test_gather_ops(dtype, case):
    op, shape, out_shape, params, options = GATHER_CASES[case]
    check_delegate(_gather_model(op, dtype, shape, out_shape, params, **options), seed=case,
                   lsb=0)


@pytest.mark.parametrize("seed", range(6))
def test_strided_ranges_expand_to_the_ranges(seed):
    """Runs of equal sizes and steps (some longer than a piece, sizes and steps changing
    between and inside them) become strided ranges that expand back to the same ranges."""
    rng = np.random.default_rng(seed)
    pieces, bound = [], 0
    for _ in range(12):
        rows = int(rng.choice([1, 2, 3, 300, 700]))
        start, step = rng.integers(-1000, 1000, 2), rng.integers(-50, 50, 2)
        size = int(rng.choice([1, 3, 16, 5000]))
        pieces.append(np.c_[start + np.arange(rows)[:, None] * step, np.full(rows, size)])
        bound += -(-rows // max(1, COPY_BYTES // size)) + 1
    ranges = np.concatenate(pieces).astype(np.int64)
    strided = strided_ranges(ranges)
    assert (strided[:, 3] * strided[:, 2] <= np.maximum(COPY_BYTES, strided[:, 2])).all()
    assert len(strided) <= bound
    k = [np.arange(r) for r in strided[:, 3]]
    expanded = np.concatenate([np.c_[s[0] + i * s[4], s[1] + i * s[5], np.full(len(i), s[2])]
                               for s, i in zip(strided, k)])
    np.testing.assert_array_equal(expanded, ranges)

