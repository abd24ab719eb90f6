"""SOFTMAX and LOG_SOFTMAX over the last axis, as TFLite's reference kernels compute them.

8-bit inputs use gemmlowp's fixed-point exp / reciprocal / log (reproduced below on int64
arrays holding int32 values); int16 SOFTMAX uses TFLite's two 513-entry int16 lookup tables
(exp on [-10, 0] and 1/(1+x) on [0, 1]) with linear interpolation.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable

import numpy as np

from ..quant import (INT32_MAX, INT32_MIN, dtype_range, multiply_by_quantized_multiplier,
                     multiply_by_quantized_multiplier_greater_than_one, quantize_multiplier,
                     rounding_divide_by_pot, saturating_rounding_doubling_high_mul as srdhm,
                     tflite_round, wrap_int32)
from ..registry import register
from .common import same_as_input

SCALED_DIFF_INTEGER_BITS = 5
ACCUMULATION_INTEGER_BITS = 12


# -- gemmlowp fixed point (fixedpoint.h) on int64 arrays of int32 raw values -------------------

def saturating_shift_left(x, exponent) -> np.ndarray:
    """SaturatingRoundingMultiplyByPOT with a non-negative (scalar or per-element) exponent."""
    threshold = (np.int64(1) << (31 - np.asarray(exponent, np.int64))) - 1
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, x << exponent))


def _exp_on_interval_between_negative_one_quarter_and_0_excl(a: np.ndarray) -> np.ndarray:
    constant_term = 1895147668          # exp(-1/8) in Q0.31
    constant_1_over_3 = 715827883
    x = a + (1 << 28)                   # Taylor expansion around -1/8
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    poly = rounding_divide_by_pot(srdhm(x4_over_4 + x3, constant_1_over_3) + x2, 1)
    return constant_term + srdhm(constant_term, x + poly)


_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
               (2, 39332535), (3, 720401), (4, 242))


def exp_on_negative_values(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """exp(a) for a <= 0 given in Q(integer_bits).(31-integer_bits), integer_bits <= 5
    (gemmlowp clamps below -32 only for wider formats); result in Q0.31."""
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    a_mod_quarter_minus_one_quarter = (a & (one_quarter - 1)) - one_quarter
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(
        saturating_shift_left(a_mod_quarter_minus_one_quarter, integer_bits))
    remainder = a_mod_quarter_minus_one_quarter - a
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent:
            bit = remainder & (1 << (fractional_bits + exponent))
            result = np.where(bit != 0, srdhm(result, multiplier), result)
    return np.where(a == 0, INT32_MAX, result)


def _rounding_half_sum(a, b) -> np.ndarray:
    total = a + b
    return np.where(total >= 0, (total + 1) // 2, -((1 - total) // 2))


def one_over_one_plus_x_for_x_in_0_1(a: np.ndarray) -> np.ndarray:
    """1/(1+a) for a in [0, 1) in Q0.31, by Newton-Raphson in Q2.29."""
    half_denominator = _rounding_half_sum(a, INT32_MAX)
    x = 1515870810 + srdhm(half_denominator, -1010580540)     # 48/17 - 32/17 * d
    for _ in range(3):
        one_minus_half_denominator_times_x = (1 << 29) - srdhm(half_denominator, x)
        x = x + saturating_shift_left(srdhm(x, one_minus_half_denominator_times_x), 2)
    return saturating_shift_left(x, 1)


def log_x_for_x_greater_than_or_equal_to_1(x: np.ndarray, input_integer_bits: int,
                                           output_integer_bits: int) -> np.ndarray:
    """TFLite's log_x_for_x_greater_than_or_equal_to_1_impl: log(x) for x >= 1 given in
    Q(input_integer_bits); the mantissa's log by a rational approximation around
    sqrt(sqrt(0.5)), the exponent times log(2), accumulated with one spare integer bit."""
    accum_bits = output_integer_bits + 1
    log_2, sqrt_sqrt_half, sqrt_half = 1488522236, 1805811301, 1518500250
    alpha_n, alpha_d, alpha_i, alpha_f = 117049297, 127690142, 1057819769, 638450708
    shifted_quarter = rounding_divide_by_pot(np.int64(1 << 29), accum_bits)

    def exponent_in_accum(e):
        return saturating_shift_left(e, 31 - accum_bits)

    z_a_headroom_plus_1 = count_leading_zeros32(x)
    r_a = saturating_shift_left(srdhm(saturating_shift_left(x, z_a_headroom_plus_1 - 1),
                                      sqrt_half), 1)
    z_a_pow_2_adj = np.minimum(
        exponent_in_accum(input_integer_bits - z_a_headroom_plus_1) + shifted_quarter, INT32_MAX)
    z_b_headroom = count_leading_zeros32(srdhm(x, sqrt_half)) - 1
    r_b = saturating_shift_left(x, z_b_headroom)
    z_b_pow_2_adj = np.maximum(
        exponent_in_accum(input_integer_bits - z_b_headroom) - shifted_quarter, INT32_MIN)
    r = np.minimum(r_a, r_b)
    z_pow_2_adj = np.maximum(z_a_pow_2_adj, z_b_pow_2_adj)

    p = _rounding_half_sum(r, sqrt_sqrt_half)
    q = 2 * (r - sqrt_sqrt_half)
    common_sq = srdhm(q, q)
    num = srdhm(q, r) + srdhm(srdhm(q, common_sq), alpha_n)
    denom_minus_one = srdhm(p, alpha_i + q + srdhm(alpha_d, common_sq)) + srdhm(alpha_f, q)
    recip_denom = one_over_one_plus_x_for_x_in_0_1(denom_minus_one)
    num_scaled = rounding_divide_by_pot(num, accum_bits)
    return saturating_shift_left(srdhm(z_pow_2_adj, log_2) + srdhm(num_scaled, recip_denom),
                                 accum_bits - output_integer_bits)


def count_leading_zeros32(x: np.ndarray) -> np.ndarray:
    """__builtin_clz for 0 < x < 2^32 (frexp is exact on these integers)."""
    return 32 - np.frexp(np.asarray(x, np.float64))[1].astype(np.int64)


def get_reciprocal(x: np.ndarray, x_integer_digits: int):
    """TFLite's GetReciprocal: (1/x scaled into Q0.31, num_bits_over_unit)."""
    headroom_plus_one = count_leading_zeros32(x)
    num_bits_over_unit = x_integer_digits - headroom_plus_one
    shifted_sum_minus_one = ((x << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31)
    return one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), num_bits_over_unit


