"""Activation ops: RELU family, LOGISTIC, TANH, HARD_SWISH, LEAKY_RELU, PRELU, ELU, GELU.

Mirrors TFLite's activations.cc with the reference kernels: 8-bit LOGISTIC/TANH/ELU go
(and GELU) through a 256-entry table built as LUTPopulate builds it; int16 LOGISTIC/TANH use the
sigmoid_table_uint16 interpolation of reference/integer_ops/{logistic,tanh}.h; quantized
HARD_SWISH is the int16 fixed-point algorithm of reference/hard_swish.h.
"""
from __future__ import annotations

import math

import numpy as np

from ..quant import (dtype_range, multiply_by_quantized_multiplier, quantize_multiplier,
                     quantize_value, rounding_divide_by_pot)
from ..registry import register
from .common import broadcast_shape
from .elementwise import checked_log2, sdhm16, srdhm16
from .quantize import round_half_away

EIGHT_BIT = (np.int8, np.uint8)


def _f32(x: float) -> np.float32:
    return np.float32(x)


def _f32_ratio(num: float, den: float) -> float:
    """A float32 quotient widened to double, as `double m = a->scale / b->scale` does."""
    return float(np.float32(_f32(num) / _f32(den)))


def _same_type_shape(op):
    inp, out = op.inputs[0], op.outputs[0]
    if inp.dtype != out.dtype:
        raise ValueError("%s input type %s differs from output type %s"
                         % (op.opname, inp.dtype, out.dtype))
    return [inp.shape]


def _require_symmetric_int16(op):
    inp, out = op.inputs[0], op.outputs[0]
    if inp.dtype == np.int16 and (inp.zero_point or out.zero_point):
        raise ValueError("%s int16 needs zero points 0" % op.opname)


# -- lookup tables -----------------------------------------------------------------------------

def libm_f32(fn, x: np.ndarray) -> np.ndarray:
    """A float32 libm function evaluated in double and rounded once: the correctly
    rounded float result, which is what glibc gives."""
    with np.errstate(all="ignore"):
        return fn(np.asarray(x).astype(np.float64)).astype(np.float32)


def _sigmoid_f32(x: np.ndarray) -> np.ndarray:
    e = libm_f32(np.exp, -x)
    return np.float32(1.0) / (np.float32(1.0) + e)


def _elu_f32(x: np.ndarray) -> np.ndarray:
    return np.where(x < 0, libm_f32(np.expm1, x), x).astype(np.float32)


def lut_populate(op, transform) -> np.ndarray:
    """LUTPopulate<int8/uint8>: the output integer for each input integer, in float32."""
    inp, out = op.inputs[0], op.outputs[0]
    lo, hi = dtype_range(inp.dtype)
    values = np.arange(lo, hi + 1, dtype=np.int64)
    dequantized = _f32(inp.scale) * (values - inp.zero_point).astype(np.float32)
    transformed = transform(dequantized.astype(np.float32))
    inverse_scale = np.float32(1.0) / _f32(out.scale)
    rescaled = round_half_away(np.float32(transformed * inverse_scale)).astype(np.float32)
    quantized = np.trunc((rescaled + np.float32(out.zero_point)).astype(np.float64))
    return np.clip(quantized, lo, hi).astype(out.dtype)


def lookup(op, table: np.ndarray) -> np.ndarray:
    lo, _ = dtype_range(op.inputs[0].dtype)
    return table[op.inputs[0].data.astype(np.int64) - lo]


def _wrap_int16(x: np.ndarray) -> np.ndarray:
    return ((x + (1 << 15)) & 0xFFFF) - (1 << 15)


