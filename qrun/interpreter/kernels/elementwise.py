"""Elementwise ops with broadcasting: arithmetic, min/max, comparisons, logic, select, pow,
add_n.

Quantized arithmetic follows TFLite's reference kernels (add.cc, sub.cc, mul.cc, div.cc and
reference/*.h): ADD and SUB rescale both inputs to a common 2^left_shift fixed-point scale,
MUL and DIV requantize the product/quotient with one multiplier. Numpy broadcasting gives
the same element pairing as TFLite's BroadcastBinaryOpSimple (up to 6-D).
"""
from __future__ import annotations

import math

import numpy as np

from ..quant import (INT32_MAX, INT32_MIN, activation_range_float, activation_range_quantized,
                     dtype_range, multiply_by_quantized_multiplier, quantize_multiplier,
                     rounding_divide_by_pot, wrap_int32)
from ..quant import saturating_rounding_doubling_high_mul as srdhm
from ..registry import register
from ..schema import Activation
from .common import broadcast_shape, same_as_input

MAX_BROADCAST_RANK = 6


def is_quantized(t) -> bool:
    return t is not None and len(t.quantization.scales) > 0


def binary_shape(op):
    a, b = op.inputs[0].shape, op.inputs[1].shape
    if tuple(a) != tuple(b) and max(len(a), len(b)) > MAX_BROADCAST_RANK:
        raise ValueError("%s broadcasts at most %d dimensions, got %s and %s"
                         % (op.opname, MAX_BROADCAST_RANK, list(a), list(b)))
    return [broadcast_shape(a, b)]


def _quantized_path(t) -> bool:
    """8-bit tensors are always quantized; int16 only when it has quantization parameters."""
    return t.dtype in (np.int8, np.uint8) or (t.dtype == np.int16 and is_quantized(t))


def arithmetic_shape(op):
    """ADD/SUB/MUL: quantized int16 is symmetric (zero points 0)."""
    if op.outputs[0].dtype == np.int16 and is_quantized(op.outputs[0]) and any(
            t.zero_point for t in (op.inputs[0], op.inputs[1], op.outputs[0])):
        raise ValueError("%s int16 needs zero points 0" % op.opname)
    return binary_shape(op)


def _activation(op) -> int:
    return getattr(op.options, "fused_activation_function", Activation.NONE) or Activation.NONE


def _clamp_quantized(op, raw: np.ndarray) -> np.ndarray:
    out = op.outputs[0]
    lo, hi = activation_range_quantized(_activation(op), out.scale, out.zero_point, out.dtype)
    return np.clip(raw, lo, hi).astype(out.dtype)


def _clamp_plain(op, value: np.ndarray) -> np.ndarray:
    """Fused activation on float or unquantized integer results (CalculateActivationRange)."""
    dtype = op.outputs[0].dtype
    lo, hi = activation_range_float(_activation(op))
    if dtype.kind == "f":
        # No activation still clamps to the finite range: inf becomes +-FLT_MAX.
        fmax = float(np.finfo(dtype).max)
        return np.clip(value, max(lo, -fmax), min(hi, fmax)).astype(dtype, copy=False)
    tmin, tmax = dtype_range(dtype)
    lo = tmin if math.isinf(lo) else int(lo)
    hi = tmax if math.isinf(hi) else int(hi)
    return np.clip(value, lo, hi).astype(dtype, copy=False)


# -- ADD / SUB ---------------------------------------------------------------------------------

def checked_log2(scale: float):
    """CheckedLog2 in float32: (rounded log2, whether the scale is a power of two)."""
    x_log2 = np.float32(np.log(np.float32(scale))) * np.float32(1.0 / np.log(np.float32(2.0)))
    rounded = np.float32(np.round(x_log2))
    return int(rounded), abs(float(np.float32(x_log2 - rounded))) < 1e-3


