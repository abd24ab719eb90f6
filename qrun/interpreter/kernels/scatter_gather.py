"""Ops that write or read data at computed positions: SCATTER_ND, EMBEDDING_LOOKUP,
DYNAMIC_UPDATE_SLICE, REVERSE_SEQUENCE, MATRIX_DIAG, MATRIX_SET_DIAG, ONE_HOT,
SPARSE_TO_DENSE, DILATE, EMBEDDING_LOOKUP_SPARSE, HASHTABLE_LOOKUP (the legacy sorted-key
lookup, not the resource hash tables), and the segment reductions SEGMENT_SUM and
UNSORTED_SEGMENT_SUM/MAX/MIN/PROD.

Reductions into segments use numpy's unbuffered ufunc.at, which visits the elements in
order as TFLite's loops do, so float sums and products round identically. The only other
arithmetic is hybrid EMBEDDING_LOOKUP: int8 rows times the (per-row) scale in double.
"""
from __future__ import annotations

import numpy as np

from ..registry import register
from .shape_ops import known, normalize_axis

EMBEDDING_TYPES = (np.float32, np.float16, np.int8, np.uint8, np.int16, np.int32, np.int64,
                   np.uint32, np.bool_)
SCATTER_TYPES = (np.float32, np.uint8, np.int8, np.int64, np.int32, np.bool_)
UPDATE_SLICE_TYPES = (np.float32, np.float16, np.int8, np.uint8, np.int16, np.int32, np.int64,
                      np.bool_)
REVERSE_TYPES = (np.float32, np.int16, np.int32, np.int64, np.uint8)
DIAG_TYPES = (np.float32, np.int8, np.uint8, np.int16, np.int32, np.int64)
ONE_HOT_TYPES = (np.float32, np.int32, np.int64, np.int8, np.uint8, np.bool_)
SEGMENT_TYPES = (np.float32, np.int32)
SPARSE_TYPES = (np.float32, np.int32, np.int64, np.int8, np.uint8)
DILATE_TYPES = (np.float32, np.float16, np.int8, np.uint8, np.int16, np.int32, np.int64,
                np.bool_)


def _scalar(value) -> int:
    return int(np.asarray(value).reshape(-1)[0])


# -- SCATTER_ND --------------------------------------------------------------------------------

def scatter_nd_shape(op):
    indices, updates = op.inputs[0].shape, op.inputs[1].shape
    if not indices:
        raise ValueError("SCATTER_ND indices must have rank >= 1")
    shape = known(op, 2)
    if shape is None:
        return None
    shape = tuple(int(d) for d in np.asarray(shape[0]).reshape(-1))
    depth = indices[-1]
    expected = tuple(indices[:-1]) + shape[depth:]
    if depth > len(shape) or tuple(updates) != expected:
        raise ValueError("SCATTER_ND updates %s do not fit indices %s into shape %s"
                         % (list(updates), list(indices), list(shape)))
    return [shape]


@register("SCATTER_ND", SCATTER_TYPES, shape=scatter_nd_shape, dtype_input=1)
def scatter_nd(op):
    indices, updates = op.inputs[0].data.astype(np.int64), op.inputs[1].data
    shape = tuple(int(d) for d in np.asarray(op.inputs[2].data).reshape(-1))
    depth = indices.shape[-1]
    flat = indices.reshape(-1, depth)
    if np.any(flat < 0) or np.any(flat >= np.asarray(shape[:depth], np.int64)):
        raise ValueError("SCATTER_ND index out of bounds for shape %s" % list(shape))
    out = np.zeros(shape, updates.dtype)
    # Duplicate positions accumulate, as the reference adds each update in turn.
    np.add.at(out, tuple(flat.T), updates.reshape((len(flat),) + shape[depth:]))
    return out


# -- EMBEDDING_LOOKUP --------------------------------------------------------------------------

def embedding_lookup_shape(op):
    ids, table = op.inputs[0], op.inputs[1]
    if len(ids.shape) != 1 or ids.dtype != np.int32:
        raise ValueError("EMBEDDING_LOOKUP needs a 1-D int32 lookup")
    if len(table.shape) < 2:
        raise ValueError("EMBEDDING_LOOKUP needs a value of rank >= 2")
    return [tuple(ids.shape) + tuple(table.shape[1:])]


