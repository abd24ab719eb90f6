"""SCATTER_ND, EMBEDDING_LOOKUP (float, int8/uint8, and hybrid), DYNAMIC_UPDATE_SLICE,
REVERSE_SEQUENCE, MATRIX_DIAG, MATRIX_SET_DIAG, ONE_HOT, the segment reductions,
SPARSE_TO_DENSE, DILATE and EMBEDDING_LOOKUP_SPARSE against LiteRT BUILTIN_REF, with index
inputs constant and at run time."""
from __future__ import annotations

import numpy as np
import pytest

from qrun.modelbuilder import ModelBuilder
from tests.oracle import assert_same, check_against_litert, run_litert, run_qrun
from tests.ops.test_data_movement import Op

SCATTER_TYPES = [np.float32, np.uint8, np.int8, np.int64, np.int32, np.bool_]


@pytest.mark.parametrize("dtype", SCATTER_TYPES)
@pytest.mark.parametrize("shape,indices", [
    ((8,), [[4], [3], [1], [7], [3]]),                 # a duplicate accumulates
    ((4, 5, 3), [[0], [2]]),
    ((2, 3, 5), [[1, 2], [0, 0], [1, 2]]),
    ((2, 3, 5), [[[1, 2, 4], [0, 1, 1]], [[1, 0, 0], [0, 2, 3]]]),
])
@pytest.mark.parametrize("runtime", [False, True])
def test_scatter_nd(dtype, shape, indices, runtime):
    indices = np.asarray(indices, np.int32)
    updates = indices.shape[:-1] + shape[indices.shape[-1]:]
    op = Op(seed=len(shape)).index(indices, runtime=runtime).data(updates, dtype, q=None)
    op.index(np.asarray(shape, np.int32)).run("SCATTER_ND", [(shape, dtype, None)])


@pytest.mark.parametrize("table", [(5, 3), (7, 2, 3), (4, 1)])
@pytest.mark.parametrize("dtype,hybrid,per_row", [
    (np.float32, False, False), (np.int8, False, False), (np.uint8, False, False),
    (np.int8, True, False), (np.uint8, True, False), (np.int8, True, True)])
def test_embedding_lookup(table, dtype, hybrid, per_row):
    rows = table[0]
    rng = np.random.default_rng(rows)
    if dtype == np.float32:
        values = rng.normal(size=table).astype(dtype)
    else:  # uint8 tables wrap: the hybrid lookup reads their bytes as int8
        values = rng.integers(-128, 128, table).astype(dtype)
    scale = rng.uniform(0.01, 0.2, rows) if per_row else 0.037
    q = {} if dtype == np.float32 else dict(scale=scale, zero_point=0)
    b = ModelBuilder()
    ids = b.add_input((6,), np.int32)
    v = b.add_constant(values, **q)
    out_type = np.float32 if hybrid else dtype
    y = b.mark_output(b.add_tensor((6,) + table[1:], out_type,
                                   **({} if hybrid else q)))
    b.add_op("EMBEDDING_LOOKUP", [ids, v], [y])
    check_against_litert(b.build(), inputs=[rng.integers(0, rows, 6).astype(np.int32)])


@pytest.mark.parametrize("dtype", [np.float16, np.int16, np.int32, np.int64, np.uint32,
                                   np.bool_])
@pytest.mark.parametrize("table", [(5, 3), (7, 2, 3)])
def test_embedding_lookup_copies(dtype, table):
    Op(seed=table[0]).index(np.array([4, 0, 2, 2, 1], np.int32), runtime=True).data(
        table, dtype, q=None).run("EMBEDDING_LOOKUP", [((5,) + table[1:], dtype, None)])


UPDATE_SLICE_TYPES = [np.float32, np.float16, np.int8, np.uint8, np.int16, np.int32, np.int64,
                      np.bool_]


@pytest.mark.parametrize("dtype", UPDATE_SLICE_TYPES)
@pytest.mark.parametrize("operand,update,start", [
    ((7,), (3,), [2]), ((7,), (3,), [6]), ((2, 5, 3), (1, 2, 3), [1, 3, 0]),
    ((2, 5, 3), (2, 5, 3), [0, 0, 0]), ((3, 4, 5, 2), (2, 2, 3, 1), [-1, 3, 4, 1])])
