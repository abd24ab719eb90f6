"""CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and TRANSPOSE_CONV: support rules and plan
builders.

Domains: uint8 activations and weights are read as int8 (x - 128, w - 128); the kernel adds
a_sum_mult * (row sum of A) for a nonzero weight zero point, and every static term (input
zero point times weight sums, zero-point product) is folded into the int32 bias.
"""
from __future__ import annotations

import numpy as np

from ..interpreter.kernels.common import out_size, pad_before
from ..interpreter.kernels.conv import channel_multipliers
from ..interpreter.schema import Activation
from . import rules
from .depthwise import row_channels, row_indirection, row_kernel_lanes
from .packing import (deconv_taps, dwconv_quad_channels, gemm_block_width, gemm_tap_buffers,
                      indirection_buffer, k_major_pays, pack_dwconv, pack_dwconv_quads,
                      pack_gemm, pack_gemm_k_major, window_indirection, window_taps)
from .plan import PlanError, activation_domain, fixed_point_scales, wrap_int32, zero_row
from .table import delegate_op


def _activation(op) -> int:
    return getattr(op.options, "fused_activation_function", Activation.NONE)


def _multipliers(op, channels: int):
    """The reference kernel's per-channel (multiplier, shift), as numpy's kernels compute them
    (the scale product in float32 for the legacy uint8 convolutions). A left shift of 32 or
    more wraps acc << shift to 0 in int32: such a channel's output is the zero point, as with
    multiplier 0."""
    x, w, _, out = _operands(op)
    fc = op.opname == "FULLY_CONNECTED"
    mult, shift = channel_multipliers(x, w, out, channels, not fc and x.dtype == np.uint8)
    if not fc:
        dead = shift >= 32
        mult, shift = np.where(dead, 0, mult), np.where(dead, 0, shift)
    return mult, shift


def _requant(ctx, rq, op, channels: int):
    """rq from the reference's multipliers; FULLY_CONNECTED rounds once."""
    mult, shift = _multipliers(op, channels)
    ctx.requant(rq, mult, shift, _operands(op)[3], _activation(op),
                single_rounding=op.opname == "FULLY_CONNECTED")
    return mult, shift


def _operands(op):
    """(input, weights, bias or None, output): TRANSPOSE_CONV takes (output_shape, weights,
    input, bias), the others (input, weights, bias)."""
    ins = list(op.inputs) + [None] * 4
    if op.opname == "TRANSPOSE_CONV":
        return ins[2], ins[1], ins[3], op.outputs[0]
    return ins[0], ins[1], ins[2], op.outputs[0]


def _bias(op, channels: int) -> np.ndarray:
    b = _operands(op)[2]
    return np.zeros(channels, np.int64) if b is None else b.constant.astype(np.int64).ravel()


def _quantized_io(op, weight_axis: int, channels: int):
    x, w, b, y = _operands(op)
    dtype = x.dtype if x is not None else None
    if dtype not in rules.QUANTIZED:
        return "input is not int8/uint8"
    return rules.first_reason(
        rules.per_tensor_activation(x, dtype),
        rules.per_tensor_activation(y, dtype),
        rules.static_weights(w, dtype, channels, weight_axis),
        rules.static_bias(b, channels),
        rules.clamp_activation(op))