@register("EMBEDDING_LOOKUP", EMBEDDING_TYPES, shape=embedding_lookup_shape, dtype_input=1)
def embedding_lookup(op):
    ids, table = op.inputs[0].data, op.inputs[1]
    rows = table.data.shape[0]
    if np.any(ids < 0) or np.any(ids >= rows):
        raise ValueError("EMBEDDING_LOOKUP index out of bounds [0, %d)" % rows)
    picked = table.data[ids]
    if op.outputs[0].dtype != np.float32 or table.dtype == np.float32:
        return picked
    # Hybrid: EvalHybrid reads the bytes as int8 (also for uint8 tables) and scales them
    # by the tensor's scale, or by each row's own scale when quantized per row.
    scales = np.asarray(table.quantization.scales, np.float32).astype(np.float64)
    factor = scales[ids] if len(scales) > 1 else np.full(len(ids), scales[0])
    rows_int8 = picked.view(np.int8).astype(np.float64)
    return (rows_int8 * factor.reshape((-1,) + (1,) * (picked.ndim - 1))).astype(np.float32)


# -- DYNAMIC_UPDATE_SLICE ----------------------------------------------------------------------

def dynamic_update_slice_shape(op):
    operand, update, start = op.inputs[0].shape, op.inputs[1].shape, op.inputs[2].shape
    if len(operand) != len(update) or any(u > o for u, o in zip(update, operand)):
        raise ValueError("DYNAMIC_UPDATE_SLICE update %s does not fit operand %s"
                         % (list(update), list(operand)))
    if tuple(start) != (len(operand),):
        raise ValueError("DYNAMIC_UPDATE_SLICE start_indices must be [%d], got %s"
                         % (len(operand), list(start)))
    return [tuple(operand)]


@register("DYNAMIC_UPDATE_SLICE", UPDATE_SLICE_TYPES, shape=dynamic_update_slice_shape)
def dynamic_update_slice(op):
    operand, update = op.inputs[0].data, op.inputs[1].data
    start = np.asarray(op.inputs[2].data, np.int64).reshape(-1)
    # Start indices are clamped so that the update lies inside the operand.
    start = np.clip(start, 0, np.asarray(operand.shape) - np.asarray(update.shape))
    out = operand.copy()
    out[tuple(slice(s, s + n) for s, n in zip(start, update.shape))] = update
    return out


# -- REVERSE_SEQUENCE --------------------------------------------------------------------------

def _seq_batch_dims(op):
    rank = len(op.inputs[0].shape)
    seq = normalize_axis(getattr(op.options, "seq_dim", 0), rank, "REVERSE_SEQUENCE seq_dim")
    batch = normalize_axis(getattr(op.options, "batch_dim", 0), rank,
                           "REVERSE_SEQUENCE batch_dim")
    if seq == batch:
        raise ValueError("REVERSE_SEQUENCE seq_dim and batch_dim are both %d" % seq)
    return seq, batch


def reverse_sequence_shape(op):
    seq, batch = _seq_batch_dims(op)
    if tuple(op.inputs[1].shape) != (op.inputs[0].shape[batch],):
        raise ValueError("REVERSE_SEQUENCE seq_lengths must be [%d]" % op.inputs[0].shape[batch])
    return [tuple(op.inputs[0].shape)]


@register("REVERSE_SEQUENCE", REVERSE_TYPES, shape=reverse_sequence_shape)
def reverse_sequence(op):
    x = op.inputs[0].data
    lengths = np.asarray(op.inputs[1].data, np.int64)
    seq, batch = _seq_batch_dims(op)
    if np.any(lengths < 0) or np.any(lengths > x.shape[seq]):
        raise ValueError("REVERSE_SEQUENCE seq_lengths outside [0, %d]" % x.shape[seq])
    i = np.arange(x.shape[seq])[None, :]
    source = np.where(i < lengths[:, None], lengths[:, None] - 1 - i, i)
    grid = [1] * x.ndim
    grid[batch], grid[seq] = x.shape[batch], x.shape[seq]
    if batch > seq:
        source = source.T
    source = np.broadcast_to(source.reshape(grid), x.shape)
    return np.take_along_axis(x, source, axis=seq)


# -- MATRIX_DIAG / MATRIX_SET_DIAG -------------------------------------------------------------

def matrix_diag_shape(op):
    shape = tuple(op.inputs[0].shape)
    if not shape:
        raise ValueError("MATRIX_DIAG needs an input of rank >= 1")
    return [shape + shape[-1:]]


@register("MATRIX_DIAG", DIAG_TYPES, shape=matrix_diag_shape)
def matrix_diag(op):
    d = op.inputs[0].data
    out = np.zeros(d.shape + d.shape[-1:], d.dtype)
    r = np.arange(d.shape[-1])
    out[..., r, r] = d
    return out