@pytest.mark.parametrize("index_type", [np.int32, np.int64])
def test_dynamic_update_slice(dtype, operand, update, start, index_type):
    Op(seed=len(operand)).data(operand, dtype).data(update, dtype).index(
        start, index_type, runtime=True).run("DYNAMIC_UPDATE_SLICE", [(operand, dtype)])


REVERSE_TYPES = [np.float32, np.int16, np.int32, np.int64, np.uint8]


@pytest.mark.parametrize("dtype", REVERSE_TYPES)
@pytest.mark.parametrize("shape,seq_dim,batch_dim", [
    ((3, 5), 1, 0), ((5, 3), 0, 1), ((2, 7, 3), 1, 0), ((4, 3, 6, 2), 2, 1),
    ((4, 3, 6, 2), 0, 3)])
@pytest.mark.parametrize("index_type", [np.int32, np.int64])
def test_reverse_sequence(dtype, shape, seq_dim, batch_dim, index_type):
    rng = np.random.default_rng(seq_dim)
    lengths = rng.integers(0, shape[seq_dim] + 1, shape[batch_dim])
    Op(seed=len(shape)).data(shape, dtype).index(lengths, index_type, runtime=True).run(
        "REVERSE_SEQUENCE", [(shape, dtype)], seq_dim=seq_dim, batch_dim=batch_dim)


DIAG_TYPES = [np.float32, np.int8, np.uint8, np.int16, np.int32, np.int64]


@pytest.mark.parametrize("dtype", DIAG_TYPES)
@pytest.mark.parametrize("shape", [(1,), (5,), (2, 3), (2, 3, 4)])
def test_matrix_diag(dtype, shape):
    Op().data(shape, dtype).run("MATRIX_DIAG", [(shape + shape[-1:], dtype)])


@pytest.mark.parametrize("dtype", DIAG_TYPES)
@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (2, 5, 3), (2, 1, 4, 4)])
def test_matrix_set_diag(dtype, shape):
    diag = shape[:-2] + (min(shape[-2:]),)
    Op(seed=3).data(shape, dtype).data(diag, dtype).run("MATRIX_SET_DIAG", [(shape, dtype)])


ONE_HOT_TYPES = [np.float32, np.int32, np.int64, np.int8, np.uint8, np.bool_]


@pytest.mark.parametrize("dtype", ONE_HOT_TYPES)
@pytest.mark.parametrize("shape,axis", [((5,), -1), ((5,), 0), ((2, 3), 1), ((2, 3, 2), -1),
                                        ((2, 3, 2), 0)])
@pytest.mark.parametrize("index_type", [np.int32, np.int64])
def test_one_hot(dtype, shape, axis, index_type):
    depth = 4
    rng = np.random.default_rng(len(shape))
    indices = rng.integers(-1, depth + 1, shape).astype(index_type)
    on, off = (np.array(True), np.array(False)) if dtype == np.bool_ else \
        (np.array(7, dtype), np.array(2, dtype))
    out = list(shape)
    out.insert(len(shape) if axis == -1 else axis, depth)
    b = ModelBuilder()
    ins = [b.add_input(shape, index_type), b.add_constant(np.int32(depth)),
           b.add_constant(on), b.add_constant(off)]
    y = b.mark_output(b.add_tensor(out, dtype))
    b.add_op("ONE_HOT", ins, [y], axis=axis)
    check_against_litert(b.build(), inputs=[indices])


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
@pytest.mark.parametrize("data,ids", [((5,), [0, 0, 1, 2, 2]), ((4, 3), [0, 1, 1, 2]),
                                      ((6, 2, 3), [0, 0, 0, 1, 2, 2])])
