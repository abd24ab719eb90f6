"""Less common arithmetic and bit ops: CUMSUM, RANK, BROADCAST_ARGS, FAKE_QUANT, RIGHT_SHIFT,
BITWISE_XOR, BITCAST, ATAN2 and REDUCE_WINDOW.

CUMSUM accumulates in the input type in order (numpy's cumsum is sequential, as is the
reference loop); FAKE_QUANT follows reference_ops::FakeQuant (NudgeQuantizationRange, then
round half away from zero) in float32.
"""
from __future__ import annotations

import itertools

import numpy as np

from ..registry import register
from .common import broadcast_shape, constant_input
from .shape_ops import WIDE_TYPES, normalize_axis

SHIFT_TYPES = (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32)


# -- CUMSUM ------------------------------------------------------------------------------------

def cumsum_shape(op):
    if len(op.inputs[1].shape) != 0 and tuple(op.inputs[1].shape) != (1,):
        raise ValueError("CUMSUM axis must be a scalar")
    return [tuple(op.inputs[0].shape)]


@register("CUMSUM", (np.float32, np.int32, np.int64), shape=cumsum_shape)
def cumsum(op):
    x = op.inputs[0].data
    axis = normalize_axis(int(np.asarray(op.inputs[1].data).reshape(-1)[0]), x.ndim, "CUMSUM")
    reverse = bool(getattr(op.options, "reverse", False))
    if reverse:
        x = np.flip(x, axis)
    out = np.cumsum(x, axis=axis, dtype=x.dtype)
    if getattr(op.options, "exclusive", False):
        out = np.concatenate([np.zeros_like(np.take(out, [0], axis=axis)),
                              np.delete(out, -1, axis=axis)], axis=axis)
    return np.flip(out, axis) if reverse else out


# -- RANK --------------------------------------------------------------------------------------

@register("RANK", WIDE_TYPES, shape=lambda op: [()])
def rank(op):
    return np.array(len(op.inputs[0].shape), op.outputs[0].dtype)


# -- BROADCAST_ARGS ----------------------------------------------------------------------------

def broadcast_args_shape(op):
    a, b = op.inputs[0].shape, op.inputs[1].shape
    if len(a) != 1 or len(b) != 1:
        raise ValueError("BROADCAST_ARGS needs two 1-D shapes")
    return [(max(a[0], b[0]),)]


@register("BROADCAST_ARGS", (np.int32, np.int64), shape=broadcast_args_shape)
def broadcast_args(op):
    shape = broadcast_shape(op.inputs[0].data.tolist(), op.inputs[1].data.tolist())
    return np.asarray(shape, op.outputs[0].dtype).reshape(-1)


# -- FAKE_QUANT --------------------------------------------------------------------------------

def fake_quant_shape(op):
    if getattr(op.options, "narrow_range", False):
        raise ValueError("FAKE_QUANT with narrow_range is not supported at run time")
    lo, hi = float(getattr(op.options, "min", 0.0)), float(getattr(op.options, "max", 0.0))
    if not lo <= 0.0 <= hi or lo >= hi:
        raise ValueError("FAKE_QUANT needs min <= 0 <= max and min < max, got [%g, %g]"
                         % (lo, hi))
    return [tuple(op.inputs[0].shape)]


def _round_away(x: np.ndarray) -> np.ndarray:
    """std::round: half away from zero (x - trunc(x) is exact, unlike x + 0.5)."""
    t = np.trunc(x)
    return (t + np.sign(x) * (np.abs(x - t) >= 0.5)).astype(np.float32)


@register("FAKE_QUANT", (np.float32,), shape=fake_quant_shape)
def fake_quant(op):
    f32 = np.float32
    lo, hi = f32(op.options.min), f32(op.options.max)
    quant_max = f32((1 << int(getattr(op.options, "num_bits", 8))) - 1)
    scale = f32((hi - lo) / quant_max)
    zero_from_min = f32(-lo / scale)
    zero = f32(0) if zero_from_min < 0 else quant_max if zero_from_min > quant_max else \
        _round_away(np.array([zero_from_min]))[0]
    nudged_min, nudged_max = f32(-zero * scale), f32((quant_max - zero) * scale)
    inv = f32(1) / scale
    clamped = np.minimum(nudged_max, np.maximum(nudged_min, op.inputs[0].data))
    return (_round_away((clamped - nudged_min) * inv) * scale + nudged_min).astype(f32)


# -- RIGHT_SHIFT / BITWISE_XOR -----------------------------------------------------------------

def bitwise_shape(op):
    a, b = op.inputs[0], op.inputs[1]
    if a.dtype != b.dtype:
        raise ValueError("%s inputs have types %s and %s" % (op.opname, a.dtype, b.dtype))
    if tuple(a.shape) != tuple(b.shape) and max(len(a.shape), len(b.shape)) > 4:
        raise ValueError("%s broadcasts up to 4-D" % op.opname)
    return [broadcast_shape(a.shape, b.shape)]


@register("RIGHT_SHIFT", SHIFT_TYPES, shape=bitwise_shape)
def right_shift(op):
    x, y = op.inputs[0].data, op.inputs[1].data
    # Shift amounts are clamped to [0, bits - 1] (no undefined shifts).
    bits = x.dtype.itemsize * 8
    return np.right_shift(x, np.clip(y.astype(np.int64), 0, bits - 1).astype(x.dtype))