def matrix_set_diag_shape(op):
    shape, diag = tuple(op.inputs[0].shape), tuple(op.inputs[1].shape)
    if len(shape) < 2 or diag != shape[:-2] + (min(shape[-2:]),):
        raise ValueError("MATRIX_SET_DIAG diagonal %s does not match input %s"
                         % (list(diag), list(shape)))
    return [shape]


@register("MATRIX_SET_DIAG", DIAG_TYPES, shape=matrix_set_diag_shape)
def matrix_set_diag(op):
    out = op.inputs[0].data.copy()
    r = np.arange(min(out.shape[-2:]))
    out[..., r, r] = op.inputs[1].data
    return out


# -- ONE_HOT -----------------------------------------------------------------------------------

def _one_hot_axis(op) -> int:
    axis = int(getattr(op.options, "axis", -1))
    rank = len(op.inputs[0].shape) + 1
    return rank - 1 if axis == -1 else normalize_axis(axis, rank, "ONE_HOT")


def one_hot_shape(op):
    if op.inputs[2].shape != op.inputs[3].shape or len(op.inputs[2].shape) != 0:
        raise ValueError("ONE_HOT on_value and off_value must be scalars")
    axis = _one_hot_axis(op)
    depth = known(op, 1)
    if depth is None:
        return None
    depth = _scalar(depth[0])
    if depth < 0:
        raise ValueError("ONE_HOT depth %d < 0" % depth)
    shape = tuple(op.inputs[0].shape)
    return [shape[:axis] + (depth,) + shape[axis:]]


@register("ONE_HOT", ONE_HOT_TYPES, shape=one_hot_shape, dtype_input=2)
def one_hot(op):
    indices = np.expand_dims(op.inputs[0].data.astype(np.int64), _one_hot_axis(op))
    depth = _scalar(op.inputs[1].data)
    grid = [1] * indices.ndim
    grid[_one_hot_axis(op)] = depth
    hot = indices == np.arange(depth).reshape(grid)
    return np.where(hot, op.inputs[2].data, op.inputs[3].data).astype(op.outputs[0].dtype)


# -- SEGMENT_SUM / UNSORTED_SEGMENT_* ----------------------------------------------------------

def _check_ids(data_shape, ids_shape, what):
    if tuple(ids_shape) != tuple(data_shape[:len(ids_shape)]) or not ids_shape:
        raise ValueError("%s segment_ids %s do not match data %s"
                         % (what, list(ids_shape), list(data_shape)))


def segment_sum_shape(op):
    data, ids = op.inputs[0].shape, op.inputs[1].shape
    if len(ids) != 1:
        raise ValueError("SEGMENT_SUM segment_ids must be 1-D")
    _check_ids(data, ids, "SEGMENT_SUM")
    value = known(op, 1)
    if value is None:
        return None
    count = int(value[0].max()) + 1 if value[0].size else 0
    return [(count,) + tuple(data[1:])]


@register("SEGMENT_SUM", SEGMENT_TYPES, shape=segment_sum_shape)
def segment_sum(op):
    data, ids = op.inputs[0].data, op.inputs[1].data.astype(np.int64)
    if ids.size and (ids[0] != 0 or np.any((np.diff(ids) != 0) & (np.diff(ids) != 1))):
        raise ValueError("SEGMENT_SUM segment_ids must start at 0 and grow by 0 or 1")
    count = int(ids.max()) + 1 if ids.size else 0
    out = np.zeros((count,) + data.shape[1:], data.dtype)
    np.add.at(out, ids, data)
    return out


def unsorted_segment_shape(op):
    data, ids = op.inputs[0].shape, op.inputs[1].shape
    _check_ids(data, ids, op.opname)
    value = known(op, 2)
    if value is None:
        return None
    return [(_scalar(value[0]),) + tuple(data[len(ids):])]


def _unsorted_segment(op, ufunc, initial):
    data, ids = op.inputs[0].data, op.inputs[1].data.astype(np.int64)
    count = _scalar(op.inputs[2].data)
    if ids.size and ids.max() >= count:
        raise ValueError("%s segment id %d >= num_segments %d" % (op.opname, ids.max(), count))
    out = np.full((count,) + data.shape[ids.ndim:], initial(data.dtype), data.dtype)
    keep = ids >= 0  # negative ids drop their rows
    ufunc.at(out, ids[keep], data[keep])
    return out


def _lowest(dtype):
    return np.finfo(dtype).min if dtype.kind == "f" else np.iinfo(dtype).min