def lut_populate_int16(op, transform) -> np.ndarray:
    """LUTPopulate<int16_t> (float arithmetic): 512 samples over the input range plus an
    end point, each biased by half the midpoint interpolation error."""
    inp, out = op.inputs[0], op.outputs[0]
    f32 = np.float32
    input_min = f32(inp.scale) * f32(-32768 - inp.zero_point)
    input_max = f32(inp.scale) * f32(32767 - inp.zero_point)
    output_min = f32(out.scale) * f32(-32768 - out.zero_point)
    output_max = f32(out.scale) * f32(32767 - out.zero_point)
    step = (input_max - input_min) / f32(512)
    half_step = step / f32(2)
    scaling_inv = f32(65536) / (output_max - output_min)
    i = np.arange(512, dtype=np.float32)

    def rounded(x):
        return round_half_away(x).astype(np.float32)

    val = transform(input_min + i * step)
    val_mid = transform(input_min + i * step + half_step)
    val_next = transform(input_min + (i + f32(1)) * step)
    sample = rounded(val * scaling_inv)
    mid_interp = rounded((val_next * scaling_inv + sample) / f32(2))
    mid_err = mid_interp - rounded(val_mid * scaling_inv)
    table = sample - rounded(mid_err / f32(2))
    last = rounded(transform(np.array([input_max], np.float32)) * scaling_inv)
    return np.clip(np.concatenate([table, last]), -32768, 32767).astype(np.int64)


def lookup_int16(op, table: np.ndarray) -> np.ndarray:
    """LUTLookup for int16: linear interpolation between the 513 table entries."""
    v = op.inputs[0].data.astype(np.int64)
    index = 256 + (v >> 7)
    base = table[index]
    slope = _wrap_int16(table[index + 1] - base)
    return _wrap_int16(base + ((slope * (v & 0x7F) + 64) >> 7)).astype(np.int16)


# -- RELU family -------------------------------------------------------------------------------

def _relu_x(op, act_min: float, act_max: float) -> np.ndarray:
    inp, out = op.inputs[0], op.outputs[0]
    if inp.dtype == np.float32:
        return np.clip(inp.data, np.float32(act_min), np.float32(act_max)).astype(np.float32)
    qmin, qmax = dtype_range(out.dtype)
    lo = max(qmin, quantize_value(act_min, out.scale, out.zero_point))
    hi = qmax if np.isinf(act_max) else min(qmax, quantize_value(act_max, out.scale,
                                                                 out.zero_point))
    mult, shift = quantize_multiplier(_f32_ratio(inp.scale, out.scale))
    raw = multiply_by_quantized_multiplier(inp.data.astype(np.int64) - inp.zero_point,
                                           mult, shift) + out.zero_point
    return np.clip(raw, lo, hi).astype(out.dtype)


def relu_shape(op):
    _require_symmetric_int16(op)
    return _same_type_shape(op)


@register("RELU", (np.float32, np.int8, np.uint8, np.int16), shape=relu_shape)
def relu(op):
    return _relu_x(op, 0.0, np.inf)


@register("RELU6", (np.float32, np.int8, np.uint8, np.int16), shape=relu_shape)
def relu6(op):
    return _relu_x(op, 0.0, 6.0)


@register("RELU_N1_TO_1", (np.float32, np.int8, np.uint8), shape=relu_shape)
def relu_n1_to_1(op):
    return _relu_x(op, -1.0, 1.0)


@register("RELU_0_TO_1", (np.float32, np.int8, np.uint8), shape=relu_shape)
def relu_0_to_1(op):
    return _relu_x(op, 0.0, 1.0)


# -- LOGISTIC / TANH ---------------------------------------------------------------------------

# sigmoid(i / 24) in 0.16 fixed point (TFLite's sigmoid_table_uint16); TANH reads it too,
# through tanh(x) = 2 * sigmoid(2x) - 1.
SIGMOID_TABLE = np.array([
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794,
    41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443,
    48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169, 53581, 53983, 54374,
    54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433, 57724, 58007, 58280, 58544,
    58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110, 61279,
    61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990,
    63090, 63186, 63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968, 64030,
    64090, 64148, 64204, 64257, 64308, 64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652,
    64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019,
    65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234,
    65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360,
    65367, 65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474, 65476,
    65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498, 65500, 65501,
    65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513, 65514, 65515, 65516,
    65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524,
    65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529,
    65529, 65530, 65530, 65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532,
    65532, 65532, 65532, 65533, 65533, 65533, 65533, 65533, 65533, 65533, 65533, 65534, 65534,
    65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65535], dtype=np.int64)