# -- SOFTMAX -----------------------------------------------------------------------------------

def _rows(x: np.ndarray) -> np.ndarray:
    return x.reshape(-1, x.shape[-1]).astype(np.int64)


def _input_radius(integer_bits: int, left_shift: int) -> int:
    """CalculateInputRadius with 31 total signed bits."""
    return int(math.floor(((1 << integer_bits) - 1) * (1 << (31 - integer_bits))
                          / (1 << left_shift)))


def _softmax_scaling(beta: float, scale: float):
    """PreprocessSoftmaxScaling: the Q5.26 input multiplier, its left shift and diff_min."""
    real = min(beta * scale * (1 << (31 - SCALED_DIFF_INTEGER_BITS)), (1 << 31) - 1.0)
    multiplier, shift = quantize_multiplier(real)
    return multiplier, shift, -_input_radius(SCALED_DIFF_INTEGER_BITS, shift)


def _exps_8bit(x: np.ndarray, multiplier: int, shift: int, diff_min: int):
    """Per row of the last axis: (input - row max) rescaled to Q5.26, exp of it in Q0.31,
    which entries count (diff >= diff_min), and the Q12.19 sum of those exps."""
    rows = _rows(x)
    diff = rows - rows.max(axis=1, keepdims=True)
    valid = diff >= diff_min
    # 8-bit differences take at most 256 values: evaluate the fixed-point chain once per value.
    span = np.arange(-255, 1, dtype=np.int64)
    rescaled_table = multiply_by_quantized_multiplier_greater_than_one(span, multiplier, shift)
    exp_table = exp_on_negative_values(rescaled_table, SCALED_DIFF_INTEGER_BITS)
    rescaled, exps = rescaled_table[diff + 255], exp_table[diff + 255]
    sum_of_exps = wrap_int32(np.where(
        valid, rounding_divide_by_pot(exps, ACCUMULATION_INTEGER_BITS), 0).sum(axis=1))
    return diff, rescaled, exps, valid, sum_of_exps


