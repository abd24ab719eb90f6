"""Ops that only change how data is viewed: RESHAPE, SQUEEZE, EXPAND_DIMS."""
from __future__ import annotations

import numpy as np

from ..registry import register

ALL_TYPES = (np.float32, np.float16, np.int8, np.uint8, np.int16, np.int32, np.int64, np.bool_)


def _reshape_target(op):
    """RESHAPE's new shape: the shape input when constant, else the new_shape option,
    with one -1 resolved from the element count (as TFLite's reshape.cc)."""
    n = int(np.prod(op.inputs[0].shape, dtype=np.int64))
    shape_t = op.inputs[1] if len(op.inputs) > 1 else None
    if shape_t is not None and not (shape_t.is_constant or shape_t.data is not None):
        return None
    if shape_t is not None and len(shape_t.shape) == 1 and shape_t.shape[0] > 0 or (
            shape_t is not None and not hasattr(op.options, "new_shape")):
        src = shape_t.constant if shape_t.is_constant else shape_t.data
        if src is None:
            return None
        new = [int(d) for d in np.asarray(src).reshape(-1)]
    else:
        new = [int(d) for d in getattr(op.options, "new_shape", [])]
    unknown = [i for i, d in enumerate(new) if d == -1]
    if len(unknown) > 1:
        raise ValueError("RESHAPE new shape %s has more than one -1" % new)
    known = int(np.prod([d for d in new if d != -1], dtype=np.int64))
    if unknown:
        if known == 0 or n % known:
            raise ValueError("cannot reshape %d elements to %s" % (n, new))
        new[unknown[0]] = n // known
    if int(np.prod(new, dtype=np.int64)) != n:
        raise ValueError("cannot reshape %s (%d elements) to %s"
                         % (list(op.inputs[0].shape), n, new))
    return tuple(new)


def reshape_shape(op):
    target = _reshape_target(op)
    return None if target is None else [target]


@register("RESHAPE", ALL_TYPES, shape=reshape_shape)
def reshape(op):
    return op.inputs[0].data.reshape(op.outputs[0].shape if op.outputs[0].data is not None
                                     else _reshape_target(op))


def squeeze_shape(op):
    shape = op.inputs[0].shape
    dims = [int(d) for d in getattr(op.options, "squeeze_dims", [])]
    rank = len(shape)
    if dims:
        axes = {d + rank if d < 0 else d for d in dims}
        if any(not 0 <= a < rank or shape[a] != 1 for a in axes):
            raise ValueError("SQUEEZE dims %s invalid for shape %s" % (dims, list(shape)))
    else:
        axes = {i for i, d in enumerate(shape) if d == 1}
    return [tuple(d for i, d in enumerate(shape) if i not in axes)]


@register("SQUEEZE", ALL_TYPES, shape=squeeze_shape)
def squeeze(op):
    return op.inputs[0].data.reshape(op.outputs[0].shape)