def _int16_input_rescale(op, pot_shifts):
    """(multiplier, left shift) of the int16 TANH/LOGISTIC Prepare: a power-of-two input
    scale keeps a pure shift; any other scale gets a multiplier onto 1/(3*4096)."""
    inp, out = op.inputs[0], op.outputs[0]
    log2, is_pot = checked_log2(inp.scale)
    left_shift = 12 + log2
    if is_pot and left_shift in pot_shifts:
        return 0, left_shift
    multiplier = float(np.float32(inp.scale)) * 4096.0 * 3.0
    left_shift = 0
    while multiplier <= 32767.0 / 2.0 and left_shift <= 30:
        left_shift += 1
        multiplier *= 2.0
    return int(multiplier), left_shift


def _int16_sigmoid_interp(op, pot_shifts, frac_bits: int) -> tuple:
    """The shared front of the int16 LOGISTIC/TANH kernels: rescaled input and the
    interpolated table value at |input| with `frac_bits` fractional bits per table step."""
    mult, shift = _int16_input_rescale(op, pot_shifts)
    if mult == 0:
        mult, shift = 3 << shift, 0
    rnd = 1 << (shift - 1) if shift > 0 else 0
    x = (op.inputs[0].data.astype(np.int64) * mult + rnd) >> shift
    ax = np.abs(x)
    uh = ax >> frac_bits
    saturated = uh >= 255
    idx = np.minimum(uh, 254)
    ua, ub = SIGMOID_TABLE[idx], SIGMOID_TABLE[idx + 1]
    interp = (ua << frac_bits) + (ax & ((1 << frac_bits) - 1)) * (ub - ua)
    return x, saturated, interp


def _check_int16_unit_output(op, log2_out: int):
    out = op.outputs[0]
    log2, is_pot = checked_log2(out.scale)
    if not is_pot or log2 != log2_out:
        raise ValueError("%s int16 output scale must be 2^%d" % (op.opname, log2_out))


def logistic_shape(op):
    inp, out = op.inputs[0], op.outputs[0]
    if inp.dtype in (np.int8, np.uint8) and _f32(out.scale) != np.float32(1.0 / 256):
        raise ValueError("LOGISTIC 8-bit output scale must be 1/256")
    if inp.dtype == np.int16:
        _require_symmetric_int16(op)
        _check_int16_unit_output(op, -15)
    return _same_type_shape(op)


@register("LOGISTIC", (np.float32, np.int8, np.uint8, np.int16), shape=logistic_shape)
def logistic(op):
    inp = op.inputs[0]
    if inp.dtype == np.float32:
        x = inp.data
        mid = _sigmoid_f32(np.clip(x, -9.0, 16.619047164916992188).astype(np.float32))
        small = libm_f32(np.exp, np.minimum(x, 0).astype(np.float32))
        return np.where(x > np.float32(16.619047164916992188), np.float32(1.0),
                        np.where(x < np.float32(-9.0), small, mid)).astype(np.float32)
    if inp.dtype == np.int16:
        x, saturated, interp = _int16_sigmoid_interp(op, (0,), 9)
        result = np.where(saturated, 0x7FFF << 10, interp)
        result = np.where(x >= 0, result + (1 << 9), (1 << 25) - result + (1 << 9) - 1)
        return (result >> 10).astype(np.int16)
    return lookup(op, lut_populate(op, _sigmoid_f32))


def tanh_shape(op):
    if op.inputs[0].dtype == np.int16:
        _require_symmetric_int16(op)
        _check_int16_unit_output(op, -15)
    return _same_type_shape(op)


@register("TANH", (np.float32, np.int8, np.uint8, np.int16), shape=tanh_shape)
def tanh(op):
    inp = op.inputs[0]
    if inp.dtype == np.float32:
        return libm_f32(np.tanh, inp.data)
    if inp.dtype == np.int16:
        x, saturated, interp = _int16_sigmoid_interp(op, (0, 1), 8)
        result = np.where(saturated, 0xFFFF << 8, interp)
        result = np.where(x >= 0, result - (1 << 23) + (1 << 7),
                          -result + (1 << 23) + (1 << 7) - 1)
        return (result >> 8).astype(np.int16)
    return lookup(op, lut_populate(op, lambda v: libm_f32(np.tanh, v)))