def _softmax_8bit(op) -> np.ndarray:
    x, out = op.inputs[0], op.outputs[0]
    multiplier, shift, diff_min = _softmax_scaling(float(op.options.beta), float(x.scale))
    _, _, exps, valid, sum_of_exps = _exps_8bit(x.data, multiplier, shift, diff_min)
    scale, num_bits_over_unit = get_reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS)
    lo, hi = dtype_range(out.dtype)
    # TFLite aborts when this exceeds 31 (rows whose exps sum past 256 for 8-bit outputs);
    # the int64 arithmetic here just carries on with the same rounding.
    exponent = num_bits_over_unit + 31 - 8 * out.dtype.itemsize
    unsat = rounding_divide_by_pot(srdhm(scale[:, None], exps), exponent[:, None])
    result = np.where(valid, np.clip(unsat + lo, lo, hi), lo)
    return result.astype(out.dtype).reshape(x.data.shape)


def _lut_populate_int16(input_scale: float, input_zero_point: int, output_scale: float,
                        output_zero_point: int, fn: Callable[[float], float]) -> np.ndarray:
    """LUTPopulateInt16 in double: 512 samples nudged so that linear interpolation is
    centred on the function, plus one end point for the last slope."""
    input_min = input_scale * (-32768 - input_zero_point)
    input_max = input_scale * (32767 - input_zero_point)
    output_min = output_scale * (-32768 - output_zero_point)
    output_max = output_scale * (32767 - output_zero_point)
    steps = 512
    step = (input_max - input_min) / steps
    half_step = step / 2
    inv = 65536.0 / (output_max - output_min)
    lut = np.empty(steps + 1, np.int64)
    for i in range(steps):
        val = fn(input_min + i * step)
        val_midpoint = fn(input_min + i * step + half_step)
        val_next = fn(input_min + (i + 1) * step)
        sample = tflite_round(val * inv)
        midpoint_interp = tflite_round((val_next * inv + tflite_round(val * inv)) / 2)
        midpoint_err = midpoint_interp - tflite_round(val_midpoint * inv)
        lut[i] = min(max(sample - tflite_round(midpoint_err / 2), -32768.0), 32767.0)
    lut[steps] = min(max(tflite_round(fn(input_max) * inv), -32768.0), 32767.0)
    return lut


@lru_cache(maxsize=None)
def _softmax_luts():
    span = 65535
    exp_lut = _lut_populate_int16(10.0 / span, 32767, 2.0 / span, 0, math.exp)
    reciprocal_lut = _lut_populate_int16(1.0 / span, -32768, 2.0 / span, 0,
                                         lambda v: 1.0 / (1.0 + v))
    return exp_lut, reciprocal_lut