def fill_gemm(ctx, p, op, w2d: np.ndarray, ks: int) -> None:
    """The weight side of a qrun_gemm_params: packed weights with the folded bias, the
    activation domain and the requantization. w2d: [n, ks * kc] raw weights, tap-major."""
    x, w, _, _ = _operands(op)
    n, k = w2d.shape
    flip, shift = activation_domain(x.dtype)
    zw = w.zero_point - shift
    zx = x.zero_point - shift
    be = ctx.backend
    # A u8 x s8 dot product (VNNI, gemm_dot_offset 128) reads A as the value + 128: its weight
    # sums come off the bias. Few channels: the K-major kernels.
    k_major = k_major_pays(n, ks, k // ks, be.gemm_k_major_n_max)
    nr = n if k_major else gemm_block_width(n, be.gemm_nr_step, be.gemm_nr)

    def pack() -> np.ndarray:
        w8 = w2d.astype(np.int32) - shift
        # sum (x - zx)(w - zw) = sum x*w - zw*sum x - zx*sum w + K*zx*zw
        wsum = w8.sum(axis=1, dtype=np.int64)
        bias = _bias(op, n) - (zx + be.gemm_dot_offset) * wsum + k * zx * zw
        stored = w8.astype(np.int8)
        if k_major:
            return pack_gemm_k_major(stored, wrap_int32(bias), ks)
        return pack_gemm(stored, wrap_int32(bias), ks, nr,
                         be.gemm_kr_single if nr == be.gemm_nr_step else be.gemm_kr)
    p.n, p.kc, p.ks, p.nr = n, k // ks, ks, nr
    p.k_major = k_major
    p.packed_w = ctx.weights(op, "packed_w", pack, "uint8_t")
    p.a_flip = flip
    p.a_sum_mult = -zw
    _requant(ctx, p.rq, op, n)


def _conv_geometry(op):
    x, w, out = op.inputs[0], op.inputs[1], op.outputs[0]
    o = op.options
    b, ih, iw, _ = x.shape
    kh, kw = w.shape[1], w.shape[2]
    oh = out_size(o.padding, ih, kh, o.stride_h, o.dilation_h_factor)
    ow = out_size(o.padding, iw, kw, o.stride_w, o.dilation_w_factor)
    pt = pad_before(o.stride_h, o.dilation_h_factor, ih, kh, oh)
    pl = pad_before(o.stride_w, o.dilation_w_factor, iw, kw, ow)
    return b, ih, iw, kh, kw, oh, ow, pt, pl


def _window_source(op, ctx):
    """The tensor the window taps read and the geometry (_conv_geometry's): the input, or for
    a PAD folded into the convolution (fusion.PadFolds) the PAD's input, its height and width,
    and its padding added to the convolution's. The input's quantization stays the op's."""
    geometry = _conv_geometry(op)
    fold = ctx.folded_pads.get(op.index)
    if fold is None:
        return op.inputs[0], geometry
    b, _, _, kh, kw, oh, ow, pt, pl = geometry
    _, ih, iw, _ = fold.source.shape
    return fold.source, (b, ih, iw, kh, kw, oh, ow, pt + fold.top, pl + fold.left)


def _window_rule(op, weight_axis: int, channels_of) -> str:
    if len(op.inputs) < 2 or op.inputs[0] is None or op.inputs[1] is None:
        return "missing inputs"
    x, w, out = op.inputs[0], op.inputs[1], op.outputs[0]
    if len(x.shape) != 4 or len(w.shape) != 4 or len(out.shape) != 4:
        return "tensors are not 4-D"
    reason = _quantized_io(op, weight_axis, channels_of(w))
    if reason:
        return reason
    try:
        b, _, _, _, _, oh, ow, _, _ = _conv_geometry(op)
    except (ValueError, AttributeError) as exc:
        return str(exc)
    if tuple(out.shape) != (b, oh, ow, channels_of(w)):
        return "output shape %s does not match the convolution" % (list(out.shape),)
    return None


def conv_rule(op):
    reason = _window_rule(op, 0, lambda w: w.shape[0])
    if reason is None and op.inputs[1].shape[3] != op.inputs[0].shape[3]:
        return "grouped convolution"
    return reason


@delegate_op("CONV_2D", conv_rule, "int8 (per-tensor/per-channel), uint8; any size, stride, "
             "dilation, padding; fused NONE/RELU/RELU6/RELU_N1_TO_1")
def build_conv(op, ctx):
    x, w, out = op.inputs[0], op.inputs[1], op.outputs[0]
    src, (b, ih, iw, kh, kw, oh, ow, pt, pl) = _window_source(op, ctx)
    c, o = x.shape[3], w.shape[0]
    s = op.options
    gemm = kh == kw == 1 and s.stride_h == s.stride_w == 1 and src is x
    # A window's kw taps are contiguous in memory (dilation 1 across): one tap of kw * c bytes
    # per kernel row, fewer and longer K loops, for few input channels (16 or more: no faster)
    # or for the K-major kernels (few output channels), whose vectors run along K.
    be = ctx.backend
    fused = (not gemm and kw > 1 and s.dilation_w_factor == 1
             and (c < 16 or o <= be.gemm_k_major_n_max)
             and kh <= be.gemm_fused_kh_max and kh * kw * c <= be.gemm_fused_window_max)
    if fused and src is not x:
        # their windows crossing the left and right edges are gathered per tile: slower than
        # the PAD's copy (yolov8n's first convolution 0.49 -> 0.76 ms, the PAD 0.08 ms)
        raise PlanError("a PAD is not folded into fused window taps")
    p = ctx.new("qrun_gemm_params *")
    fill_gemm(ctx, p, op, w.constant.reshape(o, kh * kw * c), kh if fused else kh * kw)
    p.m = b * oh * ow
    if p.m * o != out.nbytes:
        raise PlanError("output size")
    p.c_off, p.c_stride = ctx.output_rows(out, o)
    if gemm:
        p.a_off, p.a_stride = ctx.offset(x, p.m * c), c
        return "GEMM", p
    p.a_off = ctx.offset(src)
    gemm_tap_buffers(ctx, p, window_taps, (
        b, ih, iw, c, oh, ow, kh, kw, s.stride_h, s.stride_w, s.dilation_h_factor,
        s.dilation_w_factor, pt, pl), src.nbytes, fused)
    p.zero = ctx.buffer(zero_row(p.kc, x.zero_point, x.dtype), "uint8_t")
    return "IGEMM", p


def depthwise_rule(op):
    reason = _window_rule(op, 3, lambda w: w.shape[3])
    if reason is None:
        x, w = op.inputs[0], op.inputs[1]
        if w.shape[0] != 1 or w.shape[3] % x.shape[3]:
            return "filter shape %s does not fit %d input channels" % (list(w.shape), x.shape[3])
    return reason


@delegate_op("DEPTHWISE_CONV_2D", depthwise_rule, "int8 (per-tensor/per-channel), uint8; any "
             "size, depth multiplier, stride, dilation, padding; "
             "fused NONE/RELU/RELU6/RELU_N1_TO_1")
def build_depthwise(op, ctx):
    x, w, out = op.inputs[0], op.inputs[1], op.outputs[0]
    src, (b, ih, iw, kh, kw, oh, ow, pt, pl) = _window_source(op, ctx)
    c_in, c = x.shape[3], w.shape[3]
    flip, shift = activation_domain(x.dtype)
    zx = x.zero_point - shift
    s = op.options
    p = ctx.new("qrun_dwconv_params *")
    p.pixels, p.channels, p.taps, p.multiplier = b * oh * ow, c, kh * kw, c // c_in
    p.in_off = ctx.offset(src)
    p.indirection = indirection_buffer(ctx, window_indirection, (
        b, ih, iw, c_in, oh, ow, kh, kw, s.stride_h, s.stride_w, s.dilation_h_factor,
        s.dilation_w_factor, pt, pl), src.nbytes)
    mult, shift = _requant(ctx, p.rq, op, c)
    scales = fixed_point_scales(mult, shift)
    wz = w.constant.astype(np.int32) - w.zero_point
    # multiplier 1: u8 x s8 dot products of 4 taps where the build has them. int8 weights
    # (quads 1): activations read + 128, the bias takes 128 * the weight sums out; uint8
    # weights (quads 2): raw weights times int8 activations, less zero point terms (a zero
    # point per tensor, in a register)
    quads, zw = 0, np.unique(w.zero_point)
    if ctx.backend.dw_quad_cr > 0 and c == c_in:
        if wz.min() >= -128 and wz.max() <= 127:
            quads = 1
        elif w.dtype == np.uint8 and zw.size == 1:
            quads = 2
    # few channels: the row kernel (vectors over the bytes of an output row) where the build
    # has one, with its int16 vector, else (AVX-512 VNNI, 16 < c < 32: pixels do not fill
    # vectors) the quads' 64 lanes; its padding rows read a zero row as long as an input row
    row_cr, span_w = ctx.backend.dw_row_cr, (kw - 1) * s.dilation_w_factor + 1
    p.row_lanes = row_kernel_lanes(row_cr, c, p.multiplier, s.stride_w, kh, span_w)
    if p.row_lanes:
        quads = 0
    elif quads and c != 32:
        row_cr = ctx.backend.dw_quad_cr
        p.row_lanes = row_kernel_lanes(row_cr, c, p.multiplier, s.stride_w, kh, span_w)
    if p.row_lanes and src is not x:
        # its steps crossing a row's ends read copies of the row: slower than the PAD's copy
        # (id_model_int8's 98 x 98 x 8 depthwise 14 -> 22 us, the PAD 2 us)
        raise PlanError("a PAD is not folded into the depthwise row kernel")
    p.zero = ctx.buffer(zero_row(iw * c if p.row_lanes else c_in, x.zero_point, x.dtype),
                        "uint8_t")
    if p.row_lanes:
        p.rows, p.row_pixels, p.in_row_bytes, p.kernel_w = b * oh, ow, iw * c, kw
        p.row_indirection = ctx.buffer(row_indirection(
            b, ih, iw * c, oh, kh, s.stride_h, s.dilation_h_factor, pt), "int64_t")
        p.row_shifts = ctx.buffer(
            (np.arange(kw, dtype=np.int64) * s.dilation_w_factor - pl) * c, "int64_t")
    # per pixel, the quads unless more than a quarter of the channels padded to their blocks
    # are padding (then the int16 pairs are faster)
    p.quads = quads if p.row_lanes or dwconv_quad_channels(c) * 3 <= c * 4 else 0
    p.w_zero_point = int(zw[0]) if p.quads == 2 else 0

    def pack() -> np.ndarray:
        wt = wz.reshape(kh * kw, c)
        wsum = wt.sum(axis=0, dtype=np.int64)
        bias = _bias(op, c) - zx * wsum
        if p.quads == 1:
            wp, bias = wt.astype(np.int8), bias - 128 * wsum
        elif p.quads == 2:
            wp = w.constant.reshape(kh * kw, c)
        else:
            wp = wt.astype(np.int16)
        rq = (wrap_int32(bias), scales, mult.astype(np.int32), shift.astype(np.int32))
        if p.row_lanes:
            chan = row_channels(p.row_lanes, c)
            wp, rq = wp[:, chan], tuple(a[chan] for a in rq)
        if p.quads:
            return pack_dwconv_quads(wp, *rq)
        return pack_dwconv(wp, *rq, row_cr if p.row_lanes else ctx.backend.dw_cr, 2)
    p.packed_w = ctx.weights(op, "packed_w", pack, "uint8_t")
    p.out_off = ctx.offset(out, b * oh * ow * c)
    p.a_flip = flip
    return "DWCONV", p


def fc_rule(op):
    if len(op.inputs) < 2 or op.inputs[0] is None or op.inputs[1] is None:
        return "missing inputs"
    x, w, out = op.inputs[0], op.inputs[1], op.outputs[0]
    if len(op.outputs) != 1:
        return "more than one output"
    if getattr(op.options, "weights_format", 0) != 0:
        return "shuffled weights"
    if len(w.shape) != 2:
        return "weights are not 2-D"
    n, k = w.shape
    reason = _quantized_io(op, 0, n)
    if reason:
        return reason
    size = int(np.prod(x.shape, dtype=np.int64))
    if k == 0 or size % k:
        return "input size %d is not a multiple of %d" % (size, k)
    if int(np.prod(out.shape, dtype=np.int64)) != size // k * n or out.shape[-1] != n:
        return "output shape %s does not match" % (list(out.shape),)
    mult, shift = _multipliers(op, n)
    if np.any((mult != 0) & (shift > 30)):
        return "requantization shift %d (the single rounding takes at most 30)" % shift.max()
    return None


@delegate_op("FULLY_CONNECTED", fc_rule, "int8 (per-tensor/per-channel), uint8; any batch; "
             "fused NONE/RELU/RELU6/RELU_N1_TO_1")
def build_fc(op, ctx):
    x, w, out = op.inputs[0], op.inputs[1], op.outputs[0]
    n, k = w.shape
    p = ctx.new("qrun_gemm_params *")
    fill_gemm(ctx, p, op, w.constant, 1)
    p.m = int(np.prod(x.shape, dtype=np.int64)) // k
    p.a_off, p.a_stride = ctx.offset(x, p.m * k), k
    if p.m * n != out.nbytes:
        raise PlanError("output size")
    p.c_off, p.c_stride = ctx.output_rows(out, n)
    return "GEMM", p


def _deconv_geometry(op):
    x, w, _, y = _operands(op)
    o = op.options
    strides = (int(o.stride_h), int(o.stride_w))
    pads = tuple(pad_before(st, 1, n, k, out_size(o.padding, n, k, st))
                 for n, k, st in zip(y.shape[1:3], w.shape[1:3], strides))
    return strides, pads


def transpose_conv_rule(op):
    if len(op.inputs) < 3 or None in op.inputs[:3]:
        return "missing inputs"
    x, w, _, y = _operands(op)
    if len(x.shape) != 4 or len(w.shape) != 4 or len(y.shape) != 4:
        return "tensors are not 4-D"
    if not op.inputs[0].is_constant:
        return "output shape is not constant"
    reason = _quantized_io(op, 0, w.shape[0])
    if reason:
        return reason
    if w.shape[3] != x.shape[3] or y.shape[0] != x.shape[0] or y.shape[3] != w.shape[0]:
        return "shapes"
    try:
        _deconv_geometry(op)
    except (ValueError, AttributeError) as exc:
        return str(exc)
    return None


@delegate_op("TRANSPOSE_CONV", transpose_conv_rule, "int8 (per-tensor/per-channel), uint8: "
             "indirect deconvolution (a gather, no col2im scatter)")
def build_transpose_conv(op, ctx):
    x, w, _, y = _operands(op)
    b, ih, iw, c = x.shape
    _, oh, ow, o = y.shape
    (sh, sw), (ph, pw) = _deconv_geometry(op)
    kh, kw = w.shape[1], w.shape[2]
    p = ctx.new("qrun_gemm_params *")
    fill_gemm(ctx, p, op, w.constant.reshape(o, kh * kw * c), kh * kw)
    p.m = b * oh * ow
    p.a_off = ctx.offset(x)
    p.c_off, p.c_stride = ctx.offset(y, p.m * o), o
    gemm_tap_buffers(ctx, p, deconv_taps, (b, ih, iw, c, oh, ow, kh, kw, sh, sw, ph, pw),
                     x.nbytes, False)
    p.zero = ctx.buffer(zero_row(c, x.zero_point, x.dtype), "uint8_t")
    return "IGEMM", p