# -- HARD_SWISH --------------------------------------------------------------------------------

def _int16_multiplier(m: float) -> tuple:
    """QuantizeMultiplier then DownScaleInt32ToInt16Multiplier."""
    q, exponent = quantize_multiplier(m)
    if q >= (1 << 31) - 1 - (1 << 15):
        return (1 << 15) - 1, exponent
    return (q + (1 << 15)) >> 16, exponent


def _saturating_left_shift16(v, amount: int) -> np.ndarray:
    return np.clip(np.asarray(v, np.int64) * (1 << amount), -32768, 32767)


def hard_swish_shape(op):
    out = op.outputs[0]
    if out.dtype in EIGHT_BIT:
        hires = np.float32(1.0 / 128.0) * _f32(op.inputs[0].scale)
        if quantize_multiplier(float(np.float32(hires / _f32(out.scale))))[1] > 0:
            raise ValueError("HARD_SWISH output multiplier must not exceed 1")
    return _same_type_shape(op)


@register("HARD_SWISH", (np.float32, np.int8, np.uint8), shape=hard_swish_shape)
def hard_swish(op):
    inp, out = op.inputs[0], op.outputs[0]
    if inp.dtype == np.float32:
        x = inp.data
        with np.errstate(over="ignore", invalid="ignore"):
            return (x * np.minimum(np.float32(6), np.maximum(np.float32(0), x + np.float32(3)))
                    / np.float32(6)).astype(np.float32)
    hires_scale = np.float32(1.0 / 128.0) * _f32(inp.scale)
    out_mult, out_exp = _int16_multiplier(float(np.float32(hires_scale / _f32(out.scale))))
    relu_mult, relu_exp = _int16_multiplier(
        float(np.float32(hires_scale / np.float32(3.0 / 32768.0))))
    hires = (inp.data.astype(np.int64) - inp.zero_point) * (1 << 7)
    preshift_out = srdhm16(hires, out_mult)
    reluish = hires
    if relu_exp > 0:
        reluish = _saturating_left_shift16(reluish, relu_exp - 1)
    reluish = srdhm16(reluish, relu_mult)
    if relu_exp > 0:
        reluish = _saturating_left_shift16(reluish, 1)
    if relu_exp < 0:
        reluish = rounding_divide_by_pot(reluish, -relu_exp)
    reluish = (reluish + (1 << 15)) >> 1
    value = rounding_divide_by_pot(sdhm16(reluish, preshift_out), -out_exp) + out.zero_point
    lo, hi = dtype_range(out.dtype)
    return np.clip(value, lo, hi).astype(out.dtype)


# -- LEAKY_RELU / PRELU / ELU ------------------------------------------------------------------

def _leaky_relu_shape(op):
    _require_symmetric_int16(op)
    return _same_type_shape(op)


@register("LEAKY_RELU", (np.float32, np.int8, np.uint8, np.int16), shape=_leaky_relu_shape)
def leaky_relu(op):
    inp, out = op.inputs[0], op.outputs[0]
    alpha = np.float32(getattr(op.options, "alpha", 0.0))
    if inp.dtype == np.float32:
        return np.where(inp.data > 0, inp.data, inp.data * alpha).astype(np.float32)
    alpha_mult = float(np.float32(_f32(inp.scale) * alpha) / _f32(out.scale))
    ma, sa = quantize_multiplier(float(np.float32(alpha_mult)))
    mi, si = quantize_multiplier(_f32_ratio(inp.scale, out.scale))
    x = inp.data.astype(np.int64) - inp.zero_point
    # A negative alpha is applied as its magnitude, then negated (reference/leaky_relu.h).
    negative = multiply_by_quantized_multiplier(x, abs(ma), sa) * (-1 if ma < 0 else 1)
    raw = np.where(x >= 0, multiply_by_quantized_multiplier(x, mi, si), negative) + out.zero_point
    lo, hi = dtype_range(out.dtype)
    return np.clip(raw, lo, hi).astype(out.dtype)


