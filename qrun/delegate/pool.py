"""AVERAGE_POOL_2D and MAX_POOL_2D (exact, through an indirection buffer), MEAN, ARG_MAX and
ARG_MIN."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..interpreter.kernels.common import out_size, pad_before
from ..interpreter.kernels.reduce import mean_multiplier
from ..interpreter.quant import activation_range_quantized, dtype_range
from ..interpreter.schema import Activation
from . import rules
from .packing import indirection_buffer, window_indirection
from .plan import PlanError, activation_domain
from .table import delegate_op


def _geometry(op):
    x, o = op.inputs[0], op.options
    b, ih, iw, c = x.shape
    oh = out_size(o.padding, ih, o.filter_height, o.stride_h)
    ow = out_size(o.padding, iw, o.filter_width, o.stride_w)
    pt = pad_before(o.stride_h, 1, ih, o.filter_height, oh)
    pl = pad_before(o.stride_w, 1, iw, o.filter_width, ow)
    return b, ih, iw, c, oh, ow, pt, pl


def pool_rule(op) -> Optional[str]:
    if len(op.inputs) != 1 or op.inputs[0] is None:
        return "expects one input"
    x, y = op.inputs[0], op.outputs[0]
    if x.dtype not in rules.QUANTIZED:
        return "not int8/uint8"
    reason = rules.first_reason(rules.per_tensor_activation(x, x.dtype),
                                rules.per_tensor_activation(y, x.dtype), rules.clamp_activation(op))
    if reason:
        return reason
    if x.scale != y.scale or x.zero_point != y.zero_point:
        return "input and output quantization differ"
    if len(x.shape) != 4:
        return "not 4-D"
    try:
        b, _, _, c, oh, ow, _, _ = _geometry(op)
    except (ValueError, AttributeError) as exc:
        return str(exc)
    if tuple(y.shape) != (b, oh, ow, c) or op.options.filter_height < 1 or \
            op.options.filter_width < 1:
        return "output shape or filter"
    return None


def _every_window_reads(ind: np.ndarray) -> None:
    if ind.size and (ind.max(axis=1) < 0).any():
        raise PlanError("a pooling window lies entirely in the padding")


def build_pool(op, ctx):
    x, y = op.inputs[0], op.outputs[0]
    b, ih, iw, c, oh, ow, pt, pl = _geometry(op)
    o = op.options
    act = getattr(o, "fused_activation_function", Activation.NONE)
    lo, hi = activation_range_quantized(act, y.scale, y.zero_point, y.dtype)
    p = ctx.new("qrun_pool_params *")
    p.pixels, p.channels, p.taps = b * oh * ow, c, o.filter_height * o.filter_width
    p.in_off, p.out_off = ctx.offset(x), ctx.offset(y, b * oh * ow * c)
    p.indirection = indirection_buffer(ctx, window_indirection, (
        b, ih, iw, c, oh, ow, o.filter_height, o.filter_width, o.stride_h, o.stride_w, 1, 1,
        pt, pl), x.nbytes, _every_window_reads)
    p.is_max = op.opname == "MAX_POOL_2D"
    p.is_signed = x.dtype == np.int8
    p.act_min, p.act_max = lo, hi
    return "POOL", p


for _name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
    delegate_op(_name, pool_rule, "int8, uint8 (equal in/out quantization): exact; any window, "
                "stride, padding; fused NONE/RELU/RELU6/RELU_N1_TO_1")(build_pool)


def _mean_axes(op):
    """(outer, inner, channels) when MEAN reduces one contiguous run of axes, else None."""
    x = op.inputs[0]
    rank = len(x.shape)
    axes = sorted({int(a) + rank if int(a) < 0 else int(a)
                   for a in np.asarray(op.inputs[1].constant).reshape(-1)})
    if not axes or axes[0] < 0 or axes[-1] >= rank or axes != list(range(axes[0], axes[-1] + 1)):
        return None
    shape = [int(d) for d in x.shape]
    prod = lambda dims: int(np.prod(dims, dtype=np.int64))  # noqa: E731
    return prod(shape[:axes[0]]), prod(shape[axes[0]:axes[-1] + 1]), prod(shape[axes[-1] + 1:])


def mean_rule(op) -> Optional[str]:
    if len(op.inputs) != 2 or op.inputs[0] is None or op.inputs[1] is None:
        return "expects data and axes"
    x, y = op.inputs[0], op.outputs[0]
    if x.dtype not in rules.QUANTIZED:
        return "not int8/uint8"
    reason = rules.first_reason(rules.per_tensor_activation(x, x.dtype),
                                rules.per_tensor_activation(y, x.dtype))
    if reason:
        return reason
    if not op.inputs[1].is_constant:
        return "axes are not constant"
    split = _mean_axes(op)
    if split is None:
        return "axes are not one contiguous run"
    outer, inner, channels = split
    if inner < 1 or inner * 256 >= 1 << 31:
        return "reduction size %d" % inner
    if int(np.prod(y.shape, dtype=np.int64)) != outer * channels:
        return "output shape"
    # The C sum shifted left must not wrap (|sum| <= 255 * inner); right shifts are <= 31.
    _, shift = mean_multiplier(x.scale, y.scale, inner)
    if shift > 0 and (inner * 255) << shift >= 1 << 31:
        return "requantization shift %d" % shift
    return None


@delegate_op("MEAN", mean_rule, "int8, uint8 over one contiguous run of axes (e.g. H,W): "
             "exact (the reference's fixed point)")
def build_mean(op, ctx):
    x, y = op.inputs[0], op.outputs[0]
    outer, inner, channels = _mean_axes(op)
    flip, shift = activation_domain(x.dtype)
    p = ctx.new("qrun_mean_params *")
    p.outer, p.inner, p.channels = outer, inner, channels
    p.in_off, p.out_off = ctx.offset(x), ctx.offset(y)
    p.flip, p.in_zero = flip, x.zero_point - shift
    p.multiplier, q_shift = mean_multiplier(x.scale, y.scale, inner)
    p.left_shift, p.right_shift = max(q_shift, 0), max(-q_shift, 0)
    p.out_zero = y.zero_point
    p.out_min, p.out_max = dtype_range(y.dtype)
    return "MEAN", p


def _arg_axis(op) -> int:
    rank = len(op.inputs[0].shape)
    axis = int(np.asarray(op.inputs[1].constant).reshape(-1)[0])
    return axis + rank if axis < 0 else axis


def arg_rule(op) -> Optional[str]:
    if len(op.inputs) != 2 or None in op.inputs:
        return "inputs"
    x, y = op.inputs[0], op.outputs[0]
    if x.dtype not in rules.QUANTIZED or x.is_constant:
        return "not a non-constant int8/uint8 tensor"
    if y.dtype not in (np.dtype(np.int32), np.dtype(np.int64)):
        return "output is not int32/int64"
    if not op.inputs[1].is_constant or op.inputs[1].constant.size != 1:
        return "axis is not one constant"
    axis = _arg_axis(op)
    if not 0 <= axis < len(x.shape) or x.shape[axis] < 1:
        return "axis"
    if tuple(y.shape) != tuple(x.shape[:axis]) + tuple(x.shape[axis + 1:]):
        return "output shape"
    return None


def build_arg(op, ctx):
    x, y = op.inputs[0], op.outputs[0]
    axis = _arg_axis(op)
    p = ctx.new("qrun_arg_params *")
    p.outer = int(np.prod(x.shape[:axis], dtype=np.int64))
    p.axis_size = int(x.shape[axis])
    p.inner = int(np.prod(x.shape[axis + 1:], dtype=np.int64))
    p.is_signed, p.is_min = x.dtype == np.int8, op.opname == "ARG_MIN"
    p.out_size = y.dtype.itemsize
    p.in_off, p.out_off = ctx.offset(x), ctx.offset(y)
    return "ARG", p


for _name in ("ARG_MAX", "ARG_MIN"):
    delegate_op(_name, arg_rule, "int8, uint8 to int32/int64: exact, first index of the "
                "extreme")(build_arg)
