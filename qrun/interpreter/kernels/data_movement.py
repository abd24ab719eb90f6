"""Ops that move data without arithmetic: concatenation and splitting, slicing, transposes,
gathers, tiling and block rearrangements, and the generators FILL, ZEROS_LIKE, RANGE.

Every shape rule follows the op's Prepare in TFLite; when the output shape needs the value
of an input that is not constant, the rule returns None and the kernel sizes the output.
The only arithmetic is uint8 CONCATENATION of inputs whose quantization differs from the
output's, which requantizes in float as reference_ops::ConcatenationWithScaling does.
"""
from __future__ import annotations

from typing import List, NamedTuple

import numpy as np

from ..registry import register
from .common import same_as_input
from .shape_ops import ALL_TYPES, WIDE_TYPES, element_count, known, normalize_axis, values

# The dtypes each kernel of LiteRT accepts, where narrower than WIDE_TYPES.
CONCAT_TYPES = ALL_TYPES + (np.uint32,)
PACK_TYPES = (np.float32, np.int8, np.uint8, np.int16, np.int32, np.int64, np.uint32)
UNPACK_TYPES = (np.float32, np.float16, np.int8, np.uint8, np.int16, np.int32, np.bool_)
SPLIT_TYPES = (np.float32, np.int8, np.uint8, np.int16, np.int32, np.int64)
BLOCK_TYPES = (np.float32, np.int8, np.uint8, np.int32, np.int64)


def _positions(value) -> np.ndarray:
    """An index input's values as a flat int64 vector."""
    return np.asarray(value).astype(np.int64).reshape(-1)


# -- CONCATENATION -----------------------------------------------------------------------------

def _concat_axis(op) -> int:
    rank = len(op.inputs[0].shape)
    return normalize_axis(getattr(op.options, "axis", 0), max(rank, 1), "CONCATENATION")


def concatenation_shape(op):
    if getattr(op.options, "fused_activation_function", 0) != 0:
        raise ValueError("CONCATENATION supports no fused activation")
    shapes = [tuple(t.shape) for t in op.inputs]
    rank = len(shapes[0])
    if any(len(s) != rank for s in shapes):
        raise ValueError("CONCATENATION inputs have different ranks: %s" % shapes)
    out = op.outputs[0]
    if out.dtype == np.int8 and any(t.scale != out.scale or t.zero_point != out.zero_point
                                    for t in op.inputs):
        raise ValueError("int8 CONCATENATION needs the output's scale and zero point on "
                         "every input (TFLite does not rescale int8)")
    if out.dtype == np.int16 and any(t.zero_point for t in op.inputs + [out]):
        raise ValueError("int16 CONCATENATION needs zero points of 0")
    if rank == 0:
        return [(len(shapes),)]
    axis = _concat_axis(op)
    for s in shapes[1:]:
        if s[:axis] != shapes[0][:axis] or s[axis + 1:] != shapes[0][axis + 1:]:
            raise ValueError("CONCATENATION on axis %d of mismatched shapes %s" % (axis, shapes))
    return [shapes[0][:axis] + (sum(s[axis] for s in shapes),) + shapes[0][axis + 1:]]


def _rescaled_uint8(t, out) -> np.ndarray:
    """ConcatenationWithScaling: q * (s_in * (1 / s_out)) - z_in * that, in float32,
    rounded half away from zero, plus the output zero point, clamped to uint8."""
    if t.scale == out.scale and t.zero_point == out.zero_point:
        return t.data
    scale = np.float32(t.scale) * (np.float32(1.0) / np.float32(out.scale))
    bias = np.float32(-t.zero_point) * scale
    v = (t.data.astype(np.float32) * scale + bias).astype(np.float64)
    rounded = np.trunc(v + np.copysign(0.5, v)).astype(np.int64) + out.zero_point
    return np.clip(rounded, 0, 255).astype(np.uint8)


@register("CONCATENATION", CONCAT_TYPES, shape=concatenation_shape)
def concatenation(op):
    out = op.outputs[0]
    if out.dtype == np.uint8:
        parts = [_rescaled_uint8(t, out) for t in op.inputs]
    else:
        parts = [t.data for t in op.inputs]
    if parts[0].ndim == 0:
        return np.stack(parts)
    return np.concatenate(parts, axis=_concat_axis(op))