def prelu_shape(op):
    inp, alpha = op.inputs[0], op.inputs[1]
    if inp.dtype != alpha.dtype:
        raise ValueError("PRELU alpha type %s differs from input type %s"
                         % (alpha.dtype, inp.dtype))
    shape = broadcast_shape(inp.shape, alpha.shape)
    if tuple(shape) != tuple(inp.shape):
        raise ValueError("PRELU alpha %s must broadcast to the input shape %s"
                         % (list(alpha.shape), list(inp.shape)))
    if tuple(inp.shape) != tuple(alpha.shape) and len(shape) > 4:
        raise ValueError("PRELU broadcasts at most 4 dimensions")
    return [shape]


@register("PRELU", (np.float32, np.int8, np.uint8), shape=prelu_shape)
def prelu(op):
    inp, alpha, out = op.inputs[0], op.inputs[1], op.outputs[0]
    if inp.dtype == np.float32:
        return np.where(inp.data >= 0, inp.data, inp.data * alpha.data).astype(np.float32)
    m1, s1 = quantize_multiplier(_f32_ratio(inp.scale, out.scale))
    m2, s2 = quantize_multiplier(float(np.float32(
        np.float32(_f32(inp.scale) * _f32(alpha.scale)) / _f32(out.scale))))
    x = inp.data.astype(np.int64) - inp.zero_point
    a = alpha.data.astype(np.int64) - alpha.zero_point
    raw = np.where(x >= 0, multiply_by_quantized_multiplier(x, m1, s1),
                   multiply_by_quantized_multiplier(x * a, m2, s2)) + out.zero_point
    lo, hi = dtype_range(out.dtype)
    return np.clip(raw, lo, hi).astype(out.dtype)


@register("ELU", (np.float32, np.int8), shape=_same_type_shape)
def elu(op):
    inp = op.inputs[0]
    if inp.dtype == np.float32:
        return _elu_f32(inp.data)
    return lookup(op, lut_populate(op, _elu_f32))



# -- GELU --------------------------------------------------------------------------------------

def _erfc_f32(x: np.ndarray) -> np.ndarray:
    """erfcf, correctly rounded (math.erfc per value: only used on 256-entry tables)."""
    return np.array([math.erfc(float(v)) for v in np.ravel(x)], np.float64).reshape(
        np.shape(x)).astype(np.float32)


def _erfc_approx(x: np.ndarray) -> np.ndarray:
    """erfc for float tensors: the Chebyshev fit of Numerical Recipes (relative error
    below 1.2e-7, within the float tolerance), vectorized."""
    z = np.abs(x.astype(np.float64))
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    with np.errstate(under="ignore"):
        ans = t * np.exp(-z * z + poly)
    return np.where(x >= 0, ans, 2.0 - ans).astype(np.float32)


def _gelu(x: np.ndarray, approximate: bool, erfc) -> np.ndarray:
    """GeluTransform / GeluTransformApproximate in float32 (reference/gelu.h)."""
    f32 = np.float32
    half_x = f32(0.5) * x
    if approximate:
        k = f32(2.0 / math.sqrt(math.pi) * math.sqrt(0.5))
        inner = k * x * (f32(1.0) + f32(0.044715) * x * x)
        return half_x * (f32(1.0) + libm_f32(np.tanh, inner))
    return half_x * erfc(x * f32(-math.sqrt(0.5)))


@register("GELU", (np.float32, np.int8, np.uint8), shape=_same_type_shape)
def gelu(op):
    inp = op.inputs[0]
    approximate = bool(getattr(op.options, "approximate", False))
    with np.errstate(over="ignore", invalid="ignore"):
        if inp.dtype == np.float32:
            return _gelu(inp.data, approximate, _erfc_approx)
        return lookup(op, lut_populate(op, lambda v: _gelu(v, approximate, _erfc_f32)))
