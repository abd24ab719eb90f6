"""RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR (NHWC), as TFLite's reference kernels.

Source coordinates are computed once per output row and column (1-D), then the four
(or one) source pixels are gathered for the whole image with numpy indexing.
"""
from __future__ import annotations

import numpy as np

from ..registry import register
from .common import constant_input


def _size(op, values) -> tuple:
    size = np.asarray(values).reshape(-1)
    if size.size != 2:
        raise ValueError("%s size must have 2 elements, got %d" % (op.opname, size.size))
    if size[0] <= 0 or size[1] <= 0:
        raise ValueError("%s size %s must be positive" % (op.opname, list(size)))
    return int(size[0]), int(size[1])


def resize_shape(op):
    shape = op.inputs[0].shape
    if len(shape) != 4:
        raise ValueError("%s needs a 4-D NHWC input, got shape %s" % (op.opname, list(shape)))
    if op.inputs[1].dtype != np.int32:
        raise ValueError("%s size must be int32" % op.opname)
    if not op.inputs[1].is_constant:
        return None
    h, w = _size(op, constant_input(op, 1, op.opname))
    return [(shape[0], h, w, shape[3])]


def _flags(op):
    align = bool(getattr(op.options, "align_corners", False))
    half = bool(getattr(op.options, "half_pixel_centers", False))
    if align and half:
        raise ValueError("%s: align_corners and half_pixel_centers are exclusive" % op.opname)
    return align, half


def _float_scale(in_size: int, out_size: int, align: bool) -> np.float32:
    if align and out_size > 1:
        return np.float32(in_size - 1) / np.float32(out_size - 1)
    return np.float32(in_size) / np.float32(out_size)


def _nearest_indices(in_size: int, out_size: int, align: bool, half: bool) -> np.ndarray:
    """GetNearestNeighbor for every output coordinate, in float32 as TFLite computes it."""
    scale = _float_scale(in_size, out_size, align)
    offset = np.float32(0.5 if half else 0.0)
    pos = (np.arange(out_size).astype(np.float32) + offset) * scale
    index = np.floor(pos)
    if align:
        # std::round: halves away from zero (pos >= 0); the fraction is exact in float32.
        index = index + (pos - index >= np.float32(0.5))
    index = np.minimum(index.astype(np.int64), in_size - 1)
    return np.maximum(index, 0) if half else index


@register("RESIZE_NEAREST_NEIGHBOR", (np.float32, np.uint8, np.int8, np.int16, np.int32),
          shape=resize_shape)
def resize_nearest_neighbor(op):
    x = op.inputs[0].data
    out_h, out_w = _size(op, op.inputs[1].data)
    align, half = _flags(op)
    rows = _nearest_indices(x.shape[1], out_h, align, half)
    cols = _nearest_indices(x.shape[2], out_w, align, half)
    return np.take(np.take(x, rows, axis=1), cols, axis=2)


def _blend(image, y0, y1, x0, x1, dy, dx, one) -> np.ndarray:
    """v00 (1-dy)(1-dx) + v10 dy (1-dx) + v01 (1-dy) dx + v11 dy dx over the whole image, in
    the reference kernel's order (each product left to right, the sum term by term), so that
    float32 rounds identically."""
    top, bottom = np.take(image, y0, axis=1), np.take(image, y1, axis=1)
    total = None
    for rows, cols, wy, wx in ((top, x0, one - dy, one - dx), (bottom, x0, dy, one - dx),
                               (top, x1, one - dy, dx), (bottom, x1, dy, dx)):
        term = np.take(rows, cols, axis=2)
        term *= wy
        term *= wx
        if total is None:
            total = term
        else:
            total += term
    return total


def _float_coords(in_size: int, out_size: int, align: bool, half: bool):
    """ComputeInterpolationValues: (scaled float32 position, lower index, upper index)."""
    scale = _float_scale(in_size, out_size, align)
    v = np.arange(out_size).astype(np.float32)
    pos = ((v + np.float32(0.5)) * scale - np.float32(0.5)) if half else v * scale
    lower = np.maximum(np.floor(pos).astype(np.int64), 0)
    upper = np.minimum(np.ceil(pos).astype(np.int64), in_size - 1)
    return pos, lower, upper


def _bilinear_float_math(op, x, out_h, out_w, align, half) -> np.ndarray:
    """The reference kernel's float32 path, with its exact operation order; integer
    outputs add 0.5 and truncate."""
    y, y0, y1 = _float_coords(x.shape[1], out_h, align, half)
    xs, x0, x1 = _float_coords(x.shape[2], out_w, align, half)
    dy = (y - y0.astype(np.float32))[None, :, None, None]
    dx = (xs - x0.astype(np.float32))[None, None, :, None]
    total = _blend(x.astype(np.float32), y0, y1, x0, x1, dy, dx, np.float32(1))
    if x.dtype == np.float32:
        return total.astype(np.float32)
    return np.trunc(total + np.float32(0.5)).astype(x.dtype)


def _integer_coords(in_size: int, out_size: int, align: bool, half: bool):
    """ComputeInterpolationValuesInteger: positions in 1/1024 units and the two indices."""
    if align and out_size > 1:
        scale = ((1 << 10) * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    else:
        scale = ((1 << 10) * in_size + out_size // 2) // out_size
    v = np.arange(out_size, dtype=np.int64)
    pos = v * scale + scale // 2 - (1 << 9) if half else v * scale
    lower = np.maximum(_trunc_div(pos, 1 << 10), 0)
    upper = np.minimum(_trunc_div(pos + (1 << 10) - 1, 1 << 10), in_size - 1)
    return pos, lower, upper


def _trunc_div(a: np.ndarray, b: int) -> np.ndarray:
    return np.where(a >= 0, a // b, -((-a) // b))


def _bilinear_integer(op, x, out_h, out_w, align, half) -> np.ndarray:
    """ResizeBilinearInteger: 10-bit fixed-point weights, a 20-bit product, rounded half away
    from zero."""
    y, y0, y1 = _integer_coords(x.shape[1], out_h, align, half)
    xs, x0, x1 = _integer_coords(x.shape[2], out_w, align, half)
    dy = (y - (y0 << 10))[None, :, None, None]
    dx = (xs - (x0 << 10))[None, None, :, None]
    total = _blend(x.astype(np.int64), y0, y1, x0, x1, dy, dx, 1 << 10)
    rounded = total + np.where(total > 0, 1 << 19, -(1 << 19))
    return _trunc_div(rounded, 1 << 20).astype(x.dtype)


@register("RESIZE_BILINEAR", (np.float32, np.uint8, np.int8, np.int16), shape=resize_shape)
def resize_bilinear(op):
    x = op.inputs[0].data
    out_h, out_w = _size(op, op.inputs[1].data)
    align, half = _flags(op)
    if x.dtype in (np.int8, np.int16):
        return _bilinear_integer(op, x, out_h, out_w, align, half)
    return _bilinear_float_math(op, x, out_h, out_w, align, half)
