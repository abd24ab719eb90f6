"""CONV_2D and DEPTHWISE_CONV_2D, and the arithmetic the convolution family shares.

Integer paths follow TFLite's reference kernels (reference/conv.h, depthwiseconv_uint8.h,
integer_ops/conv.h, integer_ops/depthwise_conv.h): exact integer accumulation (done here as
float64 matmuls, exact for these magnitudes), then the per-channel fixed-point requantization.
Float32 sums are taken term by term in float32, in the reference kernels' order, so that float
results are LiteRT's bit for bit (a hybrid op downstream re-quantizes them: a last-bit
difference there can move a quantized value by one step).
Float32 activations with int8 weights take TFLite's hybrid path (`hybrid.py`).
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ..quant import activation_range_quantized, apply_activation_float, quantize_multiplier
from ..registry import register
from ..schema import Activation
from .common import out_size, pad_before, requantize
from .hybrid import hybrid_conv, hybrid_depthwise

QUANTIZED = (np.int8, np.uint8, np.int16)
TENSOR_TYPE_INT32 = 2   # schema TensorType.INT32, as the quantized_bias_type option gives it
IM2COL_ELEMENTS = 1 << 22   # the largest im2col block built at once (32 MB of float64)


# -- shared by the convolution family ------------------------------------------------------------

def channel_multipliers(input_t, filter_t, output_t, channels: int, float_product: bool):
    """Per output channel, QuantizeMultiplier of input_scale * filter_scale / output_scale in
    double: PopulateConvolutionQuantizationParams' per-channel loop multiplies the scales in
    double; GetQuantizedConvolutionMultipler (the legacy per-tensor path) multiplies them in
    float32 first (`float_product`)."""
    scales = np.broadcast_to(filter_t.quantization.scales, (channels,))
    in_scale = np.float32(input_t.scale)
    pairs = [quantize_multiplier(float(in_scale * np.float32(s) if float_product
                                       else float(in_scale) * float(s)) / float(output_t.scale))
             for s in scales]
    return (np.array([p[0] for p in pairs], np.int64), np.array([p[1] for p in pairs], np.int64))


def quant_params(op, input_t, filter_t, output_t, channels: int, weight_offset: bool,
                 float_product: bool = False):
    """The constants of a quantized op, computed once per operator (weights are static).

    `weight_offset`: whether the reference kernel adds the filter's zero point (the legacy
    uint8 kernels and per-tensor int8 FULLY_CONNECTED do; per-channel kernels do not).
    `float_product`: see channel_multipliers."""
    cached = getattr(op, "_conv_qparams", None)
    if cached is not None:
        return cached
    mult, shift = channel_multipliers(input_t, filter_t, output_t, channels, float_product)
    activation = getattr(op.options, "fused_activation_function", Activation.NONE)
    lo, hi = activation_range_quantized(activation, output_t.scale, output_t.zero_point,
                                        output_t.dtype)
    params = SimpleNamespace(
        multiplier=mult, shift=shift, lo=lo, hi=hi,
        # An op without a bias may still declare one of int32 (the accumulator of 16x8).
        int32_bias=getattr(op.options, "quantized_bias_type", 0) == TENSOR_TYPE_INT32,
        input_offset=-input_t.zero_point,
        filter_offset=-filter_t.zero_point if weight_offset else 0,
        output_zero_point=output_t.zero_point)
    op._conv_qparams = params
    return params


def multiply_by_quantized_multiplier_int64(x, multiplier, shift) -> np.ndarray:
    """MultiplyByQuantizedMultiplier(int64_t x, ...), used by the 16x8 kernels: the
    multiplier is rounded to 16 bits and one rounding right shift is applied."""
    x = np.asarray(x, np.int64)
    multiplier = np.asarray(multiplier, np.int64)
    reduced = np.where(multiplier < 0x7FFF0000, (multiplier + (1 << 15)) >> 16, 0x7FFF)
    total_shift = 15 - np.asarray(shift, np.int64)
    return (x * reduced + (np.int64(1) << (total_shift - 1))) >> total_shift


def multiply_by_quantized_multiplier_single(x, multiplier, shift) -> np.ndarray:
    """The single-rounding MultiplyByQuantizedMultiplier (TFLITE_SINGLE_ROUNDING): one
    rounding right shift of the 64-bit product."""
    x = np.asarray(x, np.int64)
    total_shift = 31 - np.asarray(shift, np.int64)
    product = x * np.asarray(multiplier, np.int64)
    return (product + (np.int64(1) << (total_shift - 1))) >> total_shift


def finish_quantized(acc: np.ndarray, bias, p, dtype, single_rounding: bool = False) -> np.ndarray:
    """int accumulator (channels last) + bias -> requantized, offset and clamped outputs.

    `single_rounding`: LiteRT's FULLY_CONNECTED reference kernels (2.3) round once, where
    its convolutions and BATCH_MATMUL round twice (measured against BUILTIN_REF)."""
    acc = np.asarray(acc, np.int64)
    if bias is not None:
        acc = acc + bias.astype(np.int64)
    if single_rounding:
        out = multiply_by_quantized_multiplier_single(acc, p.multiplier, p.shift)
    elif np.dtype(dtype) == np.int16 and (not p.int32_bias if bias is None
                                          else bias.dtype == np.int64):
        # 16x8 kernels accumulate in their bias type: int64, or int32.
        out = multiply_by_quantized_multiplier_int64(acc, p.multiplier, p.shift)
    else:
        return requantize(acc, p.multiplier, p.shift, p.output_zero_point, p.lo, p.hi, dtype)
    return np.clip(out + p.output_zero_point, p.lo, p.hi).astype(dtype)


def finish_float(acc: np.ndarray, bias, activation: int) -> np.ndarray:
    """float32 total + bias, then the fused activation."""
    acc = acc.astype(np.float32, copy=False)
    if bias is not None:
        acc = acc + bias.astype(np.float32, copy=False)
    return apply_activation_float(acc, activation)


def exact_int(acc: np.ndarray) -> np.ndarray:
    """A float64 sum of integer products back to int64 (exact below 2^53)."""
    return np.rint(acc).astype(np.int64)


def offset_operand(t, offset: int) -> np.ndarray:
    """A tensor's values as float64 with an integer offset added (the kernels' `x + offset`)."""
    return t.data.astype(np.float64) + offset


def weights_operand(op, t, offset: int = 0) -> np.ndarray:
    """offset_operand of the weights, converted once per operator when they are constant."""
    if not t.is_constant:
        return offset_operand(t, offset)
    cached = getattr(op, "_conv_weights", None)
    if cached is None:
        cached = op._conv_weights = offset_operand(t, offset)
    return cached


# -- geometry ------------------------------------------------------------------------------------

def _geometry(op, in_hw, filter_hw):
    o = op.options
    strides = (int(getattr(o, "stride_h", 1)), int(getattr(o, "stride_w", 1)))
    dilations = (int(getattr(o, "dilation_h_factor", 1) or 1),
                 int(getattr(o, "dilation_w_factor", 1) or 1))
    padding = int(getattr(o, "padding", 0))
    out_hw, pads = [], []
    for size, k, s, d in zip(in_hw, filter_hw, strides, dilations):
        n = out_size(padding, size, k, s, d)
        if n <= 0:
            raise ValueError("input size %d is too small for a filter of %d (dilation %d)"
                             % (size, k, d))
        out_hw.append(n)
        pads.append(pad_before(s, d, size, k, n))
    return SimpleNamespace(strides=strides, dilations=dilations, out_hw=tuple(out_hw),
                           pads=tuple(pads))


def taps(x: np.ndarray, filter_hw, g):
    """Per filter tap (ky, kx), the (N, OH, OW, C) strided view of the input values under
    it; taps in the padding read 0 (callers pass x with the input offset already added)."""
    n, h, w, c = x.shape
    (oh, ow), (sh, sw), (dh, dw), (ph, pw) = g.out_hw, g.strides, g.dilations, g.pads
    kh, kw = filter_hw
    need_h = (oh - 1) * sh + (kh - 1) * dh + 1
    need_w = (ow - 1) * sw + (kw - 1) * dw + 1
    xp = np.zeros((n, max(need_h, ph + h), max(need_w, pw + w), c), x.dtype)
    xp[:, ph:ph + h, pw:pw + w] = x
    return [[xp[:, ky * dh:ky * dh + (oh - 1) * sh + 1:sh, kx * dw:kx * dw + (ow - 1) * sw + 1:sw]
             for kx in range(kw)] for ky in range(kh)]


def patches(views, rows: slice) -> np.ndarray:
    """im2col of output rows `rows` from the taps' views: (N, rows, OW, KH, KW, C)."""
    return np.stack([np.stack([v[:, rows] for v in row], axis=3) for row in views], axis=3)


