"""Math unary ops: ABS, NEG, SIGN, SQUARE, SQRT, RSQRT, EXP, LOG, SIN, COS, FLOOR, CEIL, ROUND,
CAST.

Mirrors TFLite's elementwise.cc, exp.cc, neg.cc, sign.cc, floor.cc, ceil.cc, round.cc and
cast.cc.
Float functions are evaluated in double and rounded once to float32 (libm_f32). The
quantized variants follow the reference integer paths: ABS rescales with one multiplier,
int8 RSQRT goes through GetInvSqrtQuantizedMultiplierExp, EXP, LOG and int16 RSQRT
through a LUTPopulate table (256 entries for int8, 513 interpolated ones for int16).
"""
from __future__ import annotations

import numpy as np

from ..quant import (INT32_MAX, dtype_range, multiply_by_quantized_multiplier,
                     quantize_multiplier, rounding_divide_by_pot)
from ..quant import saturating_rounding_doubling_high_mul as srdhm
from ..registry import register
from .activations import libm_f32, lookup, lookup_int16, lut_populate, lut_populate_int16
from .elementwise import is_quantized, saturating_shift_left


def same_type_shape(op):
    inp, out = op.inputs[0], op.outputs[0]
    if inp.dtype != out.dtype:
        raise ValueError("%s input type %s differs from output type %s"
                         % (op.opname, inp.dtype, out.dtype))
    if inp.dtype == np.int16 and is_quantized(inp) and (inp.zero_point or out.zero_point):
        raise ValueError("%s int16 needs zero points 0" % op.opname)
    return [inp.shape]


def _float_op(name: str, fn) -> None:
    @register(name, (np.float32,), shape=same_type_shape)
    def kernel(op):
        return libm_f32(fn, op.inputs[0].data)
    kernel.__name__ = name.lower()


_float_op("SQRT", np.sqrt)
_float_op("SIN", np.sin)
_float_op("COS", np.cos)
_float_op("FLOOR", np.floor)
_float_op("CEIL", np.ceil)
_float_op("ROUND", np.rint)   # round half to even, as RoundToNearest


@register("SQUARE", (np.float32,), shape=same_type_shape)
def square(op):
    x = op.inputs[0].data
    return x * x


@register("SIGN", (np.float32, np.float64, np.int32), shape=same_type_shape)
def sign(op):
    x = op.inputs[0].data
    return ((x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)).astype(x.dtype)


@register("NEG", (np.float32, np.int32, np.int64), shape=same_type_shape)
def neg(op):
    with np.errstate(over="ignore"):
        return np.negative(op.inputs[0].data)


# -- ABS ---------------------------------------------------------------------------------------

@register("ABS", (np.float32, np.int8, np.int16, np.int32), shape=same_type_shape)
def abs_(op):
    inp, out = op.inputs[0], op.outputs[0]
    if inp.dtype != np.int8 and not (inp.dtype == np.int16 and is_quantized(inp)):
        # Plain std::abs: the integer minimum wraps to itself.
        return np.abs(inp.data)
    value = np.abs(inp.data.astype(np.int64) - inp.zero_point)
    if np.float32(inp.scale) != np.float32(out.scale):
        mult, shift = quantize_multiplier(float(np.float32(inp.scale) / np.float32(out.scale)))
        value = multiply_by_quantized_multiplier(value, mult, shift)
    lo, hi = dtype_range(out.dtype)
    return np.clip(value + out.zero_point, lo, hi).astype(out.dtype)


# -- RSQRT -------------------------------------------------------------------------------------

def inv_sqrt_multiplier(values: np.ndarray) -> tuple:
    """GetInvSqrtQuantizedMultiplierExp(v, kReverseShift) for 1 < v < 2^29: Newton-Raphson
    in Q3.28 fixed point. Returns (multiplier, left shift)."""
    v = np.asarray(values, np.int64)
    leading_zeros = 32 - np.frexp(v.astype(np.float64))[1].astype(np.int64)
    pairs = (leading_zeros - 1) // 2 - 1
    shift = 11 - pairs
    v = v << (2 * pairs)
    x_in = v >> 1
    half_in = rounding_divide_by_pot(x_in, 1)
    half_three = (1 << 28) + (1 << 27)
    x = np.full_like(v, 1 << 28)
    for _ in range(5):
        x3 = saturating_shift_left(srdhm(srdhm(x, x), x), 6)
        x = saturating_shift_left(srdhm(half_three, x) - srdhm(half_in, x3), 3)
    x = srdhm(x, 1518500250)   # times sqrt(2)/2
    mult = np.where(shift < 0, x << np.maximum(-shift, 0), x)
    return mult, -np.maximum(shift, 0)