@pytest.mark.parametrize("runtime", [False, True])
def test_segment_sum(dtype, data, ids, runtime):
    # BUILTIN_REF has no SEGMENT_SUM; LiteRT's builtin kernel is its only implementation.
    op = Op(seed=2).data(data, dtype).index(ids, runtime=runtime)
    out = op.b.mark_output(op.b.add_tensor((max(ids) + 1,) + data[1:], dtype))
    op.b.add_op("SEGMENT_SUM", op.ins, [out])
    model = op.b.build()
    assert_same(run_qrun(model, op.values), run_litert(model, op.values, resolver="BUILTIN"))


@pytest.mark.parametrize("opname", ["UNSORTED_SEGMENT_SUM", "UNSORTED_SEGMENT_PROD",
                                    "UNSORTED_SEGMENT_MAX", "UNSORTED_SEGMENT_MIN"])
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
@pytest.mark.parametrize("data,ids,count", [
    ((5,), [3, 0, 3, 1, 0], 5), ((4, 3), [2, 0, 2, 2], 3), ((6, 2, 3), [1, 0, 1, 3, 0, 0], 4),
    ((3, 4), [[0, 1, 0, 2], [2, 2, 1, 0], [1, 1, 1, 1]], 3)])
def test_unsorted_segment(opname, dtype, data, ids, count):
    ids = np.asarray(ids, np.int32)
    out = (count,) + data[ids.ndim:]
    Op(seed=5).data(data, dtype).index(ids, runtime=True).index(np.int32(count)).run(
        opname, [(out, dtype)])


SPARSE_TYPES = [np.float32, np.int32, np.int64, np.int8, np.uint8]


@pytest.mark.parametrize("dtype", SPARSE_TYPES)
@pytest.mark.parametrize("indices,shape", [
    ([1, 4, 6], [8]), ([[0, 1], [2, 3], [1, 0]], [3, 5]),
    ([[0, 1, 2], [1, 0, 0]], [2, 2, 3]), ([[0, 0, 1, 2], [1, 2, 0, 1]], [2, 3, 2, 3])])
@pytest.mark.parametrize("scalar_value", [False, True])
@pytest.mark.parametrize("index_type", [np.int32, np.int64])
def test_sparse_to_dense(dtype, indices, shape, scalar_value, index_type):
    indices = np.asarray(indices, index_type)
    b = ModelBuilder()
    ins = [b.add_input(indices.shape, index_type), b.add_constant(np.asarray(shape, np.int32)),
           b.add_input(() if scalar_value else indices.shape[:1], dtype),
           b.add_constant(np.asarray(3, dtype))]
    y = b.mark_output(b.add_tensor(shape, dtype))
    b.add_op("SPARSE_TO_DENSE", ins, [y], validate_indices=False)
    rng = np.random.default_rng(len(shape))
    values = rng.integers(-100 if dtype != np.uint8 else 0, 100,
                          () if scalar_value else indices.shape[:1]).astype(dtype)
    check_against_litert(b.build(), inputs=[indices, values])


DILATE_TYPES = [np.float32, np.float16, np.int8, np.uint8, np.int16, np.int32, np.int64,
                np.bool_]


@pytest.mark.parametrize("dtype", DILATE_TYPES)
@pytest.mark.parametrize("shape,dilations", [((5,), [3]), ((2, 3, 4), [1, 2, 3]),
                                             ((1, 4, 3, 2), [2, 1, 1, 4])])
def test_dilate(dtype, shape, dilations):
    out = tuple((n - 1) * d + 1 for n, d in zip(shape, dilations))
    pad = np.asarray(True if dtype == np.bool_ else 5, dtype)
    Op(seed=len(shape)).data(shape, dtype, q=None).index(dilations).index(pad, dtype).run(
        "DILATE", [(out, dtype, None)])


@pytest.mark.parametrize("combiner", [0, 1, 2])
@pytest.mark.parametrize("table", [(6, 4), (5, 2, 3)])
@pytest.mark.parametrize("indices,dense", [
    ([[0, 0], [0, 1], [2, 0], [2, 1], [2, 2]], [3, 3]),
    ([[0, 1, 0], [0, 1, 1], [1, 0, 0], [0, 1, 2]], [2, 2, 3]),   # bucket (0, 1) in two runs
    ([[0], [1], [2]], [4])])