def _int16_pot_shifts(op):
    """The POT int16 path's shifts (None when the general path applies), as add.cc/sub.cc
    choose it: pot_scale_int16 set and all three scales powers of two."""
    a, b, out = op.inputs[0], op.inputs[1], op.outputs[0]
    if out.dtype != np.int16 or not getattr(op.options, "pot_scale_int16", False):
        return None
    logs = [checked_log2(t.scale) for t in (a, b, out)]
    if not all(is_pot for _, is_pot in logs):
        return None
    s1, s2 = logs[0][0] - logs[2][0], logs[1][0] - logs[2][0]
    if not (s1 == 0 or s2 == 0) or s1 > 0 or s2 > 0:
        raise ValueError("%s int16 power-of-two path: input scales must not exceed the output "
                         "scale and one must equal it" % op.opname)
    return s1, s2


def common_scale_multipliers(a, b) -> tuple:
    """The QuantizeMultiplier (multiplier, shift) of each input onto 2 * max(s1, s2), and
    2 * max(s1, s2): ADD/SUB and SQUARED_DIFFERENCE's common scale (over 2^left_shift)."""
    twice_max = 2.0 * max(float(np.float32(a.scale)), float(np.float32(b.scale)))
    return [quantize_multiplier(float(np.float32(t.scale)) / twice_max) for t in (a, b)], \
        twice_max


def _common_scale_terms(a, b, left_shift: int) -> tuple:
    """Both inputs on the scale 2 * max(s1, s2) / 2^left_shift; also returns 2 * max(s1, s2)."""
    multipliers, twice_max = common_scale_multipliers(a, b)
    terms = []
    for t, (mult, shift) in zip((a, b), multipliers):
        shifted = (t.data.astype(np.int64) - t.zero_point) << left_shift
        terms.append(multiply_by_quantized_multiplier(shifted, mult, shift))
    return terms, twice_max


def add_sub_output_multiplier(twice_max: float, left_shift: int, out) -> tuple:
    """ADD/SUB's output QuantizeMultiplier: from the common scale to the output's."""
    return quantize_multiplier(twice_max / (float(1 << left_shift) * float(np.float32(out.scale))))


def _add_sub_quantized(op, sign: int) -> np.ndarray:
    a, b, out = op.inputs[0], op.inputs[1], op.outputs[0]
    pot = _int16_pot_shifts(op)
    if pot is not None:
        x = rounding_divide_by_pot(a.data.astype(np.int64), -pot[0])
        y = rounding_divide_by_pot(b.data.astype(np.int64), -pot[1])
        return _clamp_quantized(op, x + sign * y)
    left_shift = add_sub_left_shift(out.dtype)
    terms, twice_max = _common_scale_terms(a, b, left_shift)
    mult, shift = add_sub_output_multiplier(twice_max, left_shift, out)
    raw = multiply_by_quantized_multiplier(wrap_int32(terms[0] + sign * terms[1]), mult, shift)
    return _clamp_quantized(op, raw + out.zero_point)


def add_sub_left_shift(dtype) -> int:
    """The inputs' shift onto the common scale: 15 for int16, 20 for int8/uint8."""
    return 15 if dtype == np.int16 else 20


def _add_sub(op, sign: int) -> np.ndarray:
    a, b, out = op.inputs[0].data, op.inputs[1].data, op.outputs[0]
    if _quantized_path(out):
        return _add_sub_quantized(op, sign)
    with np.errstate(over="ignore", invalid="ignore"):
        value = a + b if sign > 0 else a - b
    return _clamp_plain(op, value)


@register("ADD", (np.float32, np.int8, np.uint8, np.int16, np.int32, np.int64),
          shape=arithmetic_shape)
def add(op):
    return _add_sub(op, 1)


@register("SUB", (np.float32, np.int8, np.uint8, np.int16, np.int32, np.int64),
          shape=arithmetic_shape)
def sub(op):
    return _add_sub(op, -1)


# -- MUL ---------------------------------------------------------------------------------------