def _check_bias(op, index: int, channels: int, what: str) -> None:
    b = op.inputs[index] if len(op.inputs) > index else None
    if b is not None and int(np.prod(b.shape)) != channels:
        raise ValueError("%s bias has %d elements, expected %d" % (what, int(np.prod(b.shape)),
                                                                   channels))


def _bias(op, index: int):
    b = op.inputs[index] if len(op.inputs) > index else None
    return None if b is None else b.data.reshape(-1)


# -- CONV_2D -------------------------------------------------------------------------------------

def conv_output_shape(op):
    x, w = op.inputs[0], op.inputs[1]
    if len(x.shape) != 4 or len(w.shape) != 4:
        raise ValueError("CONV_2D needs 4-D input and filter, got %s and %s"
                         % (list(x.shape), list(w.shape)))
    n, h, wd, c = x.shape
    o, kh, kw, cg = w.shape
    if cg <= 0 or c % cg or o % (c // cg):
        raise ValueError("CONV_2D input depth %d does not fit filter %s" % (c, list(w.shape)))
    _check_bias(op, 2, o, "CONV_2D")
    g = _geometry(op, (h, wd), (kh, kw))
    return [(n,) + g.out_hw + (o,)]


def conv_accumulate(op, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """sum over taps and input channels of x * w, (N, OH, OW, O): float32 operands as
    reference_ops::Conv sums them, float64 ones (integers with their offsets) by matmul.
    Grouped when the filter is shallower than the input."""
    n, h, wd, c = x.shape
    o, kh, kw, cg = w.shape
    g = _geometry(op, (h, wd), (kh, kw))
    oh, ow = g.out_hw
    groups = c // cg
    og = o // groups
    if x.dtype == np.float32:
        return _conv_float32(x, w, g, groups)
    views = taps(x, (kh, kw), g)
    out = np.empty((n, oh, ow, o), np.float64)
    # im2col a block of output rows at a time, so that its copy stays small.
    block = max(1, IM2COL_ELEMENTS // (n * ow * kh * kw * c))
    for r in range(0, oh, block):
        rows = slice(r, min(oh, r + block))
        cols = patches(views, rows)
        m = cols.shape[0] * cols.shape[1] * ow
        cols = cols.reshape(m, kh * kw, groups, cg)
        for k in range(groups):
            out[:, rows, :, k * og:(k + 1) * og] = (
                cols[:, :, k, :].reshape(m, -1) @ w[k * og:(k + 1) * og].reshape(og, -1).T
            ).reshape(n, -1, ow, og)
    return out


def _conv_float32(x: np.ndarray, w: np.ndarray, g, groups: int) -> np.ndarray:
    """One float32 total per output, adding input * filter over taps (y, x) then channels."""
    o, kh, kw, cg = w.shape
    og = o // groups
    acc = np.zeros((x.shape[0],) + g.out_hw + (o,), np.float32)
    product = np.empty(acc.shape[:3] + (og,), np.float32)
    for ky, row in enumerate(taps(x, (kh, kw), g)):
        for kx, view in enumerate(row):
            for k in range(groups):
                total = acc[..., k * og:(k + 1) * og]
                for c in range(cg):
                    np.multiply(view[..., k * cg + c, None], w[k * og:(k + 1) * og, ky, kx, c],
                                out=product)
                    total += product
    return acc


def convolution(op, accumulate, hybrid, channels: int):
    """The dtype dispatch shared by CONV_2D and DEPTHWISE_CONV_2D: float, hybrid (float
    input, int8 weights) or quantized, around the op's `accumulate`."""
    x_t, w_t, out_t = op.inputs[0], op.inputs[1], op.outputs[0]
    bias = _bias(op, 2)
    if x_t.dtype == np.float32:
        if w_t.dtype != np.float32:
            return hybrid(op, accumulate, bias)
        acc = accumulate(op, x_t.data, w_t.data)
        activation = getattr(op.options, "fused_activation_function", Activation.NONE)
        return finish_float(acc, bias, activation)
    legacy = x_t.dtype == np.uint8
    p = quant_params(op, x_t, w_t, out_t, channels, weight_offset=legacy, float_product=legacy)
    acc = accumulate(op, offset_operand(x_t, p.input_offset),
                     weights_operand(op, w_t, p.filter_offset))
    return finish_quantized(exact_int(acc), bias, p, out_t.dtype)


@register("CONV_2D", QUANTIZED + (np.float32,), shape=conv_output_shape)
def conv_2d(op):
    return convolution(op, conv_accumulate, hybrid_conv, op.inputs[1].shape[0])


# -- DEPTHWISE_CONV_2D ---------------------------------------------------------------------------

def depthwise_output_shape(op):
    x, w = op.inputs[0], op.inputs[1]
    if len(x.shape) != 4 or len(w.shape) != 4 or w.shape[0] != 1:
        raise ValueError("DEPTHWISE_CONV_2D needs a 4-D input and a [1, H, W, C] filter, got "
                         "%s and %s" % (list(x.shape), list(w.shape)))
    n, h, wd, c = x.shape
    _, kh, kw, o = w.shape
    if c <= 0 or o % c:
        raise ValueError("DEPTHWISE_CONV_2D filter depth %d is not a multiple of input depth %d"
                         % (o, c))
    _check_bias(op, 2, o, "DEPTHWISE_CONV_2D")
    g = _geometry(op, (h, wd), (kh, kw))
    return [(n,) + g.out_hw + (o,)]


def depthwise_accumulate(op, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per output channel c*m + j: sum over taps of x[..., c] * w[..., c*m + j], in the
    operands' dtype (float32: term by term in tap order, as the reference kernel)."""
    n, h, wd, c = x.shape
    _, kh, kw, o = w.shape
    g = _geometry(op, (h, wd), (kh, kw))
    acc = np.zeros((n,) + g.out_hw + (o,), x.dtype)
    for ky, row in enumerate(taps(x, (kh, kw), g)):
        for kx, view in enumerate(row):
            acc += (view if o == c else np.repeat(view, o // c, axis=-1)) * w[0, ky, kx]
    return acc


@register("DEPTHWISE_CONV_2D", QUANTIZED + (np.float32,), shape=depthwise_output_shape)
def depthwise_conv_2d(op):
    return convolution(op, depthwise_accumulate, hybrid_depthwise, op.inputs[1].shape[3])
