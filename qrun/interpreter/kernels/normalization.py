"""Normalizations over the last axis: L2_NORMALIZATION and LOCAL_RESPONSE_NORMALIZATION.

Quantized L2_NORMALIZATION follows TFLite: the int32 sum of squares becomes a fixed-point
1/sqrt multiplier (GetInvSqrtQuantizedMultiplierExp, a Newton-Raphson in Q3.28) and the
output has scale 1/128.
"""
from __future__ import annotations

import numpy as np

from ..quant import (INT32_MAX, dtype_range, multiply_by_quantized_multiplier,
                     rounding_divide_by_pot, saturating_rounding_doubling_high_mul as srdhm,
                     wrap_int32)
from ..registry import register
from ..schema import Activation
from .common import same_as_input
from .softmax import count_leading_zeros32, saturating_shift_left


def inv_sqrt_quantized_multiplier(x: np.ndarray, reverse_shift: int):
    """GetInvSqrtQuantizedMultiplierExp on an array of non-negative int32 values:
    (multiplier, shift) with 1/sqrt(x) = multiplier * 2^(shift * reverse_shift - 31)."""
    tiny = x <= 1                           # 0 and 1 both map to a multiplier of ~1
    x = np.where(tiny, 2, x)
    big = x >= (1 << 29)                    # an int32 needs at most one divide-by-4 step
    x = np.where(big, x // 4, x)
    shift = 11 + big.astype(np.int64)
    pairs = (count_leading_zeros32(x) - 1) // 2 - 1
    shift = shift - pairs
    x = x << (2 * pairs)
    half_input = rounding_divide_by_pot(x >> 1, 1)        # Q3.28
    half_three = (1 << 28) + (1 << 27)
    y = np.full(x.shape, 1 << 28, np.int64)               # Newton-Raphson from 1.0
    for _ in range(5):
        y3 = saturating_shift_left(srdhm(srdhm(y, y), y), 6)
        y = saturating_shift_left(srdhm(half_three, y) - srdhm(half_input, y3), 3)
    y = srdhm(y, 1518500250)                               # times sqrt(2)/2
    y = np.where(shift < 0, wrap_int32(y << np.maximum(-shift, 0)), y)
    shift = np.maximum(shift, 0) * reverse_shift
    return np.where(tiny, INT32_MAX, y), np.where(tiny, 0, shift)


def l2_norm_shape(op):
    x, out = op.inputs[0], op.outputs[0]
    if len(x.shape) > 4:
        raise ValueError("L2_NORMALIZATION supports ranks up to 4, got %d" % len(x.shape))
    if getattr(op.options, "fused_activation_function", Activation.NONE) != Activation.NONE:
        raise ValueError("L2_NORMALIZATION does not support a fused activation")
    if x.dtype != np.float32:
        zero_point = 128 if x.dtype == np.uint8 else 0
        if out.scale != 1.0 / 128 or out.zero_point != zero_point:
            raise ValueError("quantized L2_NORMALIZATION needs output scale 1/128 and zero "
                             "point %d" % zero_point)
    return same_as_input()(op)


@register("L2_NORMALIZATION", (np.float32, np.int8, np.uint8), shape=l2_norm_shape)
def l2_normalization(op):
    x, out = op.inputs[0], op.outputs[0]
    if x.dtype == np.float32:
        norm = np.sqrt(np.sum(x.data * x.data, axis=-1, keepdims=True, dtype=np.float32))
        return (x.data / np.maximum(norm, np.float32(1e-6))).astype(np.float32)
    diff = x.data.astype(np.int64) - x.zero_point
    squares = wrap_int32(np.sum(diff * diff, axis=-1, keepdims=True))
    multiplier, shift = inv_sqrt_quantized_multiplier(squares, -1)
    if x.dtype == np.uint8:
        scaled = rounding_divide_by_pot(srdhm(128 * diff, multiplier), -shift) + 128
    else:
        scaled = multiply_by_quantized_multiplier(diff, multiplier, shift + 7)
    lo, hi = dtype_range(out.dtype)
    return np.clip(scaled, lo, hi).astype(out.dtype)


def lrn_shape(op):
    if len(op.inputs[0].shape) != 4:
        raise ValueError("LOCAL_RESPONSE_NORMALIZATION needs a 4-D input")
    return same_as_input()(op)


@register("LOCAL_RESPONSE_NORMALIZATION", (np.float32,), shape=lrn_shape)
def local_response_normalization(op):
    x = op.inputs[0].data
    o = op.options
    radius = int(o.radius)
    depth = x.shape[-1]
    squares = x * x
    accum = np.zeros_like(x)
    # TFLite's reference kernel sums channels [c - radius, c + radius), clipped to the depth
    # (its optimized kernel includes c + radius), in increasing channel order.
    for offset in range(-radius, radius):
        lo, hi = max(0, -offset), min(depth, depth - offset)
        if lo < hi:
            accum[..., lo:hi] += squares[..., lo + offset:hi + offset]
    multiplier = np.power(np.float32(o.bias) + np.float32(o.alpha) * accum, -np.float32(o.beta))
    return (x * multiplier).astype(np.float32)
