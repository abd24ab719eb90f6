"""Binary elementwise ops with broadcasting: arithmetic, min/max, comparisons, logic, select.

Quantized arithmetic follows TFLite's reference kernels (add.cc, sub.cc, mul.cc, div.cc and
reference/*.h): ADD and SUB rescale both inputs to a common 2^left_shift fixed-point scale,
MUL and DIV requantize the product/quotient with one multiplier. Numpy broadcasting gives
the same element pairing as TFLite's BroadcastBinaryOpSimple (up to 6-D).
"""
from __future__ import annotations

import math

import numpy as np

from ..quant import (activation_range_float, activation_range_quantized, dtype_range,
                     multiply_by_quantized_multiplier, quantize_multiplier, rounding_divide_by_pot,
                     wrap_int32)
from ..registry import register
from ..schema import Activation
from .common import broadcast_shape

MAX_BROADCAST_RANK = 6
QUANTIZED = (np.int8, np.uint8, np.int16)


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


def _activation(op) -> int:
    return getattr(op.options, "fused_activation_function", Activation.NONE) or Activation.NONE


def _clamp_quantized(op, raw: np.ndarray) -> np.ndarray:
    out = op.outputs[0]
    lo, hi = activation_range_quantized(_activation(op), out.scale, out.zero_point, out.dtype)
    return np.clip(raw, lo, hi).astype(out.dtype)


def _clamp_plain(op, value: np.ndarray) -> np.ndarray:
    """Fused activation on float or unquantized integer results (CalculateActivationRange)."""
    dtype = op.outputs[0].dtype
    act = _activation(op)
    if dtype.kind == "f":
        lo, hi = activation_range_float(act)
        if math.isinf(lo) and math.isinf(hi):
            return value.astype(dtype, copy=False)
        return np.clip(value, lo, hi).astype(dtype, copy=False)
    lo, hi = activation_range_float(act)
    tmin, tmax = dtype_range(dtype)
    lo = tmin if math.isinf(lo) else int(lo)
    hi = tmax if math.isinf(hi) else int(hi)
    return np.clip(value, lo, hi).astype(dtype, copy=False)


# -- ADD / SUB ---------------------------------------------------------------------------------

def _checked_log2(scale: float):
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
    logs = [_checked_log2(t.scale) for t in (a, b, out)]
    if not all(is_pot for _, is_pot in logs):
        return None
    if a.zero_point or b.zero_point or out.zero_point:
        raise ValueError("%s int16 with power-of-two scales needs zero points 0" % op.opname)
    s1, s2 = logs[0][0] - logs[2][0], logs[1][0] - logs[2][0]
    if not (s1 == 0 or s2 == 0) or s1 > 0 or s2 > 0:
        raise ValueError("%s int16 power-of-two path: input scales must not exceed the output "
                         "scale and one must equal it" % op.opname)
    return s1, s2


def _add_sub_quantized(op, sign: int) -> np.ndarray:
    a, b, out = op.inputs[0], op.inputs[1], op.outputs[0]
    pot = _int16_pot_shifts(op)
    if pot is not None:
        x = rounding_divide_by_pot(a.data.astype(np.int64), -pot[0])
        y = rounding_divide_by_pot(b.data.astype(np.int64), -pot[1])
        return _clamp_quantized(op, x + sign * y)
    left_shift = 15 if out.dtype == np.int16 else 20
    twice_max = 2.0 * max(float(np.float32(a.scale)), float(np.float32(b.scale)))
    m_out = twice_max / (float(1 << left_shift) * float(np.float32(out.scale)))
    terms = []
    for t in (a, b):
        mult, shift = quantize_multiplier(float(np.float32(t.scale)) / twice_max)
        shifted = (t.data.astype(np.int64) - t.zero_point) << left_shift
        terms.append(multiply_by_quantized_multiplier(shifted, mult, shift))
    mult, shift = quantize_multiplier(m_out)
    raw = multiply_by_quantized_multiplier(wrap_int32(terms[0] + sign * terms[1]), mult, shift)
    return _clamp_quantized(op, raw + out.zero_point)


def _add_sub(op, sign: int) -> np.ndarray:
    a, b, out = op.inputs[0].data, op.inputs[1].data, op.outputs[0]
    if _quantized_path(out):
        return _add_sub_quantized(op, sign)
    with np.errstate(over="ignore"):
        value = a + b if sign > 0 else a - b
    return _clamp_plain(op, value)


@register("ADD", (np.float32, np.int8, np.uint8, np.int16, np.int32, np.int64), shape=binary_shape)
def add(op):
    return _add_sub(op, 1)


@register("SUB", (np.float32, np.int8, np.uint8, np.int16, np.int32, np.int64), shape=binary_shape)
def sub(op):
    return _add_sub(op, -1)


# -- MUL ---------------------------------------------------------------------------------------

def _product_multiplier(op) -> tuple:
    """mul.cc: real_multiplier = s1 * s2 / s_out, evaluated in float32 then widened."""
    a, b, out = op.inputs[0], op.inputs[1], op.outputs[0]
    real = np.float32(np.float32(a.scale) * np.float32(b.scale)) / np.float32(out.scale)
    return quantize_multiplier(float(np.float32(real)))


@register("MUL", (np.float32, np.int8, np.uint8, np.int16, np.int32, np.int64), shape=binary_shape)
def mul(op):
    a, b, out = op.inputs[0], op.inputs[1], op.outputs[0]
    if _quantized_path(out):
        if out.dtype == np.int16 and (a.zero_point or b.zero_point or out.zero_point):
            raise ValueError("MUL int16 needs zero points 0")
        mult, shift = _product_multiplier(op)
        prod = (a.data.astype(np.int64) - a.zero_point) * (b.data.astype(np.int64) - b.zero_point)
        raw = multiply_by_quantized_multiplier(wrap_int32(prod), mult, shift) + out.zero_point
        return _clamp_quantized(op, raw)
    with np.errstate(over="ignore"):
        return _clamp_plain(op, a.data * b.data)
