"""TRANSPOSE_CONV, and MediaPipe's Convolution2DTransposeBias custom op (float32).

Follows reference/transpose_conv.h and integer_ops/transpose_conv.h: every input pixel
scatters input * filter into the output, positions outside the output are dropped, then
bias and (for integers) the per-channel requantization. Each filter tap is one float64
matmul (exact for integer products).
"""
from __future__ import annotations

import struct

import numpy as np

from ..registry import register
from ..schema import Activation, Padding
from .common import constant_input, out_size, pad_before
from .conv import (exact_int, finish_float, finish_quantized, offset_operand, quant_params,
                   weights_operand)

QUANTIZED = (np.int8, np.uint8, np.int16)


def _pads(padding: int, out_hw, filter_hw, strides):
    """ComputePaddingHeightWidth applied to the output size, as transpose_conv.cc does."""
    return tuple(pad_before(s, 1, n, k, out_size(padding, n, k, s))
                 for n, k, s in zip(out_hw, filter_hw, strides))


def scatter_accumulate(x: np.ndarray, w: np.ndarray, out_hw, strides, pads) -> np.ndarray:
    """sum of x[n, iy, ix, :] . w[o, ky, kx, :] into out[n, iy*sh - ph + ky, ix*sw - pw + kx, o];
    x and w already carry their offsets. float32 operands are summed term by term in the
    reference's order (input rows, columns, channels: taps from the last), float64 ones
    (integers) by matmul."""
    n, h, wd, c = x.shape
    o, kh, kw, _ = w.shape
    (sh, sw), (ph, pw), (oh, ow) = strides, pads, out_hw
    full = np.zeros((n, max((h - 1) * sh + kh, ph + oh), max((wd - 1) * sw + kw, pw + ow), o),
                    x.dtype)
    rows = x.reshape(-1, c)
    for ky in reversed(range(kh)):
        for kx in reversed(range(kw)):
            region = full[:, ky:ky + (h - 1) * sh + 1:sh, kx:kx + (wd - 1) * sw + 1:sw]
            if x.dtype == np.float32:
                for ci in range(c):
                    region += x[..., ci, None] * w[:, ky, kx, ci]
            else:
                region += (rows @ w[:, ky, kx, :].T).reshape(n, h, wd, o)
    return full[:, ph:ph + oh, pw:pw + ow]


def _check(x_shape, w_shape, what: str) -> None:
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError("%s needs 4-D input and filter, got %s and %s"
                         % (what, list(x_shape), list(w_shape)))
    if x_shape[3] != w_shape[3]:
        raise ValueError("%s input depth %d differs from the filter's %d"
                         % (what, x_shape[3], w_shape[3]))


# -- TRANSPOSE_CONV: inputs (output_shape, weights, input, bias?) ---------------------------------

def transpose_conv_shape(op):
    _check(op.inputs[2].shape, op.inputs[1].shape, "TRANSPOSE_CONV")
    if not op.inputs[0].is_constant:
        return None
    shape = tuple(int(d) for d in constant_input(op, 0, "TRANSPOSE_CONV output shape"))
    if len(shape) != 4 or shape[3] != op.inputs[1].shape[0]:
        raise ValueError("TRANSPOSE_CONV output shape %s does not fit filter %s"
                         % (list(shape), list(op.inputs[1].shape)))
    return [shape]


@register("TRANSPOSE_CONV", QUANTIZED + (np.float32,), shape=transpose_conv_shape, dtype_input=2)
def transpose_conv(op):
    w_t, x_t, out_t = op.inputs[1], op.inputs[2], op.outputs[0]
    b_t = op.inputs[3] if len(op.inputs) > 3 else None
    bias = None if b_t is None else b_t.data.reshape(-1)
    out_shape = tuple(int(d) for d in op.inputs[0].data)
    o = op.options
    strides = (int(getattr(o, "stride_h", 1)), int(getattr(o, "stride_w", 1)))
    pads = _pads(int(getattr(o, "padding", Padding.SAME)), out_shape[1:3], w_t.shape[1:3],
                 strides)
    activation = getattr(o, "fused_activation_function", Activation.NONE)
    if x_t.dtype == np.float32:
        acc = scatter_accumulate(x_t.data, w_t.data, out_shape[1:3], strides, pads)
        return finish_float(acc, bias, activation)
    legacy = x_t.dtype == np.uint8
    p = quant_params(op, x_t, w_t, out_t, w_t.shape[0], weight_offset=legacy,
                     float_product=legacy)
    acc = scatter_accumulate(offset_operand(x_t, p.input_offset),
                             weights_operand(op, w_t, p.filter_offset), out_shape[1:3], strides,
                             pads)
    return finish_quantized(exact_int(acc), bias, p, out_t.dtype)


# -- Convolution2DTransposeBias: inputs (input, weights, bias) -----------------------------------

# TfLitePadding in the custom options (kTfLitePaddingSame = 1, kTfLitePaddingValid = 2).
_TFLITE_PADDING = {1: Padding.SAME, 2: Padding.VALID}


def _custom_params(op):
    """(padding, strides HW) from the TfLiteTransposeConvParams struct in custom_options."""
    if len(op.custom_options) < 12:
        raise ValueError("Convolution2DTransposeBias custom options hold %d bytes, expected 12"
                         % len(op.custom_options))
    padding, stride_w, stride_h = struct.unpack_from("<iii", op.custom_options)
    if padding not in _TFLITE_PADDING or stride_w <= 0 or stride_h <= 0:
        raise ValueError("Convolution2DTransposeBias: invalid padding %d or strides %d, %d"
                         % (padding, stride_h, stride_w))
    return _TFLITE_PADDING[padding], (stride_h, stride_w)


def _custom_out_hw(op):
    padding, strides = _custom_params(op)
    in_hw, k_hw = op.inputs[0].shape[1:3], op.inputs[1].shape[1:3]
    if padding == Padding.SAME:
        return tuple(n * s for n, s in zip(in_hw, strides))
    return tuple((n - 1) * s + k for n, k, s in zip(in_hw, k_hw, strides))


def transpose_bias_shape(op):
    x, w = op.inputs[0], op.inputs[1]
    _check(x.shape, w.shape, "Convolution2DTransposeBias")
    return [(x.shape[0],) + _custom_out_hw(op) + (w.shape[0],)]


@register("Convolution2DTransposeBias", (np.float32,), shape=transpose_bias_shape)
def convolution_2d_transpose_bias(op):
    x_t, w_t = op.inputs[0], op.inputs[1]
    b_t = op.inputs[2] if len(op.inputs) > 2 else None
    padding, strides = _custom_params(op)
    out_hw = _custom_out_hw(op)
    pads = _pads(padding, out_hw, w_t.shape[1:3], strides)
    acc = scatter_accumulate(x_t.data.astype(np.float64), weights_operand(op, w_t), out_hw,
                             strides, pads)
    return finish_float(acc, None if b_t is None else b_t.data.reshape(-1), Activation.NONE)