def test_embedding_lookup_sparse(combiner, table, indices, dense):
    indices = np.asarray(indices, np.int32)
    n = len(indices)
    rng = np.random.default_rng(combiner)
    b = ModelBuilder()
    ins = [b.add_input((n,), np.int32), b.add_constant(indices),
           b.add_constant(np.asarray(dense, np.int32)), b.add_input((n,), np.float32),
           b.add_constant(rng.normal(size=table).astype(np.float32))]
    y = b.mark_output(b.add_tensor(tuple(dense[:-1]) + table[1:], np.float32))
    b.add_op("EMBEDDING_LOOKUP_SPARSE", ins, [y], combiner=combiner)
    check_against_litert(b.build(), inputs=[rng.integers(0, table[0], n).astype(np.int32),
                                            rng.uniform(0.5, 2, n).astype(np.float32)])


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int8, np.uint8, np.int16,
                                   np.int32, np.int64, np.uint32, np.bool_])
@pytest.mark.parametrize("table", [(5,), (6, 3), (4, 2, 3)])
def test_hashtable_lookup(dtype, table):
    rng = np.random.default_rng(table[0])
    keys = np.sort(rng.choice(np.arange(-20, 20), table[0], replace=False)).astype(np.int32)
    lookup = np.concatenate([keys[::2], [-100, 100, keys[-1] + 1]]).astype(np.int32)
    rng.shuffle(lookup)
    op = Op(seed=3).index(lookup, runtime=True).index(keys).data(table, dtype, q=None)
    op.run("HASHTABLE_LOOKUP", [((len(lookup),) + table[1:], dtype, None),
                                ((len(lookup),), np.uint8, None)])


def test_hashtable_lookup_strings():
    b = ModelBuilder()
    lookup = b.add_input((5,), np.int32)
    keys = b.add_constant(np.array([1, 4, 9, 16], np.int32))
    values = b.add_input((4,), np.bytes_, type_code=5)
    out = b.mark_output(b.add_tensor((5,), np.bytes_, type_code=5))
    hits = b.mark_output(b.add_tensor((5,), np.uint8))
    b.add_op("HASHTABLE_LOOKUP", [lookup, keys, values], [out, hits])
    check_against_litert(b.build(), inputs=[np.array([9, 2, 1, 16, 17], np.int32),
                                            np.array([b"one", b"four", b"nine", b""], object)])


# (opname, data input or None, run-time inputs, output shape and dtype, options): ops whose
# output shape comes from an input known only at invoke.
RUNTIME_CASES = [
    ("ONE_HOT", None, [np.array([0, 3, 1], np.int32), np.int32(5), np.float32(2),
                       np.float32(-1)], ((3, 5), np.float32), {}),
    ("SCATTER_ND", None, [np.array([[1], [3]], np.int32), np.ones((2, 2), np.float32),
                          np.array([4, 2], np.int32)], ((4, 2), np.float32), {}),
    ("SPARSE_TO_DENSE", None, [np.array([[0, 1], [2, 2]], np.int32), np.array([3, 4], np.int32),
                               np.array([5, 6], np.float32), np.float32(1)],
     ((3, 4), np.float32), {"validate_indices": False}),
    ("UNSORTED_SEGMENT_SUM", ((5, 2), np.float32),
     [np.array([0, 2, 2, 1, 0], np.int32), np.int32(4)], ((4, 2), np.float32), {}),
    ("DILATE", ((3, 2), np.int32), [np.array([2, 3], np.int32), np.int32(-7)],
     ((5, 4), np.int32), {}),
]


@pytest.mark.parametrize("case", RUNTIME_CASES, ids=lambda c: c[0])
def test_outputs_sized_at_run_time(case):
    opname, data, inputs, out, options = case
    op = Op(seed=1)
    if data is not None:
        op.data(data[0], data[1], q=None)
    for value in inputs:
        op.index(value, value.dtype, runtime=True)
    op.run(opname, [(out[0], out[1], None)], **options)