def _rsqrt_int8(op) -> np.ndarray:
    inp, out = op.inputs[0], op.outputs[0]
    value = inp.data.astype(np.int64) - inp.zero_point
    if np.any(value < 0):
        raise ValueError("RSQRT is only defined for positive values (operator %d)" % op.index)
    real = 1.0 / float(np.sqrt(np.float32(inp.scale)) * np.float32(out.scale))
    out_mult, out_shift = quantize_multiplier(real)
    k_shift = 20   # keeps the reciprocal an integer
    table_values = np.arange(2, 256, dtype=np.int64)
    mult, shift = inv_sqrt_multiplier(table_values)
    data = np.concatenate([[0, multiply_by_quantized_multiplier(1, INT32_MAX, k_shift)],
                           multiply_by_quantized_multiplier(1, mult, shift + k_shift)])
    raw = multiply_by_quantized_multiplier(data, out_mult, out_shift - k_shift) + out.zero_point
    lo, hi = dtype_range(np.int8)
    table = np.clip(raw, lo, hi)
    table[0] = hi   # a zero input means the largest output
    return table[value].astype(np.int8)


def _table_lookup(op, transform) -> np.ndarray:
    """The quantized LUT path: 256 entries for int8, 513 interpolated ones for int16."""
    if op.inputs[0].dtype == np.int16:
        return lookup_int16(op, lut_populate_int16(op, transform))
    return lookup(op, lut_populate(op, transform))


@register("RSQRT", (np.float32, np.int8, np.int16), shape=same_type_shape)
def rsqrt(op):
    x = op.inputs[0].data
    if x.dtype == np.float32:
        with np.errstate(all="ignore"):
            return np.float32(1.0) / libm_f32(np.sqrt, x)
    if x.dtype == np.int8:
        return _rsqrt_int8(op)
    if np.any(x < op.inputs[0].zero_point):
        raise ValueError("RSQRT is only defined for positive values (operator %d)" % op.index)
    # Non-positive table points take the largest output.
    top = np.float32(32767) * np.float32(op.outputs[0].scale)
    return _table_lookup(op, lambda v: np.where(
        v <= 0, top, np.float32(1.0) / libm_f32(np.sqrt, np.maximum(v, 1e-30))))


# -- EXP / LOG ---------------------------------------------------------------------------------

@register("EXP", (np.float32, np.int8, np.int16), shape=same_type_shape)
def exp(op):
    x = op.inputs[0].data
    if x.dtype == np.float32:
        return libm_f32(np.exp, x)
    return _table_lookup(op, lambda v: libm_f32(np.exp, v))


@register("LOG", (np.float32, np.int8, np.int16), shape=same_type_shape)
def log(op):
    x = op.inputs[0].data
    if x.dtype == np.float32:
        return libm_f32(np.log, x)
    out = op.outputs[0]
    lo, _ = dtype_range(out.dtype)
    # Non-positive inputs map to the lowest representable output.
    output_min = np.float32(lo - out.zero_point) * np.float32(out.scale)
    return _table_lookup(op, lambda v: np.where(
        v <= 0, output_min, libm_f32(np.log, np.maximum(v, 1e-30))))


# -- CAST --------------------------------------------------------------------------------------

_CASTABLE = (np.float32, np.float64, np.float16, np.int8, np.uint8, np.int16, np.uint16,
             np.int32, np.uint32, np.int64, np.bool_)


def cast_shape(op):
    return [op.inputs[0].shape]


@register("CAST", _CASTABLE, shape=cast_shape)
def cast(op):
    x, dtype = op.inputs[0].data, op.outputs[0].dtype
    if dtype == np.bool_:
        return x != 0
    with np.errstate(invalid="ignore", over="ignore"):
        return x.astype(dtype)

