"""Data movement as byte-range copies: RESHAPE/SQUEEZE/EXPAND_DIMS, CONCATENATION, PAD."""
from __future__ import annotations

from typing import Optional

import numpy as np

from . import rules
from .plan import PlanError
from .table import delegate_op


def _same_quantization(tensors) -> bool:
    q0 = tensors[0].quantization
    return all(len(t.quantization.scales) == len(q0.scales)
               and np.array_equal(t.quantization.scales, q0.scales)
               and np.array_equal(t.quantization.zero_points, q0.zero_points) for t in tensors)


def _bytes_op(op) -> Optional[str]:
    """Input 0 and every output: non-constant int8/uint8 of one type."""
    x = op.inputs[0] if op.inputs else None
    if x is None or x.dtype not in rules.QUANTIZED:
        return "not int8/uint8"
    if x.is_constant:
        return "constant input"
    if any(t.dtype != x.dtype for t in op.outputs):
        return "mixed types"
    return None


def copy_node(ctx, ranges: np.ndarray, sources, destination):
    """A COPY node of [count, 3] (src, dst, nbytes) arena ranges, each checked to read within
    one of `sources` ((start, end) arena extents) and to write within `destination`."""
    ranges = np.ascontiguousarray(ranges, np.int64).reshape(-1, 3)
    dst_lo = ctx.offset(destination)
    dst_hi = dst_lo + destination.nbytes
    if len(ranges):
        if (ranges[:, 2] < 0).any() or (ranges[:, 1] < dst_lo).any() or \
                (ranges[:, 1] + ranges[:, 2] > dst_hi).any():
            raise PlanError("copy ranges leave the output tensor")
        inside = np.zeros(len(ranges), bool)
        for lo, hi in sources:
            inside |= (ranges[:, 0] >= lo) & (ranges[:, 0] + ranges[:, 2] <= hi)
        if not inside.all():
            raise PlanError("copy ranges read outside the inputs")
    p = ctx.new("qrun_copy_params *")
    p.count = len(ranges)
    p.ranges = ctx.buffer(ranges, "int64_t")
    return "COPY", p


def _extent(ctx, t):
    off = ctx.offset(t)
    return off, off + t.nbytes


def alias_rule(op) -> Optional[str]:
    reason = _bytes_op(op)
    if reason is None and op.outputs[0].nbytes != op.inputs[0].nbytes:
        return "sizes differ"
    if reason is None and not _same_quantization([op.inputs[0], op.outputs[0]]):
        return "quantization differs"
    return reason


def build_alias(op, ctx):
    x, y = op.inputs[0], op.outputs[0]
    src = _extent(ctx, x)
    return copy_node(ctx, [[src[0], ctx.offset(y), x.nbytes]], [src], y)


for _name in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS"):
    delegate_op(_name, alias_rule, "int8, uint8: one copy")(build_alias)


def _concat_axis(op) -> int:
    rank = len(op.outputs[0].shape)
    axis = int(getattr(op.options, "axis", 0))
    return axis + rank if axis < 0 else axis


def concat_rule(op) -> Optional[str]:
    reason = _bytes_op(op)
    if reason:
        return reason
    if any(t is None or t.is_constant or t.dtype != op.outputs[0].dtype for t in op.inputs):
        return "constant or mixed inputs"
    if not _same_quantization(list(op.inputs) + [op.outputs[0]]):
        return "inputs need rescaling"
    if getattr(op.options, "fused_activation_function", 0) != 0:
        return "fused activation"
    rank = len(op.outputs[0].shape)
    if rank == 0 or not 0 <= _concat_axis(op) < rank:
        return "axis"
    return None


@delegate_op("CONCATENATION", concat_rule, "int8, uint8 with equal quantization: row copies")
def build_concat(op, ctx):
    y = op.outputs[0]
    axis = _concat_axis(op)
    outer = int(np.prod(y.shape[:axis], dtype=np.int64))
    out_row = y.nbytes // max(outer, 1)
    y_off = ctx.offset(y)
    ranges, sources, start = [], [], 0
    for t in op.inputs:
        lo, hi = _extent(ctx, t)
        row = t.nbytes // max(outer, 1)
        o = np.arange(outer, dtype=np.int64)
        ranges.append(np.stack([lo + o * row, y_off + o * out_row + start,
                                np.full(outer, row)], axis=1))
        sources.append((lo, hi))
        start += row
    if start != out_row:
        raise PlanError("CONCATENATION inputs do not fill the output")
    return copy_node(ctx, np.concatenate(ranges), sources, y)


def pad_rule(op) -> Optional[str]:
    reason = _bytes_op(op)
    if reason:
        return reason
    x, y = op.inputs[0], op.outputs[0]
    if len(op.inputs) < 2 or op.inputs[1] is None or not op.inputs[1].is_constant:
        return "paddings are not constant"
    p = np.asarray(op.inputs[1].constant).astype(np.int64)
    if p.shape != (len(x.shape), 2) or (p < 0).any():
        return "paddings"
    if tuple(int(d + lo + hi) for d, (lo, hi) in zip(x.shape, p)) != tuple(y.shape):
        return "output shape"
    if len(op.inputs) > 2 and op.inputs[2] is not None:
        c = op.inputs[2]
        if not c.is_constant or c.dtype != x.dtype or c.constant.size != 1:
            return "constant value is not a constant of the input's type"
    elif not len(y.quantization.scales):
        return "not quantized"
    return None


def _pad_value(op) -> int:
    """PADV2's constant, else the output zero point (pad.cc for quantized tensors)."""
    if len(op.inputs) > 2 and op.inputs[2] is not None:
        return int(np.asarray(op.inputs[2].constant).reshape(-1).view(np.uint8)[0])
    return int(np.array(op.outputs[0].zero_point, op.outputs[0].dtype).view(np.uint8))


def build_pad(op, ctx):
    x, y = op.inputs[0], op.outputs[0]
    p = np.asarray(op.inputs[1].constant).astype(np.int64)
    fill = ctx.new("qrun_fill_params *")
    fill.off, fill.nbytes, fill.value = ctx.offset(y), y.nbytes, _pad_value(op)
    if x.nbytes == 0:
        return ("FILL", fill)
    # One copy per input row (all axes but the last), to its padded place in the output.
    xs, ys = np.asarray(x.shape, np.int64), np.asarray(y.shape, np.int64)
    y_strides = np.cumprod(np.r_[ys[1:], 1][::-1])[::-1]
    idx = np.indices(xs[:-1]).reshape(len(xs) - 1, -1) if len(xs) > 1 else np.zeros((0, 1),
                                                                                      np.int64)
    dst = ((idx + p[:-1, :1]) * y_strides[:-1, None]).sum(axis=0) + p[-1, 0]
    rows = len(dst)
    lo, hi = _extent(ctx, x)
    ranges = np.stack([lo + np.arange(rows, dtype=np.int64) * xs[-1],
                       ctx.offset(y) + dst, np.full(rows, xs[-1])], axis=1)
    return [("FILL", fill), copy_node(ctx, ranges, [(lo, hi)], y)]


for _name in ("PAD", "PADV2"):
    delegate_op(_name, pad_rule, "int8, uint8: constant border (zero point or PADV2 value)")(
        build_pad)