def _lut_lookup(value: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """LUTLookup for int16: base at value>>7, slope to the next entry, Q0.7 interpolation."""
    index = 256 + (value >> 7)
    offset = value & 0x7F
    base = lut[index]
    slope = lut[index + 1] - base
    return wrap_int16(base + ((slope * offset + 64) >> 7))


def wrap_int16(x: np.ndarray) -> np.ndarray:
    return ((x + 32768) & 0xFFFF) - 32768


def _softmax_int16(op) -> np.ndarray:
    x, out = op.inputs[0], op.outputs[0]
    exp_lut, reciprocal_lut = _softmax_luts()
    # input scale * beta is a float product in TFLite, then rescaled in double.
    real = float(np.float32(x.scale) * np.float32(op.options.beta)) / (10.0 / 65535.0)
    multiplier, shift = quantize_multiplier(real)
    rows = _rows(x.data)
    diff = rows - rows.max(axis=1, keepdims=True)
    scaled = multiply_by_quantized_multiplier(diff, multiplier, shift)
    exps = _lut_lookup(np.clip(scaled + 32767, -32768, 32767), exp_lut)
    sum_of_exps = wrap_int32(exps.sum(axis=1))
    headroom_plus_one = count_leading_zeros32(sum_of_exps)
    shifted_sum = ((sum_of_exps << (headroom_plus_one - 1)) + (1 << 13)) >> 14
    reciprocal = _lut_lookup(np.clip(shifted_sum - ((1 << 15) + (1 << 16)), -32768, 32767),
                             reciprocal_lut)
    right_shift = (31 - headroom_plus_one)[:, None]
    result = (exps * reciprocal[:, None] + (np.int64(1) << (right_shift - 1))) >> right_shift
    return np.clip(result, 0, 32767).astype(np.int16).reshape(x.data.shape)


def _softmax_float(op) -> np.ndarray:
    x = op.inputs[0].data
    beta = np.float32(op.options.beta)
    e = np.exp((x - x.max(axis=-1, keepdims=True)) * beta)
    return (e / e.sum(axis=-1, keepdims=True, dtype=np.float32)).astype(np.float32)


# input dtype -> the output dtypes TFLite's SOFTMAX accepts with it
SOFTMAX_OUTPUTS = {np.dtype(np.float32): (np.float32,), np.dtype(np.int8): (np.int8, np.int16),
                   np.dtype(np.uint8): (np.uint8, np.int16), np.dtype(np.int16): (np.int16,)}


def softmax_shape(op):
    x, out = op.inputs[0], op.outputs[0]
    if len(x.shape) < 1:
        raise ValueError("SOFTMAX needs an input of rank >= 1")
    if out.dtype not in SOFTMAX_OUTPUTS[x.dtype]:
        raise ValueError("%s SOFTMAX cannot output %s" % (x.dtype, out.dtype))
    if x.dtype == np.int16 and len(x.shape) > 4:
        raise ValueError("int16 SOFTMAX supports ranks 1 to 4, got %d" % len(x.shape))
    # Output quantization TFLite's SoftmaxPrepare requires.
    if x.dtype == out.dtype == np.int8 and (
            out.zero_point != -128 or abs(out.scale - 1 / 256) > 0.001 / 256):
        raise ValueError("int8 SOFTMAX needs output scale 1/256 and zero point -128")
    if x.dtype == np.int16 and (x.zero_point != 0 or out.zero_point != 0
                                or abs(out.scale - 1 / 32768) > 0.001 / 32768):
        raise ValueError("int16 SOFTMAX needs zero points of 0 and output scale 1/32768")
    return same_as_input()(op)


@register("SOFTMAX", tuple(SOFTMAX_OUTPUTS), shape=softmax_shape)
def softmax(op):
    dtype = op.inputs[0].dtype
    if dtype == np.float32:
        return _softmax_float(op)
    if dtype == np.int16:
        return _softmax_int16(op)
    return _softmax_8bit(op)


# -- LOG_SOFTMAX -------------------------------------------------------------------------------

def _log_softmax_8bit(op) -> np.ndarray:
    """TFLite's quantized LogSoftmax: output scale 16/256 with the zero point at the top of
    the range (255 or 127), so the output is x - max - log(sum exp) in Q4.-3 steps."""
    x, out = op.inputs[0], op.outputs[0]
    multiplier, shift, diff_min = _softmax_scaling(1.0, float(x.scale))
    reverse_multiplier, reverse_shift = quantize_multiplier((1 << (31 - shift)) / multiplier)
    diff, rescaled, _, _, sum_of_exps = _exps_8bit(x.data, multiplier, shift, diff_min)
    log_sum = log_x_for_x_greater_than_or_equal_to_1(sum_of_exps, ACCUMULATION_INTEGER_BITS,
                                                     SCALED_DIFF_INTEGER_BITS)
    adjusted_diff_min = np.maximum(diff_min - 1, multiply_by_quantized_multiplier(
        log_sum + INT32_MIN, reverse_multiplier, reverse_shift))
    lo, hi = dtype_range(out.dtype)
    output_integer_bits = 4
    unsat = rounding_divide_by_pot(rescaled - log_sum[:, None],
                                   31 - SCALED_DIFF_INTEGER_BITS - output_integer_bits) + hi
    result = np.where(diff > adjusted_diff_min[:, None], np.clip(unsat, lo, hi), lo)
    return result.astype(out.dtype).reshape(x.data.shape)


def log_softmax_shape(op):
    x, out = op.inputs[0], op.outputs[0]
    if len(x.shape) < 1:
        raise ValueError("LOG_SOFTMAX needs an input of rank >= 1")
    if x.dtype != np.float32:
        lo, hi = dtype_range(x.dtype)
        if out.scale != 16.0 / 256 or out.zero_point != hi:
            raise ValueError("quantized LOG_SOFTMAX needs output scale 1/16 and zero point %d"
                             % hi)
    return same_as_input()(op)


@register("LOG_SOFTMAX", (np.float32, np.int8, np.uint8), shape=log_softmax_shape)
def log_softmax(op):
    x = op.inputs[0].data
    if x.dtype != np.float32:
        return _log_softmax_8bit(op)
    shifted = x - x.max(axis=-1, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=-1, keepdims=True, dtype=np.float32))
    return (shifted - log_sum).astype(np.float32)
