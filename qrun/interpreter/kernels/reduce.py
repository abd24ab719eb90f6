"""Reductions over axes: MEAN, SUM, REDUCE_MAX/MIN/PROD/ANY/ALL, and ARG_MAX, ARG_MIN.

Quantized MEAN and SUM follow TFLite's reference QuantizedMeanOrSum: an int32 sum, the zero
point removed as zp * count, then one fixed-point multiply by input_scale / output_scale
(for MEAN with 1/count folded into the multiplier, as reduce.h does it).
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ..quant import (dtype_range, multiply_by_quantized_multiplier, quantize_multiplier,
                     wrap_int32)
from ..registry import register

QUANTIZED = (np.int8, np.uint8, np.int16)
NUMERIC = (np.float32, np.int32, np.int64) + QUANTIZED


def _resolve_axes(values, rank: int, what: str) -> Tuple[int, ...]:
    """Axis values -> unique non-negative axes in first-seen order (TFLite's ResolveAxis)."""
    # Vectorized: a run-time axis tensor can hold millions of values (a fuzzed model).
    values = np.asarray(values).reshape(-1).astype(np.int64)
    resolved = np.where(values < 0, values + rank, values)
    bad = (resolved < 0) | (resolved >= rank)
    if bad.any():
        raise ValueError("%s axis %d is out of range for rank %d"
                         % (what, values[np.argmax(bad)], rank))
    _, first = np.unique(resolved, return_index=True)
    return tuple(int(resolved[i]) for i in sorted(first))


def _axis_values(op) -> Optional[np.ndarray]:
    t = op.inputs[1]
    if t.is_constant:
        return t.constant
    return t.data


def _reduced_shape(shape, axes, keep_dims: bool) -> Tuple[int, ...]:
    if keep_dims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _check_quantization(op) -> None:
    """The quantization constraints TFLite's Prepare and Eval enforce."""
    x, out = op.inputs[0], op.outputs[0]
    if x.dtype == np.int16 and (x.zero_point != 0 or out.zero_point != 0):
        raise ValueError("int16 %s needs zero points of 0" % op.opname)
    if (op.opname in ("REDUCE_MAX", "REDUCE_MIN") and x.dtype in QUANTIZED
            and (x.scale != out.scale or x.zero_point != out.zero_point)):
        raise ValueError("quantized %s needs equal input and output quantization" % op.opname)


def reduce_shape(op):
    _check_quantization(op)
    if not op.inputs[1].is_constant:
        return None
    shape = op.inputs[0].shape
    if len(shape) == 0:
        return [()]
    axes = _resolve_axes(op.inputs[1].constant, len(shape), op.opname)
    return [_reduced_shape(shape, axes, bool(op.options.keep_dims))]


def _reduce(op, fn, **kw) -> np.ndarray:
    """Applies numpy reduction `fn` over the op's axes; the result has the output's shape."""
    x = op.inputs[0].data
    if x.ndim == 0:
        return fn(x[None], axis=0, **kw)
    axes = _resolve_axes(_axis_values(op), x.ndim, op.opname)
    return fn(x, axis=axes, keepdims=bool(op.options.keep_dims), **kw)


def _count(op) -> int:
    x = op.inputs[0].data
    if x.ndim == 0:
        return 1
    axes = _resolve_axes(_axis_values(op), x.ndim, op.opname)
    return int(np.prod([x.shape[a] for a in axes], dtype=np.int64))


def mean_multiplier(in_scale: float, out_scale: float, count: int) -> Tuple[int, int]:
    """(multiplier, shift) of quantized MEAN over `count` values (count 1: SUM): the
    multiplier of in_scale / out_scale with 1/count folded in, keeping as many bits as the
    shift allows."""
    multiplier, shift = quantize_multiplier(float(np.float64(in_scale) / np.float64(out_scale)))
    if count > 1:
        extra = min(count.bit_length() - 1, 32, 31 + shift)
        multiplier = (multiplier << extra) // count
        shift -= extra
    return multiplier, shift


def _quantized_mean_or_sum(op, compute_sum: bool) -> np.ndarray:
    x, out = op.inputs[0], op.outputs[0]
    if _axis_values(op).size == 0:
        return x.data.copy()
    count = _count(op)
    total = wrap_int32(_reduce(op, np.sum, dtype=np.int64))
    if count == 0:
        return np.zeros(total.shape, out.dtype)
    multiplier, shift = mean_multiplier(x.scale, out.scale, 1 if compute_sum else count)
    shifted = wrap_int32(total - x.zero_point * count)
    result = multiply_by_quantized_multiplier(shifted, multiplier, shift) + out.zero_point
    lo, hi = dtype_range(out.dtype)
    return np.clip(result, lo, hi).astype(out.dtype)


@register("MEAN", NUMERIC, shape=reduce_shape)
def mean(op):
    x = op.inputs[0].data
    if x.dtype in QUANTIZED:
        return _quantized_mean_or_sum(op, compute_sum=False)
    count = _count(op)
    if x.dtype == np.float32:
        total = _reduce(op, np.sum, dtype=np.float32)
        return (total / np.float32(count)).astype(np.float32) if count else total
    total = _reduce(op, np.sum, dtype=np.int64)
    # C integer division truncates toward zero.
    quotient = np.abs(total) // count * np.sign(total) if count else total
    return quotient.astype(x.dtype)


@register("SUM", NUMERIC, shape=reduce_shape)
def reduce_sum(op):
    """Quantized SUM runs the reference QuantizedMeanOrSum on the true values for every
    8/16-bit type. (LiteRT's BUILTIN_REF casts int8 and int16 data to uint8_t in that call, a
    bug; its uint8 SUM and its optimized int8/int16 SUM agree with this.)"""
    x = op.inputs[0].data
    if x.dtype in QUANTIZED:
        return _quantized_mean_or_sum(op, compute_sum=True)
    # Integer sums wrap in the element type, as TFLite's T accumulator does.
    acc = np.float32 if x.dtype == np.float32 else np.int64
    return _reduce(op, np.sum, dtype=acc).astype(x.dtype)


@register("REDUCE_MAX", NUMERIC, shape=reduce_shape)
def reduce_max(op):
    x = op.inputs[0].data
    lowest = np.finfo(x.dtype).min if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    return _reduce(op, np.max, initial=lowest)


@register("REDUCE_MIN", NUMERIC, shape=reduce_shape)
def reduce_min(op):
    x = op.inputs[0].data
    highest = np.finfo(x.dtype).max if x.dtype.kind == "f" else np.iinfo(x.dtype).max
    return _reduce(op, np.min, initial=highest)


def _multiply_int64_by_quantized_multiplier(x: np.ndarray, multiplier: int, shift: int):
    """The int64 overload of MultiplyByQuantizedMultiplier: a 16-bit multiplier, one rounding."""
    reduced = int(wrap_int32(multiplier + (1 << 15))) >> 16
    total_shift = 15 - shift
    return wrap_int32((x * reduced + (1 << (total_shift - 1))) >> total_shift)


def _quantized_prod(op) -> np.ndarray:
    """QuantizedReduceProd: each partial product is rescaled by
    input_scale / output_scale^(1/count), so the count rescalings make up the whole."""
    x, out = op.inputs[0], op.outputs[0]
    data = x.data
    axes = sorted(_resolve_axes(_axis_values(op), data.ndim, op.opname)) if data.ndim else []
    kept = [a for a in range(data.ndim) if a not in axes]
    # One row per output element, its inputs in TFLite's (row-major) visiting order.
    rows = np.transpose(data, kept + axes).reshape(
        int(np.prod([data.shape[a] for a in kept], dtype=np.int64)), -1).astype(np.int64)
    rows = rows - x.zero_point
    count = max(1, data.size // max(1, rows.shape[0]))
    scaling = float(np.float64(x.scale) / np.float64(out.scale) ** (1.0 / count))
    multiplier, shift = quantize_multiplier(scaling)
    acc = rows[:, 0]
    for k in range(1, rows.shape[1]):
        acc = _multiply_int64_by_quantized_multiplier(acc * rows[:, k], multiplier, shift)
    result = _multiply_int64_by_quantized_multiplier(acc, multiplier, shift) + out.zero_point
    lo, hi = dtype_range(out.dtype)
    shape = _reduced_shape(data.shape, axes, bool(op.options.keep_dims)) if data.ndim else ()
    return np.clip(result, lo, hi).astype(out.dtype).reshape(shape)


@register("REDUCE_PROD", (np.float32, np.int32, np.int64, np.int8, np.int16),
          shape=reduce_shape)
def reduce_prod(op):
    x = op.inputs[0]
    if x.dtype in (np.int8, np.int16) and len(x.quantization.scales):
        return _quantized_prod(op)
    return _reduce(op, np.prod, dtype=x.dtype)


@register("REDUCE_ANY", (np.bool_,), shape=reduce_shape)
def reduce_any(op):
    return _reduce(op, np.any)


@register("REDUCE_ALL", (np.bool_,), shape=reduce_shape)
def reduce_all(op):
    return _reduce(op, np.all)


def arg_shape(op):
    if not op.inputs[1].is_constant:
        return None
    shape = op.inputs[0].shape
    axis = _arg_axis(op.inputs[1].constant, len(shape), op.opname)
    return [tuple(d for i, d in enumerate(shape) if i != axis)]


def _arg_axis(values, rank: int, what: str) -> int:
    values = np.asarray(values).reshape(-1)
    if values.size != 1:
        raise ValueError("%s needs exactly one axis, got %d" % (what, values.size))
    if rank < 1:
        raise ValueError("%s needs an input of rank >= 1" % what)
    return _resolve_axes(values, rank, what)[0]


def _arg(op, fn) -> np.ndarray:
    x = op.inputs[0].data
    axis = _arg_axis(_axis_values(op), x.ndim, op.opname)
    # Ties resolve to the first index, as TFLite's strict comparison does.
    return fn(x, axis=axis).astype(op.outputs[0].dtype)


ARG_TYPES = (np.float32, np.uint8, np.int8, np.int32, np.bool_)


@register("ARG_MAX", ARG_TYPES, shape=arg_shape)
def arg_max(op):
    return _arg(op, np.argmax)


@register("ARG_MIN", ARG_TYPES, shape=arg_shape)
def arg_min(op):
    return _arg(op, np.argmin)