def _div_pow2_trunc(v: np.ndarray, bits: int) -> np.ndarray:
    """C integer division by 2^bits: truncation toward zero."""
    return np.where(v >= 0, v >> bits, -((-v) >> bits))


def srdhm16(a, b) -> np.ndarray:
    """gemmlowp SaturatingRoundingDoublingHighMul on int16 (Q0.15 product)."""
    ab = np.asarray(a, np.int64) * np.asarray(b, np.int64)
    nudge = np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    return np.where((a == -32768) & (b == -32768), 32767, _div_pow2_trunc(ab + nudge, 15))


def sdhm16(a, b) -> np.ndarray:
    """SaturatingDoublingHighMul on int16: the product truncated toward zero."""
    ab = np.asarray(a, np.int64) * np.asarray(b, np.int64)
    return np.where((a == -32768) & (b == -32768), 32767, _div_pow2_trunc(ab, 15))


def _mul_int16_to_8bit(op) -> np.ndarray:
    """int16 x int16 -> int8/uint8 (integer_ops/mul.h): a Q0.15 product scaled by 2^-8;
    the input zero points and scales play no part."""
    a, b, out = op.inputs[0], op.inputs[1], op.outputs[0]
    product = rounding_divide_by_pot(srdhm16(a.data.astype(np.int64), b.data.astype(np.int64)),
                                     8)
    lo, hi = activation_range_quantized(_activation(op), out.scale, out.zero_point, out.dtype)
    return (np.clip(product, lo - out.zero_point, hi - out.zero_point)
            + out.zero_point).astype(out.dtype)


def product_real_multiplier(op) -> np.float32:
    """mul.cc: real_multiplier = s1 * s2 / s_out, evaluated in float32."""
    a, b, out = op.inputs[0], op.inputs[1], op.outputs[0]
    return np.float32(np.float32(np.float32(a.scale) * np.float32(b.scale)) /
                      np.float32(out.scale))


def product_multiplier(op) -> tuple:
    """MUL's QuantizeMultiplier of product_real_multiplier (widened)."""
    return quantize_multiplier(float(product_real_multiplier(op)))


@register("MUL", (np.float32, np.int8, np.uint8, np.int16, np.int32, np.int64),
          shape=arithmetic_shape)
def mul(op):
    a, b, out = op.inputs[0], op.inputs[1], op.outputs[0]
    if a.dtype == np.int16 and out.dtype in (np.int8, np.uint8):
        return _mul_int16_to_8bit(op)
    if _quantized_path(out):
        mult, shift = product_multiplier(op)
        prod = (a.data.astype(np.int64) - a.zero_point) * (b.data.astype(np.int64) - b.zero_point)
        raw = multiply_by_quantized_multiplier(wrap_int32(prod), mult, shift) + out.zero_point
        return _clamp_quantized(op, raw)
    with np.errstate(over="ignore", invalid="ignore"):
        return _clamp_plain(op, a.data * b.data)


# -- DIV ---------------------------------------------------------------------------------------

def saturating_shift_left(x: np.ndarray, exponent: int) -> np.ndarray:
    """gemmlowp SaturatingRoundingMultiplyByPOT with a positive exponent."""
    threshold = (1 << (31 - exponent)) - 1
    return np.where(x > threshold, INT32_MAX,
                    np.where(x < -threshold, INT32_MIN, x << exponent))


def _one_over_one_plus_x(a: np.ndarray) -> np.ndarray:
    """gemmlowp one_over_one_plus_x_for_x_in_0_1 on Q0.31 raws: Newton-Raphson in Q2.29."""
    total = a + INT32_MAX  # RoundingHalfSum(a, One): a >= 0 here, so no sign case
    half_denominator = (total + 1) >> 1
    x = 1515870810 + srdhm(half_denominator, -1010580540)
    for _ in range(3):
        one_minus = (1 << 29) - srdhm(half_denominator, x)
        x = x + saturating_shift_left(srdhm(x, one_minus), 2)
    return saturating_shift_left(x, 1)


