"""2-D pooling: AVERAGE_POOL_2D, MAX_POOL_2D, L2_POOL_2D (NHWC), as TFLite's reference kernels.

Every output reads the input window clipped to the image (padding cells never count), so
the window is gathered tap by tap from a padded copy: one numpy op per filter tap, summed
in TFLite's order (rows, then columns) so that float sums round identically.
"""
from __future__ import annotations

from typing import Callable, List, Tuple

import numpy as np

from ..quant import activation_range_quantized, apply_activation_float
from ..registry import register
from .common import out_size, pad_before


def _params(op):
    o = op.options
    fh, fw = int(o.filter_height), int(o.filter_width)
    sh, sw = int(o.stride_h), int(o.stride_w)
    if min(fh, fw, sh, sw) <= 0:
        raise ValueError("filter %dx%d and strides %dx%d must be positive" % (fh, fw, sh, sw))
    return fh, fw, sh, sw, int(o.padding)


def pool_shape(op) -> List[Tuple[int, ...]]:
    shape = op.inputs[0].shape
    if len(shape) != 4:
        raise ValueError("pooling needs a 4-D NHWC input, got shape %s" % list(shape))
    fh, fw, sh, sw, padding = _params(op)
    n, h, w, c = shape
    if fh > 2 * h + 1 or fw > 2 * w + 1:
        # Taps past the input only read padding; a crafted filter of 2^31 taps would pad the
        # input to terabytes. Real models stay within the input (or a SAME window around it).
        raise ValueError("filter %dx%d is far larger than the %dx%d input" % (fh, fw, h, w))
    return [(n, out_size(padding, h, fh, sh), out_size(padding, w, fw, sw), c)]


def _windows(op, fill):
    """An iterator over filter taps (rows, then columns) of the input values under that tap
    for every output position (`fill` where the tap falls in the padding), and the number of
    real taps per output position."""
    x = op.inputs[0].data
    _, h, w, _ = x.shape
    _, oh, ow, _ = op.outputs[0].shape
    fh, fw, sh, sw, _ = _params(op)
    top = pad_before(sh, 1, h, fh, oh)
    left = pad_before(sw, 1, w, fw, ow)
    bottom = max(0, (oh - 1) * sh + fh - top - h)
    right = max(0, (ow - 1) * sw + fw - left - w)
    padded = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=fill)

    def count(o, stride, pad, size, f):
        start = np.arange(o) * stride - pad
        return np.minimum(f, size - start) - np.maximum(0, -start)

    counts = np.outer(count(oh, sh, top, h, fh), count(ow, sw, left, w, fw))[None, :, :, None]
    taps = (padded[:, ky:ky + (oh - 1) * sh + 1:sh, kx:kx + (ow - 1) * sw + 1:sw, :]
            for ky in range(fh) for kx in range(fw))
    return taps, counts


def _accumulate(taps, combine: Callable, start):
    acc = start
    for t in taps:
        acc = combine(acc, t)
    return acc


def _clamp_quantized(op, values: np.ndarray) -> np.ndarray:
    out = op.outputs[0]
    lo, hi = activation_range_quantized(op.options.fused_activation_function, out.scale,
                                        out.zero_point, out.dtype)
    return np.clip(values, lo, hi).astype(out.dtype)


@register("AVERAGE_POOL_2D", (np.int8, np.uint8, np.int16, np.float32), shape=pool_shape)
def average_pool_2d(op):
    taps, counts = _windows(op, 0)
    if op.inputs[0].dtype == np.float32:
        total = _accumulate(taps, np.add, np.float32(0))
        avg = (total / counts.astype(np.float32)).astype(np.float32)
        return apply_activation_float(avg, op.options.fused_activation_function)
    acc = _accumulate((t.astype(np.int64) for t in taps), np.add, 0)
    # Round half away from zero: C's truncating division of acc +- count/2.
    half = counts // 2
    avg = np.where(acc > 0, (acc + half) // counts, -((half - acc) // counts))
    return _clamp_quantized(op, avg)


@register("MAX_POOL_2D", (np.int8, np.uint8, np.int16, np.float32), shape=pool_shape)
def max_pool_2d(op):
    x = op.inputs[0].data
    lowest = -np.inf if x.dtype == np.float32 else np.iinfo(x.dtype).min
    taps, _ = _windows(op, lowest)
    best = _accumulate(taps, np.maximum, lowest)
    if x.dtype == np.float32:
        return apply_activation_float(best.astype(np.float32), op.options.fused_activation_function)
    return _clamp_quantized(op, best)


@register("L2_POOL_2D", (np.float32,), shape=pool_shape)
def l2_pool_2d(op):
    taps, counts = _windows(op, 0)
    squares = _accumulate((t * t for t in taps), np.add, np.float32(0))
    result = np.sqrt((squares / counts.astype(np.float32)).astype(np.float32))
    return apply_activation_float(result.astype(np.float32), op.options.fused_activation_function)