# -- PACK / UNPACK -----------------------------------------------------------------------------

def _pack_axis(op) -> int:
    return normalize_axis(getattr(op.options, "axis", 0), len(op.inputs[0].shape) + 1, "PACK")


def pack_shape(op):
    shapes = {tuple(t.shape) for t in op.inputs}
    if len(shapes) != 1:
        raise ValueError("PACK inputs have different shapes: %s" % sorted(shapes))
    count = getattr(op.options, "values_count", len(op.inputs))
    if count != len(op.inputs):
        raise ValueError("PACK values_count %d != %d inputs" % (count, len(op.inputs)))
    shape = tuple(op.inputs[0].shape)
    axis = _pack_axis(op)
    return [shape[:axis] + (len(op.inputs),) + shape[axis:]]


@register("PACK", PACK_TYPES, shape=pack_shape)
def pack(op):
    return np.stack([t.data for t in op.inputs], axis=_pack_axis(op))


def _unpack_axis(op) -> int:
    return normalize_axis(getattr(op.options, "axis", 0), len(op.inputs[0].shape), "UNPACK")


def unpack_shape(op):
    shape = tuple(op.inputs[0].shape)
    axis = _unpack_axis(op)
    if shape[axis] != len(op.outputs):
        raise ValueError("UNPACK of %d along axis %d into %d outputs"
                         % (shape[axis], axis, len(op.outputs)))
    return [shape[:axis] + shape[axis + 1:]] * len(op.outputs)


@register("UNPACK", UNPACK_TYPES, shape=unpack_shape)
def unpack(op):
    x = op.inputs[0].data
    return list(np.moveaxis(x, _unpack_axis(op), 0))


# -- SPLIT / SPLIT_V ---------------------------------------------------------------------------