@register("BITWISE_XOR", SHIFT_TYPES, shape=bitwise_shape)
def bitwise_xor(op):
    return np.bitwise_xor(op.inputs[0].data, op.inputs[1].data)


# -- BITCAST -----------------------------------------------------------------------------------

def bitcast_shape(op):
    shape = tuple(op.inputs[0].shape)
    a, b = op.inputs[0].dtype.itemsize, op.outputs[0].dtype.itemsize
    if a == b:
        return [shape]
    if a > b:
        if a % b:
            raise ValueError("BITCAST from %d-byte to %d-byte elements" % (a, b))
        return [shape + (a // b,)]
    if b % a or not shape or shape[-1] != b // a:
        raise ValueError("BITCAST to %d-byte elements needs a last dimension of %d, got %s"
                         % (b, b // a if a else 0, list(shape)))
    return [shape[:-1]]


@register("BITCAST", WIDE_TYPES, shape=bitcast_shape)
def bitcast(op):
    x = np.ascontiguousarray(op.inputs[0].data)
    return x.reshape(-1).view(op.outputs[0].dtype).reshape(bitcast_shape(op)[0])


# -- ATAN2 -------------------------------------------------------------------------------------

def atan2_shape(op):
    a, b = op.inputs[0], op.inputs[1]
    # atan2.cc does not broadcast.
    if a.dtype != b.dtype or tuple(a.shape) != tuple(b.shape):
        raise ValueError("ATAN2 inputs must have the same type and shape")
    return [tuple(a.shape)]


@register("ATAN2", (np.float32, np.float64), shape=atan2_shape)
def atan2(op):
    return np.arctan2(op.inputs[0].data, op.inputs[1].data)



# -- REDUCE_WINDOW -----------------------------------------------------------------------------

REDUCE_WINDOW_TYPES = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.float32,
                       np.float64)


def _logical(combine):
    return lambda acc, x: combine(acc != 0, x != 0).astype(acc.dtype)


# ReduceWindowFunction -> acc = f(acc, x); MIN/MAX keep the accumulator on ties (a <= b ? a : b).
_WINDOW_FUNCTIONS = {
    1: np.add, 2: np.multiply,
    3: lambda acc, x: np.where(acc <= x, acc, x),
    4: lambda acc, x: np.where(acc >= x, acc, x),
    5: _logical(np.logical_and), 6: _logical(np.logical_or),
}


def _window_params(op):
    rank = len(op.inputs[0].shape)
    params = []
    for i, what in ((2, "window_shape"), (3, "window_strides"), (4, "window_dilations")):
        value = constant_input(op, i, "REDUCE_WINDOW " + what)
        value = [int(v) for v in np.asarray(value).reshape(-1)]
        if len(value) != rank or min(value, default=1) < 1:
            raise ValueError("REDUCE_WINDOW %s %s is not %d positive values" % (what, value, rank))
        params.append(value)
    return params


def reduce_window_shape(op):
    shape = tuple(op.inputs[0].shape)
    if not 1 <= len(shape) <= 6:
        raise ValueError("REDUCE_WINDOW supports ranks 1 to 6, got %d" % len(shape))
    if getattr(op.options, "reduce_function", 0) not in _WINDOW_FUNCTIONS:
        raise ValueError("REDUCE_WINDOW reduce_function %s is not supported"
                         % getattr(op.options, "reduce_function", None))
    window, strides, dilations = _window_params(op)
    dilated = [(w - 1) * d + 1 for w, d in zip(window, dilations)]
    if any(n < k for n, k in zip(shape, dilated)):
        raise ValueError("REDUCE_WINDOW window %s is larger than input %s"
                         % (dilated, list(shape)))
    return [window_output_shape(shape, window, strides, dilations)]


def window_output_shape(shape, window, strides, dilations) -> tuple:
    """ReduceWindowData::ComputeOutputShape: windows that fit, 0 where none does."""
    out = []
    for n, w, s, d in zip(shape, window, strides, dilations):
        k = (w - 1) * d + 1
        out.append(0 if n < k else (n - k) // s + 1)
    return tuple(out)


def reduce_windows(x: np.ndarray, init, function: int, window, strides,
                   dilations) -> np.ndarray:
    """Each window of x folded from `init` with ReduceWindowFunction `function`, taps in
    row-major order as the reference walks them."""
    out_shape = window_output_shape(x.shape, window, strides, dilations)
    combine = _WINDOW_FUNCTIONS[function]
    acc = np.full(out_shape, init, x.dtype)
    if 0 in out_shape:
        return acc
    for taps in itertools.product(*(range(w) for w in window)):
        view = x[tuple(slice(t * d, t * d + (n - 1) * s + 1, s)
                       for t, d, s, n in zip(taps, dilations, strides, out_shape))]
        acc = combine(acc, view).astype(x.dtype)
    return acc


@register("REDUCE_WINDOW", REDUCE_WINDOW_TYPES, shape=reduce_window_shape)
def reduce_window(op):
    window, strides, dilations = _window_params(op)
    init = np.asarray(op.inputs[1].data).reshape(-1)[0]
    return reduce_windows(op.inputs[0].data, init, op.options.reduce_function, window,
                          strides, dilations)