def _highest(dtype):
    return np.finfo(dtype).max if dtype.kind == "f" else np.iinfo(dtype).max


@register("UNSORTED_SEGMENT_SUM", SEGMENT_TYPES, shape=unsorted_segment_shape)
def unsorted_segment_sum(op):
    return _unsorted_segment(op, np.add, lambda dt: 0)


@register("UNSORTED_SEGMENT_PROD", SEGMENT_TYPES, shape=unsorted_segment_shape)
def unsorted_segment_prod(op):
    return _unsorted_segment(op, np.multiply, lambda dt: 1)


@register("UNSORTED_SEGMENT_MAX", SEGMENT_TYPES, shape=unsorted_segment_shape)
def unsorted_segment_max(op):
    return _unsorted_segment(op, np.maximum, _lowest)


@register("UNSORTED_SEGMENT_MIN", SEGMENT_TYPES, shape=unsorted_segment_shape)
def unsorted_segment_min(op):
    return _unsorted_segment(op, np.minimum, _highest)


# -- SPARSE_TO_DENSE ---------------------------------------------------------------------------


def sparse_to_dense_shape(op):
    indices, shape_t, values = op.inputs[0].shape, op.inputs[1].shape, op.inputs[2].shape
    if len(indices) > 2 or len(shape_t) != 1 or len(values) > 1:
        raise ValueError("SPARSE_TO_DENSE needs indices of rank <= 2, a 1-D output_shape and "
                         "values of rank <= 1")
    if len(indices) == 2 and indices[1] != shape_t[0]:
        raise ValueError("SPARSE_TO_DENSE indices %s do not match a rank-%d output"
                         % (list(indices), shape_t[0]))
    if len(indices) < 2 and shape_t[0] != 1:
        raise ValueError("SPARSE_TO_DENSE with 0-D or 1-D indices makes a 1-D output")
    if shape_t[0] > 4:
        raise ValueError("SPARSE_TO_DENSE output rank %d > 4" % shape_t[0])
    value = known(op, 1)
    return None if value is None else [tuple(int(d) for d in np.asarray(value[0]).reshape(-1))]


@register("SPARSE_TO_DENSE", SPARSE_TYPES, shape=sparse_to_dense_shape, dtype_input=2)
def sparse_to_dense(op):
    shape = tuple(int(d) for d in np.asarray(op.inputs[1].data).reshape(-1))
    indices = np.asarray(op.inputs[0].data, np.int64).reshape(-1, len(shape))
    values, default = op.inputs[2].data, op.inputs[3].data
    if np.any(indices < 0) or np.any(indices >= np.asarray(shape, np.int64)):
        raise ValueError("SPARSE_TO_DENSE index out of bounds for shape %s" % list(shape))
    out = np.full(shape, np.asarray(default).reshape(-1)[0], values.dtype)
    # Written in order, so a repeated index keeps its last value.
    out[tuple(indices.T)] = values.reshape(-1)[0] if values.ndim == 0 else values
    return out


# -- DILATE ------------------------------------------------------------------------------------

def _dilated(shape, dilations) -> tuple:
    return tuple(0 if n == 0 else (n - 1) * int(d) + 1 for n, d in zip(shape, dilations))


def dilate_shape(op):
    shape = tuple(op.inputs[0].shape)
    if tuple(op.inputs[1].shape) != (len(shape),):
        raise ValueError("DILATE dilations must be [%d]" % len(shape))
    value = known(op, 1)
    if value is None:
        return None
    dilations = np.asarray(value[0]).reshape(-1)
    if np.any(dilations < 1):
        raise ValueError("DILATE dilations must be >= 1, got %s" % dilations.tolist())
    return [_dilated(shape, dilations)]


@register("DILATE", DILATE_TYPES, shape=dilate_shape)
def dilate(op):
    x, dilations = op.inputs[0].data, np.asarray(op.inputs[1].data).reshape(-1)
    out = np.full(_dilated(x.shape, dilations), np.asarray(op.inputs[2].data).reshape(-1)[0],
                  x.dtype)
    out[tuple(slice(None, None, int(d)) for d in dilations)] = x
    return out


# -- EMBEDDING_LOOKUP_SPARSE -------------------------------------------------------------------

