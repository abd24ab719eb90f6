"""TFLite's fixed-point arithmetic, vectorized: the exact integer steps its reference kernels take.

Every function here mirrors one in tensorflow/lite/kernels/internal (quantization_util.cc,
common.h, gemmlowp's fixedpoint.h) bit for bit, on int64 numpy arrays.
"""
from __future__ import annotations

import math
from typing import Tuple

import numpy as np

from .schema import Activation

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def tflite_round(x: float) -> float:
    """std::round: halves away from zero."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def quantize_multiplier(m: float) -> Tuple[int, int]:
    """QuantizeMultiplier: m = q * 2^(shift - 31), q an int32 in [2^30, 2^31)."""
    if m == 0.0:
        return 0, 0
    q, shift = math.frexp(m)
    q_fixed = int(tflite_round(q * (1 << 31)))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    return q_fixed, shift


def quantize_multipliers(ms) -> Tuple[np.ndarray, np.ndarray]:
    pairs = [quantize_multiplier(float(m)) for m in np.ravel(ms)]
    return (np.array([p[0] for p in pairs], np.int64), np.array([p[1] for p in pairs], np.int64))


def saturating_rounding_doubling_high_mul(a, b) -> np.ndarray:
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    ab = a * b
    # Nudge 2^30 (1 - 2^30 when negative), then divide by 2^31 truncating toward zero;
    # sign masks instead of np.where: these run over every output element.
    ab += (1 << 30) + ((ab >> 63) & (1 - (1 << 31)))
    ab += (ab >> 63) & ((1 << 31) - 1)
    ab >>= 31
    if np.any(b == INT32_MIN):
        ab = np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, ab)
    return ab


def rounding_divide_by_pot(x, exponent) -> np.ndarray:
    x = np.asarray(x, np.int64)
    exponent = np.asarray(exponent, np.int64)
    half = (np.int64(1) << exponent) >> 1
    # Halves away from zero: add half, less one when x < 0 (and exponent > 0).
    return (x + half + ((x >> 63) & -(half > 0).astype(np.int64))) >> exponent


def wrap_int32(x) -> np.ndarray:
    """Two's-complement wrap of int64 values to int32 range, as C int32 arithmetic does."""
    x = np.asarray(x, np.int64)
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def multiply_by_quantized_multiplier(x, multiplier, shift) -> np.ndarray:
    """MultiplyByQuantizedMultiplier (the double-rounding form TFLite builds by default).

    `multiplier` and `shift` may be scalars or arrays broadcast against x (per channel).
    """
    x = np.asarray(x, np.int64)
    shift = np.asarray(shift, np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    return rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(wrap_int32(x << left), multiplier), right)


def multiply_by_quantized_multiplier_smaller_than_one(x, multiplier, right_shift) -> np.ndarray:
    """MultiplyByQuantizedMultiplierSmallerThanOneExp with a right shift given as positive."""
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, multiplier), right_shift)


def multiply_by_quantized_multiplier_greater_than_one(x, multiplier, left_shift) -> np.ndarray:
    return saturating_rounding_doubling_high_mul(
        wrap_int32(np.asarray(x, np.int64) << np.asarray(left_shift, np.int64)), multiplier)


def dtype_range(dtype) -> Tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def quantize_value(value: float, scale: float, zero_point: int) -> int:
    """The int that TFLite's CalculateActivationRangeQuantized uses for a real bound."""
    return zero_point + int(tflite_round(np.float32(value) / np.float32(scale)))


def activation_range_quantized(activation: int, scale: float, zero_point: int,
                               dtype) -> Tuple[int, int]:
    """CalculateActivationRangeQuantized: the clamp a fused activation applies, in the
    output's integer domain."""
    qmin, qmax = dtype_range(dtype)
    if activation == Activation.RELU:
        return max(qmin, quantize_value(0.0, scale, zero_point)), qmax
    if activation == Activation.RELU6:
        return (max(qmin, quantize_value(0.0, scale, zero_point)),
                min(qmax, quantize_value(6.0, scale, zero_point)))
    if activation == Activation.RELU_N1_TO_1:
        return (max(qmin, quantize_value(-1.0, scale, zero_point)),
                min(qmax, quantize_value(1.0, scale, zero_point)))
    if activation == Activation.NONE:
        return qmin, qmax
    raise NotImplementedError("fused activation %d is not supported on quantized tensors"
                              % activation)


def activation_range_float(activation: int) -> Tuple[float, float]:
    if activation == Activation.RELU:
        return 0.0, math.inf
    if activation == Activation.RELU6:
        return 0.0, 6.0
    if activation == Activation.RELU_N1_TO_1:
        return -1.0, 1.0
    if activation == Activation.NONE:
        return -math.inf, math.inf
    raise NotImplementedError("fused activation %d is not supported on float tensors" % activation)


def apply_activation_float(x: np.ndarray, activation: int) -> np.ndarray:
    if activation == Activation.TANH:
        return np.tanh(x)
    if activation == Activation.SIGN_BIT:
        return np.signbit(x).astype(x.dtype)
    lo, hi = activation_range_float(activation)
    if math.isinf(lo) and math.isinf(hi):
        return x
    return np.clip(x, lo, hi).astype(x.dtype, copy=False)
