"""Data movement, exact: RESHAPE/SQUEEZE/EXPAND_DIMS (aliases), CONCATENATION, PAD, SPLIT,
RESIZE_NEAREST_NEIGHBOR and the slicing/gathering ops as byte-range copies (uint8
CONCATENATION's rescaling as a table), TRANSPOSE as a strided gather."""
from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Optional

import numpy as np

from ..interpreter.registry import find_kernel
from . import rules
from .plan import PlanError
from .table import delegate_op


def same_quantization(tensors) -> bool:
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


def copy_node(ctx, ranges: np.ndarray, sources, destination, table=None):
    """A COPY node of [count, 3] (src, dst, nbytes) arena ranges, each checked to read within
    one of `sources` ((start, end) arena extents) and to write within `destination`; through
    `table` (256 bytes) when given. A destination written into its slice of a concatenation
    (ctx.concat_slices) has its ranges moved there."""
    ranges = np.ascontiguousarray(ranges, np.int64).reshape(-1, 3)
    dst_lo = ctx.offset(destination)
    dst_hi = dst_lo + destination.nbytes
    cs = ctx.concat_slices.get(destination.index)
    if cs is not None:
        ranges = _into_slice(ranges, dst_lo, cs, ctx.offset(cs.y))
        destination = cs.y
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
    strided = strided_ranges(_merged(ranges))
    p = ctx.new("qrun_copy_params *")
    p.count = len(strided)
    p.ranges = ctx.buffer(strided, "int64_t")
    if table is not None:
        p.table = ctx.buffer(np.asarray(table, np.uint8).reshape(256), "uint8_t")
    return "COPY", p