def embedding_lookup_sparse_shape(op):
    ids, indices, dense, weights, table = (t.shape for t in op.inputs[:5])
    if len(ids) != 1 or len(indices) != 2 or len(dense) != 1 or len(weights) != 1 or \
            len(table) < 2 or not indices[0] == ids[0] == weights[0] or dense[0] != indices[1]:
        raise ValueError("EMBEDDING_LOOKUP_SPARSE needs ids [N], indices [N, R], dense_shape "
                         "[R], weights [N] and a value of rank >= 2")
    value = known(op, 2)
    if value is None:
        return None
    dense = tuple(int(d) for d in np.asarray(value[0]).reshape(-1))
    return [dense[:-1] + tuple(table[1:])]


@register("EMBEDDING_LOOKUP_SPARSE", (np.float32,), shape=embedding_lookup_sparse_shape,
          dtype_input=4)
def embedding_lookup_sparse(op):
    ids, indices, dense, weights, table = (t.data for t in op.inputs[:5])
    dense = [int(d) for d in np.asarray(dense).reshape(-1)]
    if np.any(ids < 0) or np.any(ids >= table.shape[0]):
        raise ValueError("EMBEDDING_LOOKUP_SPARSE id out of bounds [0, %d)" % table.shape[0])
    positions = indices[:, :-1].astype(np.int64)  # the last index column selects nothing
    if np.any(positions < 0) or np.any(positions >= np.asarray(dense[:-1], np.int64)):
        raise ValueError("EMBEDDING_LOOKUP_SPARSE index out of bounds of %s" % dense)
    out = np.zeros((int(np.prod(dense[:-1], dtype=np.int64)),) + table.shape[1:], np.float64)
    if len(ids):
        bucket = np.ravel_multi_index(tuple(positions.T), dense[:-1]) if dense[:-1] else \
            np.zeros(len(ids), np.int64)
        # The kernel combines each run of consecutive equal buckets on its own: it adds the
        # run's weighted rows to the bucket, then divides the whole bucket by the run's
        # divisor (so a bucket met again divides what earlier runs left there too).
        starts = np.flatnonzero(np.concatenate([[True], bucket[1:] != bucket[:-1]]))
        w = weights.astype(np.float32)
        rows = table[ids].astype(np.float64) * w.reshape((-1,) + (1,) * (table.ndim - 1))
        sums = np.add.reduceat(rows, starts, axis=0)
        combiner = int(getattr(op.options, "combiner", 0))  # SUM, MEAN, SQRTN
        divisor = np.ones(len(starts))
        if combiner:
            divisor = (np.add.reduceat(w, starts) if combiner == 1 else
                       np.sqrt(np.add.reduceat(w * w, starts))).astype(np.float64)
        divisor = divisor.reshape((-1,) + (1,) * (sums.ndim - 1))
        run_bucket = bucket[starts]
        # Runs of the same bucket are applied in order, one round per repetition.
        order = np.argsort(run_bucket, kind="stable")
        first = np.concatenate([[True], run_bucket[order][1:] != run_bucket[order][:-1]])
        group_start = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
        repeat = np.empty(len(order), np.int64)
        repeat[order] = np.arange(len(order)) - group_start
        for r in range(int(repeat.max()) + 1):
            sel = repeat == r
            out[run_bucket[sel]] = (out[run_bucket[sel]] + sums[sel]) / divisor[sel]
    return out.reshape(tuple(dense[:-1]) + table.shape[1:]).astype(np.float32)


# -- HASHTABLE_LOOKUP --------------------------------------------------------------------------

def hashtable_lookup_shape(op):
    lookup, keys, table = (t.shape for t in op.inputs[:3])
    if len(lookup) != 1 or len(keys) != 1 or not table or table[0] != keys[0]:
        raise ValueError("HASHTABLE_LOOKUP needs lookup [N], keys [K] and values [K, ...]")
    return [tuple(lookup) + tuple(table[1:]), tuple(lookup)]


@register("HASHTABLE_LOOKUP", EMBEDDING_TYPES + (object,), shape=hashtable_lookup_shape,
          dtype_input=2)
def hashtable_lookup(op):
    lookup, keys, table = (t.data for t in op.inputs[:3])
    # bsearch over the sorted keys; a miss gives a zero row (an empty string) and hit 0.
    at = np.minimum(np.searchsorted(keys, lookup), max(len(keys) - 1, 0))
    hit = (at < len(keys)) & (keys[at] == lookup) if len(keys) else np.zeros(len(lookup), bool)
    out = table[at] if len(keys) else np.zeros((len(lookup),) + table.shape[1:], table.dtype)
    out = np.where(hit.reshape((-1,) + (1,) * (table.ndim - 1)), out,
                   b"" if table.dtype.hasobject else np.zeros((), table.dtype))
    return [out.astype(table.dtype), hit.astype(np.uint8)]