def _bit_length(v: np.ndarray) -> np.ndarray:
    """Bits needed for non-negative int64 values below 2^53 (0 for 0)."""
    return np.frexp(v.astype(np.float64))[1].astype(np.int64)


def _reciprocal(x: np.ndarray) -> tuple:
    """GetReciprocal(x, 31): (Q0.31 reciprocal of x scaled into [0.5, 1), bits over unit)."""
    headroom_plus_one = 32 - _bit_length(x)
    shifted_minus_one = (x << headroom_plus_one) - (1 << 31)
    return _one_over_one_plus_x(shifted_minus_one), 31 - headroom_plus_one


def _count_leading_sign_bits(x: np.ndarray) -> np.ndarray:
    magnitude = np.where(x >= 0, x, 2 * -x - 1)
    return 32 - _bit_length(magnitude) - np.where(x >= 0, 1, 0)


def _rounding_divide_by_pot_x86(x: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """RoundingDivideByPOT as LiteRT's x86 build computes it when a zero or +-1 numerator
    pushes the exponent past 31: the mask is (1ll << e) - 1 cut to int32, and the shift
    count is taken modulo 32, as the hardware does."""
    e = np.minimum(np.asarray(exponent, np.int64), 62)
    mask = wrap_int32((np.int64(1) << e) - 1)
    threshold = (mask >> 1) + (x < 0)
    return (x >> (e & 31)) + ((x & mask) > threshold)


def div_shape(op):
    shapes = binary_shape(op)
    b = op.inputs[1]
    if b.dtype.kind in "iu" and b.is_constant and np.any(b.constant == (
            b.zero_point if _quantized_path(b) else 0)):
        raise ValueError("DIV by zero: constant divisor tensor %d holds a zero" % b.index)
    return shapes


def _div_quantized(op) -> np.ndarray:
    a, b, out = op.inputs[0], op.inputs[1], op.outputs[0]
    x = a.data.astype(np.int64) - a.zero_point
    y = b.data.astype(np.int64) - b.zero_point
    if np.any(y == 0):
        raise ValueError("DIV by zero in operator %d" % op.index)
    real = np.float32(a.scale) / np.float32(np.float32(b.scale) * np.float32(out.scale))
    out_mult, out_shift = quantize_multiplier(float(np.float32(real)))
    x, y = np.broadcast_arrays(x, y)
    # The reciprocal needs a positive divisor: flip both signs.
    x = np.where(y < 0, -x, x)
    y = np.abs(y)
    inverse, recip_shift = _reciprocal(y)
    headroom = _count_leading_sign_bits(x)
    unscaled = srdhm(wrap_int32(x << headroom), inverse)
    total_shift = out_shift - recip_shift - headroom
    raw = _rounding_divide_by_pot_x86(srdhm(unscaled, out_mult), -total_shift) + out.zero_point
    return _clamp_quantized(op, raw)


@register("DIV", (np.float32, np.int32, np.int8, np.uint8), shape=div_shape)
def div(op):
    a, b = op.inputs[0].data, op.inputs[1].data
    if _quantized_path(op.outputs[0]):
        return _div_quantized(op)
    if a.dtype == np.int32:
        if np.any(b == 0):
            raise ValueError("DIV by zero in operator %d" % op.index)
        a64, b64 = a.astype(np.int64), b.astype(np.int64)
        quotient = np.abs(a64) // np.abs(b64) * np.sign(a64) * np.sign(b64)
        return _clamp_plain(op, wrap_int32(quotient))
    with np.errstate(divide="ignore", invalid="ignore"):
        return _clamp_plain(op, a / b)


# -- SQUARED_DIFFERENCE, FLOOR_DIV, FLOOR_MOD --------------------------------------------------

def four_d_binary_shape(op):
    a, b = op.inputs[0].shape, op.inputs[1].shape
    if tuple(a) != tuple(b) and max(len(a), len(b)) > 4:
        raise ValueError("%s broadcasts at most 4 dimensions, got %s and %s"
                         % (op.opname, list(a), list(b)))
    return binary_shape(op)


@register("SQUARED_DIFFERENCE", (np.float32, np.int32, np.int8), shape=four_d_binary_shape)
def squared_difference(op):
    a, b, out = op.inputs[0], op.inputs[1], op.outputs[0]
    if out.dtype == np.int8:
        left_shift = 7
        terms, twice_max = _common_scale_terms(a, b, left_shift)
        diff = terms[0] - terms[1]
        denominator = float(np.float32((1 << 2 * left_shift) * np.float32(out.scale)))
        mult, shift = quantize_multiplier(twice_max * twice_max / denominator)
        raw = multiply_by_quantized_multiplier(wrap_int32(diff * diff), mult, shift)
        lo, hi = dtype_range(np.int8)
        return np.clip(raw + out.zero_point, lo, hi).astype(np.int8)
    with np.errstate(over="ignore", invalid="ignore"):
        diff = a.data - b.data
        return (diff * diff).astype(out.dtype)


@register("FLOOR_DIV", (np.float32, np.int32, np.int16, np.int8), shape=four_d_binary_shape)
def floor_div(op):
    a, b = op.inputs[0].data, op.inputs[1].data
    if np.any(b == 0):
        raise ValueError("FLOOR_DIV by zero in operator %d" % op.index)
    # std::floor of the quotient taken in double.
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.floor(a.astype(np.float64) / b.astype(np.float64))
    return q.astype(op.outputs[0].dtype)


@register("FLOOR_MOD", (np.float32, np.int32, np.int64, np.int16, np.int8),
          shape=four_d_binary_shape)
def floor_mod(op):
    a, b = op.inputs[0].data, op.inputs[1].data
    if a.dtype.kind == "i":
        if np.any(b == 0):
            raise ValueError("FLOOR_MOD by zero in operator %d" % op.index)
        return np.mod(a, b).astype(a.dtype)
    with np.errstate(invalid="ignore"):
        trunc_mod = np.fmod(a, b)
        fix = (trunc_mod != 0) & ((b < 0) != (trunc_mod < 0))
        return np.where(fix, trunc_mod + b, trunc_mod).astype(a.dtype)


# -- MAXIMUM / MINIMUM -------------------------------------------------------------------------

_ALL_NUMERIC = (np.float32, np.int8, np.uint8, np.int16, np.int32, np.int64)


@register("MAXIMUM", _ALL_NUMERIC, shape=binary_shape)
def maximum(op):
    a, b = op.inputs[0].data, op.inputs[1].data
    # el1 > el2 ? el1 : el2, including its NaN behaviour; quantized values compare raw.
    return np.where(a > b, a, b).astype(op.outputs[0].dtype)


@register("MINIMUM", _ALL_NUMERIC, shape=binary_shape)
def minimum(op):
    a, b = op.inputs[0].data, op.inputs[1].data
    return np.where(a < b, a, b).astype(op.outputs[0].dtype)


# -- comparisons -------------------------------------------------------------------------------

def _comparable(op) -> tuple:
    """The operands as compared: 8-bit values rescaled to 2^8 * real (comparisons.cc)."""
    a, b = op.inputs[0], op.inputs[1]
    if a.dtype not in (np.int8, np.uint8):
        return a.data, b.data
    values = []
    for t in (a, b):
        mult, shift = quantize_multiplier(float(np.float32(t.scale)))
        shifted = (t.data.astype(np.int64) - t.zero_point) << 8
        values.append(multiply_by_quantized_multiplier(shifted, mult, shift))
    return values[0], values[1]


def _comparison(name: str, fn, dtypes) -> None:
    @register(name, dtypes, shape=four_d_binary_shape)
    def kernel(op):
        return fn(*_comparable(op))
    kernel.__name__ = name.lower()


_COMPARED = (np.float32, np.int8, np.uint8, np.int16, np.int32, np.int64)
_comparison("EQUAL", np.equal, _COMPARED + (np.bool_,))
# LiteRT's NOT_EQUAL has no int16 kernel (it leaves the output unwritten); neither has qrun.
_comparison("NOT_EQUAL", np.not_equal,
            tuple(d for d in _COMPARED if d != np.int16) + (np.bool_,))
_comparison("LESS", np.less, _COMPARED)
_comparison("LESS_EQUAL", np.less_equal, _COMPARED)
_comparison("GREATER", np.greater, _COMPARED)
_comparison("GREATER_EQUAL", np.greater_equal, _COMPARED)


# -- logical -----------------------------------------------------------------------------------

@register("LOGICAL_AND", (np.bool_,), shape=four_d_binary_shape)
def logical_and(op):
    return np.logical_and(op.inputs[0].data, op.inputs[1].data)


@register("LOGICAL_OR", (np.bool_,), shape=four_d_binary_shape)
def logical_or(op):
    return np.logical_or(op.inputs[0].data, op.inputs[1].data)


@register("LOGICAL_NOT", (np.bool_,), shape=same_as_input())
def logical_not(op):
    return np.logical_not(op.inputs[0].data)


# -- SELECT / SELECT_V2 (the dtype key is the value input 1) -----------------------------------

_SELECTABLE = (np.bool_, np.float32, np.int8, np.uint8, np.int16, np.int32, np.int64)


def select_shape(op):
    cond, x, y = (op.inputs[i].shape for i in range(3))
    if tuple(x) != tuple(y):
        raise ValueError("SELECT values must have the same shape, got %s and %s"
                         % (list(x), list(y)))
    rank_one = len(cond) == 1 and len(x) >= 1 and cond[0] == x[0]
    if tuple(cond) != tuple(x) and not rank_one:
        raise ValueError("SELECT condition %s must match the values %s or be their first "
                         "dimension" % (list(cond), list(x)))
    return [tuple(x)]


@register("SELECT", _SELECTABLE, shape=select_shape, dtype_input=1)
def select(op):
    cond, x, y = (op.inputs[i].data for i in range(3))
    if cond.shape != x.shape:
        cond = cond.reshape(cond.shape + (1,) * (x.ndim - 1))
    return np.where(cond, x, y)


def select_v2_shape(op):
    shapes = [op.inputs[i].shape for i in range(3)]
    if len({tuple(s) for s in shapes}) > 1 and max(len(s) for s in shapes) > 5:
        raise ValueError("SELECT_V2 broadcasts at most 5 dimensions")
    return [broadcast_shape(*shapes)]


@register("SELECT_V2", _SELECTABLE, shape=select_v2_shape, dtype_input=1)
def select_v2(op):
    return np.where(op.inputs[0].data, op.inputs[1].data, op.inputs[2].data)


# -- POW, ADD_N --------------------------------------------------------------------------------

@register("POW", (np.float32, np.int32), shape=four_d_binary_shape)
def pow_(op):
    a, b = op.inputs[0].data, op.inputs[1].data
    if a.dtype == np.float32:
        with np.errstate(all="ignore"):
            return np.power(a.astype(np.float64), b.astype(np.float64)).astype(np.float32)
    if np.any(b < 0):
        raise ValueError("POW: integer to negative integer powers are not allowed")
    with np.errstate(over="ignore"):
        return np.power(a, b)   # wraps like the int32 square-and-multiply loop


def add_n_shape(op):
    shapes = {tuple(t.shape) for t in op.inputs}
    if len(shapes) != 1:
        raise ValueError("ADD_N inputs must all have the same shape, got %s" % sorted(shapes))
    return [op.inputs[0].shape]


@register("ADD_N", (np.float32, np.int32), shape=add_n_shape)
def add_n(op):
    total = op.inputs[0].data.copy()
    with np.errstate(over="ignore"):
        for t in op.inputs[1:]:
            total += t.data
    return total