def _into_slice(ranges: np.ndarray, t_off: int, cs, y_off: int) -> np.ndarray:
    """Ranges writing a tensor at t_off, cut at its rows of cs.row bytes and moved to where
    each row goes in the concatenation's output (fusion.ConcatSlice)."""
    if len(ranges) == 0:
        return ranges
    src, dst, n = ranges[:, 0], ranges[:, 1] - t_off, ranges[:, 2]
    keep = n > 0
    src, dst, n = src[keep], dst[keep], n[keep]
    first, last = dst // cs.row, (dst + n - 1) // cs.row
    pieces = last - first + 1
    which = np.repeat(np.arange(len(src)), pieces)
    row = first[which] + np.arange(len(which)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    lo = np.maximum(dst[which], row * cs.row)
    hi = np.minimum(dst[which] + n[which], (row + 1) * cs.row)
    return np.stack([src[which] + lo - dst[which],
                     y_off + row * cs.out_row + cs.start + lo - row * cs.row, hi - lo], axis=1)


def _merged(ranges: np.ndarray) -> np.ndarray:
    """Runs of ranges that continue one another in both source and destination, as one range
    each (e.g. PAD's rows when only outer axes are padded)."""
    if len(ranges) < 2:
        return ranges
    ends = ranges[:-1, :2] + ranges[:-1, 2:]
    first = np.flatnonzero(np.r_[True, (ranges[1:, :2] != ends).any(axis=1)])
    return np.stack([ranges[first, 0], ranges[first, 1], np.add.reduceat(ranges[:, 2], first)],
                    axis=1)


COPY_BYTES = 4096   # bytes of a strided range at most (or one row): the thread pool's unit


def strided_ranges(ranges: np.ndarray) -> np.ndarray:
    """[count, 3] ranges as [m, 6] (src, dst, nbytes, rows, src_step, dst_step): runs of ranges
    of one size whose sources and destinations advance by constant steps (per-pixel pieces of
    a concatenation) as one, in pieces of at most COPY_BYTES bytes (or one row)."""
    count = len(ranges)
    steps = np.diff(ranges[:, :2], axis=0, prepend=ranges[:1, :2])   # [i]: from i - 1 to i
    resized = np.r_[True, ranges[1:, 2] != ranges[:-1, 2]]
    # Range i starts a run when its size differs, or when its step differs from the step into
    # i - 1 while that one continued a run (a run's first step is free).
    restep = np.r_[False, (steps[1:] != steps[:-1]).any(axis=1) & ~resized[:-1]]
    starts = resized | restep
    run_start = np.maximum.accumulate(np.where(starts, np.arange(count), 0))
    piece_rows = np.maximum(1, COPY_BYTES // np.maximum(ranges[:, 2], 1))
    first = np.flatnonzero(starts | ((np.arange(count) - run_start) % piece_rows == 0))
    rows = np.diff(np.r_[first, count])
    step = np.where((rows > 1)[:, None], steps[np.minimum(first + 1, count - 1)], 0)
    return np.stack([ranges[first, 0], ranges[first, 1], ranges[first, 2], rows, step[:, 0],
                     step[:, 1]], axis=1).astype(np.int64)


def _extent(ctx, t):
    off = ctx.offset(t)
    return off, off + t.nbytes


def alias_rule(op) -> Optional[str]:
    reason = _bytes_op(op)
    if reason is None and op.outputs[0].nbytes != op.inputs[0].nbytes:
        return "sizes differ"
    if reason is None and not same_quantization([op.inputs[0], op.outputs[0]]):
        return "quantization differs"
    return reason


def build_alias(op, ctx):
    """No node when the planner gave the output the input's bytes; else one copy (graph
    inputs and outputs keep their own bytes)."""
    x, y = op.inputs[0], op.outputs[0]
    src = _extent(ctx, x)
    if src[0] == ctx.offset(y):
        return []
    return copy_node(ctx, [[src[0], ctx.offset(y), x.nbytes]], [src], y)


for _name in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS"):
    delegate_op(_name, alias_rule, "int8, uint8: an alias of the input (no copy), one copy "
                "into a graph output or from a graph input")(build_alias)


def concat_axis(op) -> int:
    rank = len(op.outputs[0].shape)
    axis = int(getattr(op.options, "axis", 0))
    return axis + rank if axis < 0 else axis


def concat_rule(op) -> Optional[str]:
    reason = _bytes_op(op)
    if reason:
        return reason
    if any(t is None or t.is_constant or t.dtype != op.outputs[0].dtype for t in op.inputs):
        return "constant or mixed inputs"
    if op.outputs[0].dtype != np.uint8 and not same_quantization(
            list(op.inputs) + [op.outputs[0]]):
        return "int8 inputs need rescaling"
    if getattr(op.options, "fused_activation_function", 0) != 0:
        return "fused activation"
    rank = len(op.outputs[0].shape)
    if rank == 0 or not 0 <= concat_axis(op) < rank:
        return "axis"
    return None


def concat_tables(op) -> list:
    """Per input: None when its bytes are copied as they are, else the 256-entry table of
    the reference kernel's rescaling (uint8 inputs quantized unlike the output)."""
    y = op.outputs[0]
    if same_quantization(list(op.inputs) + [y]):
        return [None] * len(op.inputs)
    values = np.arange(256, dtype=np.uint8)
    probe = dataclasses.replace(
        op, options=SimpleNamespace(**dict(vars(op.options), axis=0)),
        inputs=[dataclasses.replace(t, shape=(256,), data=values, constant=None)
                for t in op.inputs],
        outputs=[dataclasses.replace(y, shape=(256 * len(op.inputs),), data=None)])
    out = np.asarray(find_kernel(probe).fn(probe)).reshape(len(op.inputs), 256)
    return [None if same_quantization([t, y]) else out[i] for i, t in enumerate(op.inputs)]


@delegate_op("CONCATENATION", concat_rule, "int8 with equal quantization, uint8 (rescaled "
             "through exact tables): row copies; an input a CONV_2D, FULLY_CONNECTED, "
             "STRIDED_SLICE, SLICE or RESIZE_NEAREST_NEIGHBOR produces for it alone is "
             "written in place by that op")
def build_concat(op, ctx, skip=frozenset()):
    """skip: the inputs their producers wrote into the output (fusion.ConcatSlices)."""
    y = op.outputs[0]
    axis = concat_axis(op)
    outer = int(np.prod(y.shape[:axis], dtype=np.int64))
    out_row = y.nbytes // max(outer, 1)
    y_off = ctx.offset(y)
    rows = [t.nbytes // max(outer, 1) for t in op.inputs]
    if sum(rows) != out_row:
        raise PlanError("CONCATENATION inputs do not fill the output")
    nodes, start = [], 0
    o = np.arange(outer, dtype=np.int64)
    for t, row, table in zip(op.inputs, rows, concat_tables(op)):
        if t.index not in skip:
            lo, hi = _extent(ctx, t)
            ranges = np.stack([lo + o * row, y_off + o * out_row + start, np.full(outer, row)],
                              axis=1)
            nodes.append(copy_node(ctx, ranges, [(lo, hi)], y, table))
        start += row
    return nodes


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


def pad_value(op) -> int:
    """PADV2's constant, else the output zero point (pad.cc for quantized tensors)."""
    if len(op.inputs) > 2 and op.inputs[2] is not None:
        return int(np.asarray(op.inputs[2].constant).reshape(-1).view(np.uint8)[0])
    return int(np.array(op.outputs[0].zero_point, op.outputs[0].dtype).view(np.uint8))


def _pad_border(ctx, x, y, p, value: int) -> list:
    """One image padded on height (above or below) and width: FILL only the padding rows,
    then copy each row's left and right padding from such a row (a right border and the next
    row's left one are one range), so that no byte is written twice."""
    _, h, w, c = x.shape
    (pt, pb), (pl, pr) = p[1], p[2]
    row = (w + pl + pr) * c
    y_off = ctx.offset(y)
    nodes = []
    for first, rows in ((0, pt), (pt + h, pb)):
        if rows:
            fill = ctx.new("qrun_fill_params *")
            fill.off, fill.nbytes, fill.value = y_off + first * row, rows * row, value
            nodes.append(("FILL", fill))
    pad_row = y_off if pt else y_off + (pt + h) * row
    starts = y_off + (np.arange(h, dtype=np.int64) + pt) * row
    ranges = np.stack([np.stack([np.full(h, pad_row + pr * c), starts, np.full(h, pl * c)], 1),
                       np.stack([np.full(h, pad_row), starts + (pl + w) * c,
                                 np.full(h, pr * c)], 1)], axis=1).reshape(-1, 3)
    return nodes + [copy_node(ctx, ranges[ranges[:, 2] > 0], [(pad_row, pad_row + row)], y)]


def build_pad(op, ctx):
    x, y = op.inputs[0], op.outputs[0]
    p = np.asarray(op.inputs[1].constant).astype(np.int64)
    fill = ctx.new("qrun_fill_params *")
    fill.off, fill.nbytes, fill.value = ctx.offset(y), y.nbytes, pad_value(op)
    if x.nbytes == 0:
        return ("FILL", fill)
    border = len(x.shape) == 4 and x.shape[0] == 1 and not p[0].any() and not p[3].any() \
        and p[1].any() and p[2].any()
    nodes = _pad_border(ctx, x, y, p, fill.value) if border else [("FILL", fill)]
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
    return nodes + [copy_node(ctx, ranges, [(lo, hi)], y)]


for _name in ("PAD", "PADV2"):
    delegate_op(_name, pad_rule, "int8, uint8: constant border (zero point or PADV2 value); "
                "padding H and W with the zero point before a CONV_2D / DEPTHWISE_CONV_2D: "
                "folded into its window taps")(
        build_pad)


def _transpose_axes(op):
    """(outer shape[4], inner, input strides[5]) of the output with mergeable axes merged, or
    None when more than 5 remain."""
    x = op.inputs[0]
    perm = [int(a) % len(x.shape) for a in np.asarray(op.inputs[1].constant).reshape(-1)]
    in_strides = np.cumprod([1] + [int(d) for d in x.shape[::-1]])[:-1][::-1]
    merged = []
    for a in perm:
        d, st = int(x.shape[a]), int(in_strides[a])
        if d == 1:
            continue
        if merged and merged[-1][1] == st * d:
            merged[-1] = [merged[-1][0] * d, st]
        else:
            merged.append([d, st])
    if len(merged) > 5:
        return None
    merged = [[1, 0]] * (5 - len(merged)) + merged
    return [m[0] for m in merged[:4]], merged[4][0], [m[1] for m in merged]


def transpose_rule(op) -> Optional[str]:
    reason = _bytes_op(op)
    if reason:
        return reason
    x, y = op.inputs[0], op.outputs[0]
    if len(op.inputs) != 2 or op.inputs[1] is None or not op.inputs[1].is_constant:
        return "permutation is not constant"
    perm = [int(a) for a in np.asarray(op.inputs[1].constant).reshape(-1)]
    rank = len(x.shape)
    if rank == 0 or sorted(a % rank for a in perm) != list(range(rank)):
        return "not a permutation"
    if tuple(y.shape) != tuple(x.shape[a % rank] for a in perm):
        return "output shape"
    if not same_quantization([x, y]):
        return "quantization differs"
    if _transpose_axes(op) is None:
        return "more than 5 axes after merging"
    return None


@delegate_op("TRANSPOSE", transpose_rule, "int8, uint8: any permutation of up to 5 merged axes")
def build_transpose(op, ctx):
    x, y = op.inputs[0], op.outputs[0]
    outer, inner, strides = _transpose_axes(op)
    reach = sum((d - 1) * st for d, st in zip(outer + [inner], strides))
    if x.nbytes and reach >= x.nbytes:
        raise PlanError("transpose strides reach past the input")
    p = ctx.new("qrun_transpose_params *")
    p.shape, p.inner, p.stride = outer, inner, strides
    p.in_off, p.out_off = ctx.offset(x), ctx.offset(y)
    return "TRANSPOSE", p


def _split_parts(op):
    """(data tensor, axis) of SPLIT (axis, data) or SPLIT_V (data, sizes, axis)."""
    data, axis_t = (op.inputs[1], op.inputs[0]) if op.opname == "SPLIT" else (op.inputs[0],
                                                                              op.inputs[2])
    rank = len(data.shape)
    axis = int(np.asarray(axis_t.constant).reshape(-1)[0])
    return data, axis + rank if axis < 0 else axis


def split_rule(op) -> Optional[str]:
    if len(op.inputs) != (2 if op.opname == "SPLIT" else 3) or None in op.inputs:
        return "inputs"
    axis_t = op.inputs[0] if op.opname == "SPLIT" else op.inputs[2]
    if not axis_t.is_constant or axis_t.constant.size != 1:
        return "axis is not constant"
    x, axis = _split_parts(op)
    if x.dtype not in rules.QUANTIZED or x.is_constant:
        return "data is not a non-constant int8/uint8 tensor"
    if not 0 <= axis < len(x.shape):
        return "axis"
    for y in op.outputs:
        if y.dtype != x.dtype or len(y.shape) != len(x.shape) or \
                tuple(y.shape[:axis]) != tuple(x.shape[:axis]) or \
                tuple(y.shape[axis + 1:]) != tuple(x.shape[axis + 1:]):
            return "output shapes"
    if sum(y.shape[axis] for y in op.outputs) != x.shape[axis]:
        return "outputs do not cover the input"
    if not same_quantization([x] + list(op.outputs)):
        return "quantization differs"
    return None


def build_split(op, ctx):
    x, axis = _split_parts(op)
    outer = int(np.prod(x.shape[:axis], dtype=np.int64))
    in_row = x.nbytes // max(outer, 1)
    lo, hi = _extent(ctx, x)
    o = np.arange(outer, dtype=np.int64)
    nodes, start = [], 0
    for y in op.outputs:
        row = y.nbytes // max(outer, 1)
        ranges = np.stack([lo + o * in_row + start, ctx.offset(y) + o * row,
                           np.full(outer, row)], axis=1)
        nodes.append(copy_node(ctx, ranges, [(lo, hi)], y))
        start += row
    return nodes


for _name in ("SPLIT", "SPLIT_V"):
    delegate_op(_name, split_rule, "int8, uint8: row copies")(build_split)


def resize_nearest_rule(op) -> Optional[str]:
    reason = _bytes_op(op)
    if reason:
        return reason
    x, y = op.inputs[0], op.outputs[0]
    if len(op.inputs) != 2 or op.inputs[1] is None or not op.inputs[1].is_constant:
        return "size is not constant"
    if len(x.shape) != 4 or len(y.shape) != 4 or y.shape[0] != x.shape[0] or \
            y.shape[3] != x.shape[3]:
        return "shapes"
    if not same_quantization([x, y]):
        return "quantization differs"
    return None


def nearest_sources(op) -> np.ndarray:
    """[out_h * out_w] source pixel of each output pixel, from the reference kernel run on an
    int32 image whose values are pixel indices."""
    x, y = op.inputs[0], op.outputs[0]
    _, h, w, _ = x.shape
    _, oh, ow, _ = y.shape
    index = np.arange(h * w, dtype=np.int32).reshape(1, h, w, 1)
    probe = dataclasses.replace(
        op, inputs=[dataclasses.replace(x, dtype=np.dtype(np.int32), shape=index.shape,
                                        data=index, constant=None)] + list(op.inputs[1:]),
        outputs=[dataclasses.replace(y, dtype=np.dtype(np.int32), shape=(1, oh, ow, 1),
                                     data=None)])
    src = np.asarray(find_kernel(probe).fn(probe)).astype(np.int64).reshape(oh * ow)
    if src.size and (src.min() < 0 or src.max() >= h * w):
        raise PlanError("nearest-neighbour sources outside the input")
    return src


@delegate_op("RESIZE_NEAREST_NEIGHBOR", resize_nearest_rule, "int8, uint8: pixel copies "
             "(sources from the reference kernel)")
def build_resize_nearest(op, ctx):
    x, y = op.inputs[0], op.outputs[0]
    b, h, w, c = x.shape
    src = nearest_sources(op)
    lo, hi = _extent(ctx, x)
    batch = np.arange(b, dtype=np.int64)[:, None]
    pixels = src.size
    ranges = np.stack([(lo + (batch * h * w + src[None, :]) * c).ravel(),
                       (ctx.offset(y) + (batch * pixels + np.arange(pixels)[None, :]) * c).ravel(),
                       np.full(b * pixels, c)], axis=1)
    return copy_node(ctx, ranges, [(lo, hi)], y)


# Ops that only move elements (or fill some with a constant), with every other input constant:
# the reference kernel run on an int32 tensor of element indices + 1 says where each output
# element comes from (0: filled), and runs of consecutive sources become byte-range copies.
GATHER_OPS = ("SLICE", "STRIDED_SLICE", "DEPTH_TO_SPACE", "SPACE_TO_DEPTH", "GATHER", "TILE",
              "BROADCAST_TO", "REVERSE_V2", "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND",
              "MIRROR_PAD")


def _probe(op, data: np.ndarray):
    """`op` with input 0 replaced by `data` (its dtype and values) and a matching output."""
    x, y = op.inputs[0], op.outputs[0]
    return dataclasses.replace(
        op, inputs=[dataclasses.replace(x, dtype=data.dtype, data=data, constant=None)]
        + list(op.inputs[1:]),
        outputs=[dataclasses.replace(y, dtype=data.dtype, data=None)])


def _index_probe(op):
    x = op.inputs[0]
    n = int(np.prod(x.shape, dtype=np.int64))
    return _probe(op, np.arange(1, n + 1, dtype=np.int32).reshape(x.shape))


def gather_rule(op) -> Optional[str]:
    reason = _bytes_op(op)
    if reason:
        return reason
    x, y = op.inputs[0], op.outputs[0]
    if len(op.outputs) != 1:
        return "more than one output"
    if any(t is not None and not t.is_constant for t in op.inputs[1:]):
        return "parameters are not constant"
    if not same_quantization([x, y]):
        return "quantization differs"
    if int(np.prod(x.shape, dtype=np.int64)) >= (1 << 31) - 1:
        return "input too large to index"
    if find_kernel(_index_probe(op)) is None:
        return "no int32 reference kernel to take the element sources from"
    return None


def _run_reference(probe):
    try:
        out = find_kernel(probe).fn(probe)
    except (ValueError, ArithmeticError, LookupError, TypeError, AttributeError) as exc:
        raise PlanError("%s: the reference kernel failed on a probe: %s"
                        % (probe.opname, exc)) from None
    return np.asarray(out[0] if isinstance(out, (list, tuple)) else out)


def element_sources(op) -> np.ndarray:
    """The input element index of every output element (-1 where the op fills a constant),
    from the reference kernel."""
    x, y = op.inputs[0], op.outputs[0]
    src = _run_reference(_index_probe(op))
    if tuple(src.shape) != tuple(y.shape) or (src.size and (src.min() < 0 or
                                                           src.max() > x.nbytes)):
        raise PlanError("%s: element sources do not fit the tensors" % op.opname)
    return src.astype(np.int64).ravel() - 1


def build_gather(op, ctx):
    x, y = op.inputs[0], op.outputs[0]
    src = element_sources(op)
    nodes = []
    filled = src < 0
    if filled.any():
        # The fill value, from the reference kernel on the real type.
        out = _run_reference(_probe(op, np.zeros(x.shape, x.dtype))).reshape(-1)
        fill = ctx.new("qrun_fill_params *")
        fill.off, fill.nbytes = ctx.offset(y), y.nbytes
        fill.value = int(out[np.argmax(filled)].view(np.uint8))
        nodes.append(("FILL", fill))
    after_fill = np.concatenate([[True], filled[:-1]])
    starts = np.flatnonzero(((np.diff(src, prepend=-2) != 1) | after_fill) & ~filled)
    ends = np.flatnonzero((np.diff(src, append=-2) != 1) & ~filled) + 1
    lo, hi = _extent(ctx, x)
    ranges = np.stack([lo + src[starts], ctx.offset(y) + starts, ends - starts], axis=1)
    nodes.append(copy_node(ctx, ranges, [(lo, hi)], y))
    return nodes


for _name in GATHER_OPS:
    delegate_op(_name, gather_rule, "int8, uint8 with constant parameters: byte-range copies "
                "(element sources and fill from the reference kernel)")(build_gather)
