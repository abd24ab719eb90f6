"""Ops that only change how data is viewed: RESHAPE, SQUEEZE, EXPAND_DIMS, and SHAPE.

Also the helpers that the data-movement kernels share: the dtype groups and `known`, which
tells a shape rule whether the inputs it needs are constants (else the output is sized at
run time, as TFLite marks it dynamic).
"""
from __future__ import annotations

from typing import List, Optional

import numpy as np

from ..registry import register

ALL_TYPES = (np.float32, np.float16, np.int8, np.uint8, np.int16, np.int32, np.int64, np.bool_)
# What TFLite's byte-copying kernels (dispatched on element size) also accept.
WIDE_TYPES = ALL_TYPES + (np.uint32, np.uint16)
INDEX_TYPES = (np.int32, np.int64)


def known(op, *indices) -> Optional[List[np.ndarray]]:
    """The values of inputs `indices` when all are constant, else None."""
    tensors = [op.inputs[i] for i in indices]
    if any(t is None or not t.is_constant for t in tensors):
        return None
    return [t.constant for t in tensors]


def values(op, *indices) -> List[np.ndarray]:
    """The run-time values of inputs `indices`."""
    return [op.inputs[i].data for i in indices]


def normalize_axis(axis: int, rank: int, what: str) -> int:
    """A possibly negative axis in [-rank, rank) made non-negative."""
    axis = int(axis)
    if not -rank <= axis < rank:
        raise ValueError("%s axis %d is out of range for rank %d" % (what, axis, rank))
    return axis + rank if axis < 0 else axis


def element_count(shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


# -- RESHAPE ---------------------------------------------------------------------------------

def _has_shape_input(op) -> bool:
    return len(op.inputs) > 1 and op.inputs[1] is not None


def _reshape_target(op, shape_value) -> tuple:
    """reshape.cc: the shape input when it is an int32 vector, else the new_shape option
    (legacy [0] meaning a scalar); one -1 takes the remaining element count."""
    shape_t = op.inputs[1] if _has_shape_input(op) else None
    if shape_t is not None and len(shape_t.shape) == 1 and shape_t.dtype == np.int32:
        new = [int(d) for d in np.asarray(shape_value).reshape(-1)]
    else:
        new = [int(d) for d in getattr(op.options, "new_shape", [])]
        if new == [0]:
            new = []
    n = element_count(op.inputs[0].shape)
    stretch = [i for i, d in enumerate(new) if d == -1]
    if len(stretch) > 1:
        raise ValueError("RESHAPE new shape %s has more than one -1" % new)
    if stretch:
        known_count = element_count([d for d in new if d != -1])
        new[stretch[0]] = n // known_count if known_count else 0
    if element_count(new) != n or any(d < 0 for d in new):
        raise ValueError("cannot reshape %s (%d elements) to %s"
                         % (list(op.inputs[0].shape), n, new))
    return tuple(new)


def reshape_shape(op):
    if not _has_shape_input(op):
        return [_reshape_target(op, None)]
    got = known(op, 1)
    return None if got is None else [_reshape_target(op, got[0])]


@register("RESHAPE", WIDE_TYPES, shape=reshape_shape)
def reshape(op):
    shape_value = op.inputs[1].data if _has_shape_input(op) else None
    return op.inputs[0].data.reshape(_reshape_target(op, shape_value))


# -- SQUEEZE ---------------------------------------------------------------------------------

def squeeze_shape(op):
    shape = op.inputs[0].shape
    dims = [int(d) for d in getattr(op.options, "squeeze_dims", [])]
    rank = len(shape)
    if dims:
        axes = {normalize_axis(d, rank, "SQUEEZE") for d in dims}
        if any(shape[a] != 1 for a in axes):
            raise ValueError("SQUEEZE dims %s invalid for shape %s" % (dims, list(shape)))
    else:
        axes = {i for i, d in enumerate(shape) if d == 1}
    return [tuple(d for i, d in enumerate(shape) if i not in axes)]


@register("SQUEEZE", WIDE_TYPES, shape=squeeze_shape)
def squeeze(op):
    return op.inputs[0].data.reshape(squeeze_shape(op)[0])


# -- EXPAND_DIMS -----------------------------------------------------------------------------

def _expand_dims_target(op, axis_value) -> tuple:
    shape = tuple(op.inputs[0].shape)
    axis = np.asarray(axis_value).reshape(-1)
    if axis.size != 1:
        raise ValueError("EXPAND_DIMS axis must hold one value, got %d" % axis.size)
    a = normalize_axis(int(axis[0]), len(shape) + 1, "EXPAND_DIMS")
    return shape[:a] + (1,) + shape[a:]


def expand_dims_shape(op):
    got = known(op, 1)
    return None if got is None else [_expand_dims_target(op, got[0])]


@register("EXPAND_DIMS", WIDE_TYPES, shape=expand_dims_shape)
def expand_dims(op):
    return op.inputs[0].data.reshape(_expand_dims_target(op, op.inputs[1].data))


# -- SHAPE -----------------------------------------------------------------------------------

def shape_shape(op):
    if op.outputs[0].dtype not in (np.dtype(np.int32), np.dtype(np.int64)):
        raise ValueError("SHAPE output type must be int32 or int64, got %s"
                         % op.outputs[0].dtype)
    return [(len(op.inputs[0].shape),)]


@register("SHAPE", WIDE_TYPES, shape=shape_shape)
def shape(op):
    return np.array(op.inputs[0].data.shape, dtype=op.outputs[0].dtype)
