"""QUANTIZE (float -> integers, integers -> integers requantization) and DEQUANTIZE.

Mirrors TFLite's quantize.cc / dequantize.cc and reference/quantize.h, dequantize.h,
requantize.h.
"""
from __future__ import annotations

import numpy as np

from ..quant import (INT32_MIN, dtype_range, multiply_by_quantized_multiplier,
                     quantize_multiplier, wrap_int32)
from ..registry import register


def round_half_away(x: np.ndarray) -> np.ndarray:
    """std::round on float32 values, computed exactly in float64."""
    x = np.asarray(x, np.float64)
    return np.copysign(np.floor(np.abs(x) + 0.5), x)


def float_to_int32(x: np.ndarray) -> np.ndarray:
    """static_cast<int32_t> of a rounded float as x86 does it: NaN and values out of the
    int32 range become INT32_MIN (the 'integer indefinite' value)."""
    x = np.asarray(x, np.float64)
    bad = ~np.isfinite(x) | (x >= 2.0 ** 31) | (x < -(2.0 ** 31))
    return np.where(bad, INT32_MIN, np.where(bad, 0, x).astype(np.int64))


def channel_params(t, rank: int):
    """Scales (float32) and zero points (int64) shaped to broadcast along the tensor's
    quantized dimension (scalars when per-tensor)."""
    q = t.quantization
    scales = np.asarray(q.scales, np.float32)
    zps = np.broadcast_to(np.asarray(q.zero_points, np.int64), scales.shape)
    if len(scales) <= 1:
        return np.float32(q.scale), np.int64(q.zero_point)
    shape = [1] * rank
    shape[q.quantized_dimension] = len(scales)
    return scales.reshape(shape), zps.reshape(shape)


def _affine_quantize(x: np.ndarray, out) -> np.ndarray:
    scale, zp = channel_params(out, x.ndim)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        q = x.astype(np.float32) / scale
    raw = wrap_int32(float_to_int32(round_half_away(q)) + zp)
    lo, hi = dtype_range(out.dtype)
    return np.clip(raw, lo, hi).astype(out.dtype)


def _requantize(x: np.ndarray, inp, out) -> np.ndarray:
    mult, shift = quantize_multiplier(float(np.float32(inp.scale)) / float(np.float32(out.scale)))
    centered = wrap_int32(x.astype(np.int64) - inp.zero_point)
    raw = multiply_by_quantized_multiplier(centered, mult, shift) + out.zero_point
    lo, hi = dtype_range(out.dtype)
    return np.clip(raw, lo, hi).astype(out.dtype)


_REQUANTIZE_TARGETS = {
    np.dtype(np.int8): (np.int8, np.uint8), np.dtype(np.uint8): (np.int8, np.uint8),
    np.dtype(np.int16): (np.int8, np.int16, np.int32), np.dtype(np.int32): (np.int8, np.int16),
}


def quantize_shape(op):
    inp, out = op.inputs[0], op.outputs[0]
    if len(out.quantization.scales) == 0:
        raise ValueError("QUANTIZE output tensor %d has no quantization parameters" % out.index)
    if inp.dtype == np.float32:
        allowed = (np.int8, np.uint8, np.int16)
    else:
        allowed = _REQUANTIZE_TARGETS.get(np.dtype(inp.dtype), ())
    if out.dtype not in [np.dtype(d) for d in allowed]:
        raise ValueError("QUANTIZE from %s to %s is not supported" % (inp.dtype, out.dtype))
    if inp.dtype == np.int16 and out.dtype == np.int16 and (inp.zero_point or out.zero_point):
        raise ValueError("QUANTIZE int16 -> int16 needs zero points 0")
    return [inp.shape]


@register("QUANTIZE", (np.float32, np.int8, np.uint8, np.int16, np.int32), shape=quantize_shape)
def quantize(op):
    inp, out = op.inputs[0], op.outputs[0]
    if inp.dtype == np.float32:
        return _affine_quantize(inp.data, out)
    return _requantize(inp.data, inp, out)


def dequantize_shape(op):
    inp = op.inputs[0]
    if inp.dtype == np.int16 and np.any(inp.quantization.zero_points):
        raise ValueError("DEQUANTIZE int16 needs zero point 0 (tensor %d)" % inp.index)
    return [inp.shape]


@register("DEQUANTIZE", (np.int8, np.uint8, np.int16, np.float16), shape=dequantize_shape)
def dequantize(op):
    inp = op.inputs[0]
    if inp.dtype == np.float16:
        return inp.data.astype(np.float32)
    centered = inp.data.astype(np.int64)
    if len(inp.quantization.scales) > 1:
        # PerChannelDequantize multiplies in float32 (float scale times int).
        scale, zp = channel_params(inp, centered.ndim)
        return ((centered - zp).astype(np.float32) * scale).astype(np.float32)
    # Dequantize multiplies in double, then narrows to float.
    return (float(np.float32(inp.scale)) * (centered - inp.zero_point)).astype(np.float32)