def _split_sizes(op, axis_value, sizes_value, data_index: int):
    """(axis, sizes): SPLIT divides evenly, SPLIT_V takes sizes with at most one -1."""
    shape = tuple(op.inputs[data_index].shape)
    axis = normalize_axis(np.asarray(axis_value).reshape(-1)[0], len(shape), op.opname)
    n = len(op.outputs)
    if sizes_value is None:
        if shape[axis] % n:
            raise ValueError("SPLIT of %d along axis %d into %d is not even"
                             % (shape[axis], axis, n))
        return axis, [shape[axis] // n] * n
    sizes = [int(s) for s in _positions(sizes_value)]
    if len(sizes) != n:
        raise ValueError("SPLIT_V has %d sizes for %d outputs" % (len(sizes), n))
    unknown = [i for i, s in enumerate(sizes) if s == -1]
    if len(unknown) > 1 or any(s < -1 for s in sizes):
        raise ValueError("SPLIT_V sizes %s are invalid" % sizes)
    if unknown:
        sizes[unknown[0]] = shape[axis] - (sum(sizes) + 1)
    if sum(sizes) != shape[axis] or any(s < 0 for s in sizes):
        raise ValueError("SPLIT_V sizes %s do not add up to %d" % (sizes, shape[axis]))
    return axis, sizes


def _split_outputs(shape, axis: int, sizes) -> List[tuple]:
    shape = tuple(shape)
    return [shape[:axis] + (s,) + shape[axis + 1:] for s in sizes]


def _split(x: np.ndarray, axis: int, sizes) -> List[np.ndarray]:
    return np.split(x, np.cumsum(sizes)[:-1], axis=axis)


def split_shape(op):
    got = known(op, 0)
    if got is None:
        return None
    axis, sizes = _split_sizes(op, got[0], None, 1)
    return _split_outputs(op.inputs[1].shape, axis, sizes)


@register("SPLIT", SPLIT_TYPES, shape=split_shape, dtype_input=1)
def split(op):
    axis, sizes = _split_sizes(op, op.inputs[0].data, None, 1)
    return _split(op.inputs[1].data, axis, sizes)


def split_v_shape(op):
    got = known(op, 1, 2)
    if got is None:
        return None
    axis, sizes = _split_sizes(op, got[1], got[0], 0)
    return _split_outputs(op.inputs[0].shape, axis, sizes)


@register("SPLIT_V", SPLIT_TYPES, shape=split_v_shape)
def split_v(op):
    x, sizes, axis = values(op, 0, 1, 2)
    axis, sizes = _split_sizes(op, axis, sizes, 0)
    return _split(x, axis, sizes)


# -- TRANSPOSE ---------------------------------------------------------------------------------

def _perm(op, value) -> List[int]:
    rank = len(op.inputs[0].shape)
    perm = [int(p) for p in _positions(value)]
    if sorted(perm) != list(range(rank)):
        raise ValueError("TRANSPOSE perm %s is not a permutation of %d dims" % (perm, rank))
    if rank > 6:
        raise ValueError("TRANSPOSE supports up to 6 dimensions, got %d" % rank)
    return perm


def transpose_shape(op):
    got = known(op, 1)
    if got is None:
        return None
    shape = op.inputs[0].shape
    return [tuple(shape[p] for p in _perm(op, got[0]))]


@register("TRANSPOSE", WIDE_TYPES, shape=transpose_shape)
def transpose(op):
    x, perm = values(op, 0, 1)
    return np.transpose(x, _perm(op, perm))


# -- SLICE -------------------------------------------------------------------------------------

def _slice_bounds(op, begin_value, size_value):
    shape = op.inputs[0].shape
    begin = [int(b) for b in _positions(begin_value)]
    size = [int(s) for s in _positions(size_value)]
    if len(begin) != len(shape) or len(size) != len(shape):
        raise ValueError("SLICE begin %s / size %s do not match rank %d"
                         % (begin, size, len(shape)))
    size = [d - b if s == -1 else s for d, b, s in zip(shape, begin, size)]
    if any(b < 0 or s < 0 or b + s > d for d, b, s in zip(shape, begin, size)):
        raise ValueError("SLICE begin %s size %s out of bounds for shape %s"
                         % (begin, size, list(shape)))
    return begin, size


def slice_shape(op):
    got = known(op, 1, 2)
    return None if got is None else [tuple(_slice_bounds(op, *got)[1])]


@register("SLICE", WIDE_TYPES, shape=slice_shape)
def slice_(op):
    begin, size = _slice_bounds(op, *values(op, 1, 2))
    return op.inputs[0].data[tuple(slice(b, b + s) for b, s in zip(begin, size))]


# -- STRIDED_SLICE -----------------------------------------------------------------------------

class _Axis(NamedTuple):
    """One axis of STRIDED_SLICE's effective input (after ellipsis and new-axis expansion)."""
    size: int
    start: int
    stop: int
    stride: int
    begin_bit: bool = False
    end_bit: bool = False
    shrink: bool = False


def _bit(mask: int, i: int) -> bool:
    return bool(mask >> i & 1)


def _strided_slice_axes(op, begin_v, end_v, strides_v) -> List[_Axis]:
    """strided_slice.cc BuildStridedSliceParams: the ellipsis and the new axes expanded into
    an effective input shape, each axis with its spec (begin_v None: starts unknown)."""
    mask = {k: int(getattr(op.options, k + "_mask", 0))
            for k in ("begin", "end", "ellipsis", "new_axis", "shrink_axis")}
    shape = op.inputs[0].shape
    rank = len(shape)
    strides = _positions(strides_v)
    count = len(strides)
    begin = np.zeros(count, np.int64) if begin_v is None else _positions(begin_v)
    end = _positions(end_v)
    num_add = sum(1 for i in range(count)
                  if not _bit(mask["ellipsis"], i) and _bit(mask["new_axis"], i))
    dims = rank + num_add
    eff_ellipsis, eff_new = set(), set()
    ellipsis_start, expanded = dims, 0
    i = 0
    while i < dims:
        if _bit(mask["ellipsis"], i):
            ellipsis_start = i
            stop = max(i + 1, min(i + 1 + num_add + rank - count, dims))
            expanded = stop - ellipsis_start - 1
            eff_ellipsis.update(range(i, stop))
            i = stop
            continue
        if _bit(mask["new_axis"], i - expanded):
            eff_new.add(i)
        i += 1
    axes = []
    added_ellipsis = added_axes = 0
    for i in range(dims):
        if i in eff_new and i not in eff_ellipsis:
            axes.append(_Axis(1, 0, 1, 1))
            added_axes += 1
            continue
        size = shape[i - added_axes]
        if i in eff_ellipsis:
            added_ellipsis = max(0, i - ellipsis_start)
            axes.append(_Axis(size, 0, 0, 1, True, True))
        elif i >= count + expanded:
            axes.append(_Axis(size, 0, 0, 1, True, True))
        else:
            k = i - added_ellipsis
            axes.append(_Axis(size, int(begin[k]), int(end[k]), int(strides[k]),
                              _bit(mask["begin"], k), _bit(mask["end"], k),
                              _bit(mask["shrink_axis"], k)))
    return axes


def _axis_range(a: _Axis, offset: bool):
    """StartForAxis / EndForAxis of reference/strided_slice.h: start, and stop exclusive."""
    size, stride = a.size, a.stride
    start = a.start + size if a.start < 0 else a.start
    start = min(max(start, 0), size) if stride > 0 else min(max(start, -1), size - 1)
    if a.begin_bit:
        start = 0 if stride > 0 else size - 1
    if a.shrink:
        return start, (start if start >= size else start + 1)
    stop = a.stop + start if offset else a.stop
    if stop < 0:
        stop += size
    stop = min(max(stop, 0), size) if stride > 0 else min(max(stop, -1), size - 1)
    if a.end_bit:
        stop = size if stride > 0 else -1
    return start, stop


def _ceil_count(extent: int, stride: int) -> int:
    """ResizeOutputTensor's element count for a signed extent and stride."""
    if (extent < 0) != (stride < 0):
        return 0
    if stride < 0:
        return (extent + 1) // stride + 1
    return 0 if extent == 0 else (extent - 1) // stride + 1


def _strided_slice_shape(op, axes: List[_Axis], end_v) -> tuple:
    """With the offset attribute the shape is the end value (a size) at each effective axis,
    as strided_slice.cc reads it, without clamping."""
    offset = bool(getattr(op.options, "offset", False))
    end = _positions(end_v)
    out = []
    for idx, a in enumerate(axes):
        if a.stride == 0:
            raise ValueError("STRIDED_SLICE stride value has to be non-zero")
        if a.shrink:
            continue
        if offset:
            extent = int(end[idx])
        else:
            s, e = _axis_range(a, False)
            extent = e - s
        out.append(_ceil_count(extent, a.stride))
    return tuple(out)


def strided_slice_shape(op):
    if len(op.inputs[1].shape) != 1 or op.inputs[1].shape != op.inputs[2].shape:
        raise ValueError("STRIDED_SLICE begin and end must be vectors of one length")
    # With the offset attribute, end holds sizes, so begin may be a run-time value.
    offset = bool(getattr(op.options, "offset", False))
    got = known(op, 2, 3) if offset else known(op, 1, 2, 3)
    if got is None:
        return None
    end_v, strides_v = got[-2:]
    axes = _strided_slice_axes(op, None if offset else got[0], end_v, strides_v)
    return [_strided_slice_shape(op, axes, end_v)]


def _axis_slice(a: _Axis, offset: bool) -> slice:
    start, stop = _axis_range(a, offset)
    if a.shrink:
        return slice(start, stop)
    if a.stride < 0 and start < 0:
        return slice(0, 0)      # nothing to take; numpy would read -1 as the last element
    return slice(start, None if stop < 0 else stop, a.stride)


@register("STRIDED_SLICE", WIDE_TYPES, shape=strided_slice_shape)
def strided_slice(op):
    begin_v, end_v, strides_v = values(op, 1, 2, 3)
    offset = bool(getattr(op.options, "offset", False))
    axes = _strided_slice_axes(op, begin_v, end_v, strides_v)
    x = op.inputs[0].data.reshape(tuple(a.size for a in axes))
    taken = x[tuple(_axis_slice(a, offset) for a in axes)]
    return taken.reshape(_strided_slice_shape(op, axes, end_v))


# -- GATHER / GATHER_ND ------------------------------------------------------------------------

def _gather_params(op):
    params, positions = op.inputs[0], op.inputs[1]
    axis = normalize_axis(getattr(op.options, "axis", 0), len(params.shape), "GATHER")
    batch_dims = int(getattr(op.options, "batch_dims", 0))
    if batch_dims < 0:
        batch_dims += len(positions.shape)
    if not 0 <= batch_dims <= min(axis, len(positions.shape)):
        raise ValueError("GATHER batch_dims %d invalid for axis %d" % (batch_dims, axis))
    if tuple(params.shape[:batch_dims]) != tuple(positions.shape[:batch_dims]):
        raise ValueError("GATHER batch dims of %s and %s differ"
                         % (list(params.shape), list(positions.shape)))
    return axis, batch_dims


def gather_shape(op):
    axis, batch_dims = _gather_params(op)
    p, i = tuple(op.inputs[0].shape), tuple(op.inputs[1].shape)
    return [p[:axis] + i[batch_dims:] + p[axis + 1:]]


def _check_indices(idx: np.ndarray, limit: int, what: str) -> None:
    if idx.size and (idx.min() < 0 or idx.max() >= limit):
        raise ValueError("%s index out of bounds (valid range [0, %d))" % (what, limit))


@register("GATHER", ALL_TYPES, shape=gather_shape)
def gather(op):
    axis, batch_dims = _gather_params(op)
    params, idx = values(op, 0, 1)
    _check_indices(idx, params.shape[axis], "GATHER")
    if batch_dims == 0:
        return np.take(params, idx, axis=axis)
    nb = element_count(params.shape[:batch_dims])
    p = params.reshape((nb,) + params.shape[batch_dims:])
    i = idx.reshape((nb,) + idx.shape[batch_dims:])
    parts = [np.take(p[b], i[b], axis=axis - batch_dims) for b in range(nb)]
    return np.stack(parts).reshape(gather_shape(op)[0])


def gather_nd_shape(op):
    p, i = tuple(op.inputs[0].shape), tuple(op.inputs[1].shape)
    if not i or i[-1] > len(p):
        raise ValueError("GATHER_ND indices %s invalid for params %s" % (list(i), list(p)))
    return [i[:-1] + p[i[-1]:]]


@register("GATHER_ND", ALL_TYPES, shape=gather_nd_shape)
def gather_nd(op):
    params, idx = values(op, 0, 1)
    k = idx.shape[-1]
    for d in range(k):
        _check_indices(idx[..., d], params.shape[d], "GATHER_ND")
    return params[tuple(idx[..., d] for d in range(k))].reshape(gather_nd_shape(op)[0])


# -- TILE / BROADCAST_TO -----------------------------------------------------------------------

def _tile_multiples(op, value) -> List[int]:
    m = [int(v) for v in _positions(value)]
    if len(m) != len(op.inputs[0].shape) or any(v < 0 for v in m):
        raise ValueError("TILE multiples %s invalid for shape %s" % (m, list(op.inputs[0].shape)))
    return m


def tile_shape(op):
    got = known(op, 1)
    if got is None:
        return None
    return [tuple(d * m for d, m in zip(op.inputs[0].shape, _tile_multiples(op, got[0])))]


@register("TILE", WIDE_TYPES, shape=tile_shape)
def tile(op):
    x, m = values(op, 0, 1)
    return np.tile(x, _tile_multiples(op, m))


def _broadcast_target(op, value) -> tuple:
    target = tuple(int(v) for v in _positions(value))
    shape = tuple(op.inputs[0].shape)
    if len(shape) > len(target) or any(
            d not in (1, t) for d, t in zip(shape[::-1], target[::-1])):
        raise ValueError("BROADCAST_TO cannot broadcast %s to %s" % (list(shape), list(target)))
    return target


def broadcast_to_shape(op):
    got = known(op, 1)
    return None if got is None else [_broadcast_target(op, got[0])]


@register("BROADCAST_TO", WIDE_TYPES, shape=broadcast_to_shape)
def broadcast_to(op):
    x, target = values(op, 0, 1)
    return np.broadcast_to(x, _broadcast_target(op, target))


# -- DEPTH_TO_SPACE / SPACE_TO_DEPTH -----------------------------------------------------------

def _block_size(op) -> int:
    b = int(getattr(op.options, "block_size", 0))
    if b <= 0 or len(op.inputs[0].shape) != 4:
        raise ValueError("%s needs a 4-D input and a positive block size (got %d)"
                         % (op.opname, b))
    return b


def depth_to_space_shape(op):
    b = _block_size(op)
    n, h, w, c = op.inputs[0].shape
    if c % (b * b):
        raise ValueError("DEPTH_TO_SPACE depth %d is not a multiple of %d" % (c, b * b))
    return [(n, h * b, w * b, c // (b * b))]


@register("DEPTH_TO_SPACE", BLOCK_TYPES, shape=depth_to_space_shape)
def depth_to_space(op):
    b = _block_size(op)
    x = op.inputs[0].data
    n, h, w, c = x.shape
    y = x.reshape(n, h, w, b, b, c // (b * b)).transpose(0, 1, 3, 2, 4, 5)
    return y.reshape(n, h * b, w * b, c // (b * b))


def space_to_depth_shape(op):
    b = _block_size(op)
    n, h, w, c = op.inputs[0].shape
    if h % b or w % b:
        raise ValueError("SPACE_TO_DEPTH %dx%d is not a multiple of block %d" % (h, w, b))
    return [(n, h // b, w // b, c * b * b)]


@register("SPACE_TO_DEPTH", BLOCK_TYPES, shape=space_to_depth_shape)
def space_to_depth(op):
    b = _block_size(op)
    x = op.inputs[0].data
    n, h, w, c = x.shape
    y = x.reshape(n, h // b, b, w // b, b, c).transpose(0, 1, 3, 2, 4, 5)
    return y.reshape(n, h // b, w // b, b * b * c)


# -- SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND -----------------------------------------------------

def _block_and_pairs(op, block_v, pairs_v):
    """block_shape [M] and paddings/crops [M, 2] for the M = rank - 2 spatial dims of a 3-D
    or 4-D input."""
    rank = len(op.inputs[0].shape)
    if rank not in (3, 4):
        raise ValueError("%s supports 3-D and 4-D inputs, got %d-D" % (op.opname, rank))
    block = [int(v) for v in _positions(block_v)]
    pairs = np.asarray(pairs_v).astype(np.int64)
    m = rank - 2
    if len(block) != m or pairs.shape != (m, 2):
        raise ValueError("%s block_shape %s / pairs %s do not match %d spatial dims"
                         % (op.opname, block, list(pairs.shape), m))
    if any(v <= 0 for v in block) or (pairs < 0).any():
        raise ValueError("%s block_shape %s and pairs %s must be positive"
                         % (op.opname, block, pairs.tolist()))
    return block, pairs


def _space_to_batch_target(op, block, pads) -> tuple:
    shape = op.inputs[0].shape
    spatial = []
    for d, (k, (lo, hi)) in enumerate(zip(block, pads)):
        padded = shape[d + 1] + int(lo) + int(hi)
        if padded % k:
            raise ValueError("SPACE_TO_BATCH_ND padded size %d is not a multiple of %d"
                             % (padded, k))
        spatial.append(padded // k)
    return (shape[0] * element_count(block),) + tuple(spatial) + (shape[-1],)


def space_to_batch_nd_shape(op):
    got = known(op, 1, 2)
    return None if got is None else [_space_to_batch_target(op, *_block_and_pairs(op, *got))]


@register("SPACE_TO_BATCH_ND", WIDE_TYPES, shape=space_to_batch_nd_shape)
def space_to_batch_nd(op):
    block, pads = _block_and_pairs(op, *values(op, 1, 2))
    target = _space_to_batch_target(op, block, pads)
    x = op.inputs[0].data
    # 8- and 16-bit types pad with the output zero point (space_to_batch_nd.cc), others 0.
    fill = op.outputs[0].zero_point if x.dtype.itemsize <= 2 else 0
    padded = np.pad(x, [(0, 0)] + pads.tolist() + [(0, 0)], constant_values=fill)
    m = len(block)
    split = [x.shape[0]]
    for d, k in enumerate(block):
        split += [target[d + 1], k]
    y = padded.reshape(split + [x.shape[-1]])
    # Output batch index = block offsets (outer) then input batch (inner).
    order = [2 + 2 * d for d in range(m)] + [0] + [1 + 2 * d for d in range(m)] + [2 * m + 1]
    return y.transpose(order).reshape(target)


def _batch_to_space_target(op, block, crops) -> tuple:
    shape = op.inputs[0].shape
    nb = element_count(block)
    if shape[0] % nb:
        raise ValueError("BATCH_TO_SPACE_ND batch %d is not a multiple of %d" % (shape[0], nb))
    spatial = [shape[d + 1] * k - int(lo) - int(hi)
               for d, (k, (lo, hi)) in enumerate(zip(block, crops))]
    if any(s < 0 for s in spatial):
        raise ValueError("BATCH_TO_SPACE_ND crops %s too large" % crops.tolist())
    return (shape[0] // nb,) + tuple(spatial) + (shape[-1],)


def batch_to_space_nd_shape(op):
    got = known(op, 1, 2)
    return None if got is None else [_batch_to_space_target(op, *_block_and_pairs(op, *got))]


@register("BATCH_TO_SPACE_ND", WIDE_TYPES, shape=batch_to_space_nd_shape)
def batch_to_space_nd(op):
    block, crops = _block_and_pairs(op, *values(op, 1, 2))
    target = _batch_to_space_target(op, block, crops)
    x = op.inputs[0].data
    m = len(block)
    y = x.reshape(list(block) + [target[0]] + list(x.shape[1:]))
    order = [m]
    for d in range(m):
        order += [m + 1 + d, d]
    order.append(2 * m + 1)
    full = y.transpose(order).reshape(
        [target[0]] + [x.shape[d + 1] * k for d, k in enumerate(block)] + [x.shape[-1]])
    crop = tuple(slice(int(lo), int(lo) + s) for (lo, _), s in zip(crops, target[1:-1]))
    return full[(slice(None),) + crop]


# -- REVERSE_V2 --------------------------------------------------------------------------------

def _reverse_axes(op, value) -> tuple:
    """reverse.cc: the axes, sorted, must be consecutive (duplicates included)."""
    rank = len(op.inputs[0].shape)
    axes = sorted(normalize_axis(a, rank, "REVERSE_V2") for a in _positions(value))
    if any(b != a + 1 for a, b in zip(axes, axes[1:])):
        raise ValueError("REVERSE_V2 axes %s are not contiguous" % axes)
    return tuple(axes)


@register("REVERSE_V2", ALL_TYPES, shape=same_as_input())
def reverse_v2(op):
    x, axes = values(op, 0, 1)
    return np.flip(x, _reverse_axes(op, axes))


# -- ZEROS_LIKE / FILL / RANGE -----------------------------------------------------------------

@register("ZEROS_LIKE", (np.float32, np.int32, np.int64), shape=same_as_input())
def zeros_like(op):
    return np.zeros_like(op.inputs[0].data)


def _fill_dims(value) -> tuple:
    dims = tuple(int(d) for d in _positions(value))
    if any(d < 0 for d in dims):
        raise ValueError("FILL dims %s must be >= 0" % list(dims))
    return dims


def fill_shape(op):
    if element_count(op.inputs[1].shape) != 1:
        raise ValueError("FILL value must be a scalar")
    got = known(op, 0)
    return None if got is None else [_fill_dims(got[0])]


@register("FILL", WIDE_TYPES, shape=fill_shape, dtype_input=1)
def fill(op):
    dims, value = values(op, 0, 1)
    return np.full(_fill_dims(dims), value.reshape(-1)[0], dtype=value.dtype)


def _range_count(start, limit, delta) -> int:
    """range.cc GetSize: exact for integers, ceil(|(limit - start) / delta|) for floats."""
    if delta == 0 or (start < limit and delta < 0) or (start > limit and delta > 0):
        raise ValueError("RANGE start %s, limit %s, delta %s give no sequence"
                         % (start, limit, delta))
    if isinstance(start, np.floating):
        return int(np.ceil(np.abs((limit - start) / delta)))
    return int((abs(int(limit) - int(start)) + abs(int(delta)) - 1) // abs(int(delta)))


def _range_args(vals):
    return [np.asarray(v).reshape(-1)[0] for v in vals]


def range_shape(op):
    got = known(op, 0, 1, 2)
    return None if got is None else [(_range_count(*_range_args(got)),)]


@register("RANGE", (np.int32, np.int64, np.float32), shape=range_shape)
def range_(op):
    start, limit, delta = _range_args(values(op, 0, 1, 2))
    n = _range_count(start, limit, delta)
    dtype = op.outputs[0].dtype
    # The reference adds delta to a running value, so float sums accumulate rounding.
    steps = np.full(n, delta, dtype=dtype)
    if n:
        steps[0] = start
    return np.add.accumulate(steps, dtype=dtype)
