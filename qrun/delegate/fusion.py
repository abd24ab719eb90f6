"""Fusions: byte -> byte chains into one exact 256-entry table (one LUT node), PADs folded
into the convolution that reads them (PadFolds), and producers writing straight into their
slice of a CONCATENATION (ConcatSlices).

A chain is a run of consecutive steps whose ops each map one per-tensor int8/uint8 input
byte to one output byte: the table ops (LOGISTIC, TANH, ..., int8/uint8 QUANTIZE) and SiLU,
a LOGISTIC whose output only feeds a MUL by the LOGISTIC's own input. Each link's table
comes from the numpy reference kernels run on all 256 bytes, so the composed table is
exact. A tensor inside a chain is never written: it must have no reader outside the chain
and must not be a graph output or kept for the user (experimental_preserve_all_tensors).
Every op of a chain stays in the partition (listed on the C backend); the chain's one node
runs at its last op.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from ..interpreter.kernels.common import out_size, pad_before
from ..interpreter.registry import find_kernel
from . import rules
from .datamove import pad_value
from .elementwise import LUT_OPS, lut_table
from .plan import PlanError
from .table import OPS

TABLE_OPS = LUT_OPS + ("QUANTIZE",)


@dataclasses.dataclass
class _Link:
    ops: list           # one table op, or LOGISTIC and its MUL
    x: object           # input tensor
    y: object           # output tensor


@dataclasses.dataclass
class _Chain:
    links: List[_Link]
    node: Optional[tuple] = None   # the LUT node, built at the chain's first op


def _byte_tensor(t) -> bool:
    return t is not None and rules.per_tensor_activation(t, t.dtype) is None and \
        t.dtype in rules.QUANTIZED


def _table_link(op) -> Optional[_Link]:
    if op.opname not in TABLE_OPS or len(op.inputs) != 1 or len(op.outputs) != 1:
        return None
    x, y = op.inputs[0], op.outputs[0]
    if not (_byte_tensor(x) and _byte_tensor(y)) or tuple(x.shape) != tuple(y.shape):
        return None
    return _Link([op], x, y)


def _silu_link(logistic, mul) -> Optional[_Link]:
    """LOGISTIC(x) -> s and MUL(x, s) or MUL(s, x) -> y, all of one shape."""
    first = _table_link(logistic)
    if first is None or logistic.opname != "LOGISTIC" or mul.opname != "MUL" or \
            len(mul.inputs) != 2 or None in mul.inputs or len(mul.outputs) != 1:
        return None
    x, s, y = first.x, first.y, mul.outputs[0]
    if sorted(t.index for t in mul.inputs) != sorted((x.index, s.index)):
        return None
    if not _byte_tensor(y) or y.dtype != x.dtype or tuple(y.shape) != tuple(x.shape):
        return None
    return _Link([logistic, mul], x, y)


def _silu_table(link: _Link) -> np.ndarray:
    """MUL's reference kernel on (every byte, LOGISTIC's table of it)."""
    logistic, mul = link.ops
    x, s, y = link.x, logistic.outputs[0], link.y
    values = np.arange(256, dtype=np.uint8)
    sig = lut_table(logistic)
    probe_of = {x.index: values.view(x.dtype), s.index: sig.view(s.dtype)}
    probe = dataclasses.replace(
        mul, inputs=[dataclasses.replace(t, shape=(256,), data=probe_of[t.index], constant=None)
                     for t in mul.inputs],
        outputs=[dataclasses.replace(y, shape=(256,), data=np.zeros(256, y.dtype))])
    try:
        out = find_kernel(probe).fn(probe)
    except (ValueError, ArithmeticError, LookupError, TypeError, AttributeError) as exc:
        raise PlanError("SiLU: the MUL reference kernel failed on a probe: %s" % exc) from None
    out = np.asarray(out[0] if isinstance(out, (list, tuple)) else out)
    if out.dtype != y.dtype or out.size != 256:
        raise PlanError("SiLU: the MUL reference kernel gave %s[%d]" % (out.dtype, out.size))
    return np.ascontiguousarray(out.reshape(256)).view(np.uint8)


def _link_table(link: _Link) -> np.ndarray:
    return lut_table(link.ops[0]) if len(link.ops) == 1 else _silu_table(link)


class Fusions:
    """The chains among a subgraph's steps; build() gives an op's nodes inside a chain."""

    def __init__(self, graph, steps, supported: Callable[[object], bool]):
        readers: Dict[int, int] = {}
        for op in graph.subgraph.operators:
            for t in {t.index for t in op.inputs if t is not None}:
                readers[t] = readers.get(t, 0) + 1

        def hidden(t, chain_readers: int) -> bool:
            return not graph.preserve_all_tensors and t.index not in graph.subgraph.outputs \
                and readers.get(t.index, 0) == chain_readers

        ops = [step.op if supported(step) else None for step in steps] + [None]
        self._chains: Dict[int, Tuple[_Chain, int]] = {}   # op index -> (chain, position)
        i = 0
        while i < len(ops) - 1:
            links: List[_Link] = []
            j = i
            while ops[j] is not None:
                link = _silu_link(ops[j], ops[j + 1]) if ops[j + 1] is not None else None
                if link is None or not hidden(link.ops[0].outputs[0], 1):
                    link = _table_link(ops[j])
                if link is None or links and not (link.x.index == links[-1].y.index and
                                                  hidden(link.x, len(link.ops))):
                    break
                links.append(link)
                j += len(link.ops)
            chain_ops = [op for link in links for op in link.ops]
            if len(chain_ops) >= 2 and _in_place_or_apart(graph, links[0].x, links[-1].y):
                chain = _Chain(links)
                for k, op in enumerate(chain_ops):
                    self._chains[op.index] = (chain, k - len(chain_ops) + 1)
            i = max(j, i + 1)

    def build(self, op, ctx) -> Optional[list]:
        """None when `op` is in no chain; else its nodes: none, or the chain's LUT node at the
        last op. A chain whose table fails at its first op falls back to one node per op."""
        entry = self._chains.get(op.index)
        if entry is None:
            return None
        chain, position = entry
        if chain.node is None:
            try:
                chain.node = _lut_node(ctx, chain.links)
            except PlanError:
                for link in chain.links:
                    for o in link.ops:
                        del self._chains[o.index]
                return None
        return [chain.node] if position == 0 else []


def _apart(graph, x, y) -> bool:
    """x and y in the arena, their bytes apart: the PAD's input stays intact while the
    convolution writes its output (pad_fold_reads keeps it alive until then)."""
    xo, yo = graph.arena_offsets.get(x.index), graph.arena_offsets.get(y.index)
    return xo is not None and yo is not None and (xo + x.nbytes <= yo or yo + y.nbytes <= xo)


def _in_place_or_apart(graph, x, y) -> bool:
    """The chain's node reads x at the last op: x must be intact, so y (planned from the last
    op on) may share x's bytes exactly or not at all."""
    xo, yo = graph.arena_offsets.get(x.index), graph.arena_offsets.get(y.index)
    if xo is None or yo is None or x.nbytes != y.nbytes:
        return False
    return xo == yo or xo + x.nbytes <= yo or yo + y.nbytes <= xo


def _lut_node(ctx, links: List[_Link]) -> tuple:
    table = _link_table(links[0])
    for link in links[1:]:
        table = _link_table(link)[table]
    x, y = links[0].x, links[-1].y
    p = ctx.new("qrun_lut_params *")
    p.n = x.nbytes
    p.out_size = 1
    p.in_off, p.out_off = ctx.offset(x), ctx.offset(y, x.nbytes)
    p.table = ctx.buffer(table, "uint8_t")
    return "LUT", p


@dataclasses.dataclass
class FoldedPad:
    """A PAD folded into the convolution reading it: the convolution's taps read `source`
    (the PAD's input), with `top` and `left` added to its own padding."""
    source: object
    top: int
    left: int


WINDOW_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D")


def _readers(graph) -> Dict[int, int]:
    """tensor index -> how many ops read it."""
    readers: Dict[int, int] = {}
    for op in graph.subgraph.operators:
        for t in {t.index for t in op.inputs if t is not None}:
            readers[t] = readers.get(t, 0) + 1
    return readers


def _pad_fold(graph, pad, conv, readers: Dict[int, int]) -> Optional[FoldedPad]:
    """The fold of PAD `pad` into `conv`, the next op, or None. The PAD's output must be read
    by `conv` alone (not a graph output nor kept), padded on height and width only with the
    convolution's input zero point, and each side of the folded padding at most the window's
    span less one (a window always meets the input, as with SAME padding)."""
    if pad.opname not in ("PAD", "PADV2") or conv.opname not in WINDOW_OPS:
        return None
    x, y = pad.inputs[0], pad.outputs[0]
    if x is None or len(pad.inputs) < 2 or pad.inputs[1] is None or \
            not pad.inputs[1].is_constant or x.is_constant or len(conv.inputs) < 2 or \
            conv.inputs[0] is None or conv.inputs[0].index != y.index or \
            conv.inputs[1] is None or \
            sum(t is not None and t.index == y.index for t in conv.inputs) != 1:
        return None
    if graph.preserve_all_tensors or y.index in graph.subgraph.outputs or \
            readers.get(y.index, 0) != 1 or len(x.shape) != 4 or len(y.shape) != 4 or \
            x.dtype != y.dtype or x.dtype not in rules.QUANTIZED:
        return None
    pads = np.asarray(pad.inputs[1].constant).astype(np.int64)
    if pads.shape != (4, 2) or pads[0].any() or pads[3].any() or (pads < 0).any() or \
            x.nbytes == 0 or pad_value(pad) != int(np.array(y.zero_point, y.dtype).view(np.uint8)):
        return None
    o = conv.options
    w = conv.inputs[1]
    for axis, k, stride, dilation in ((1, w.shape[1], o.stride_h, o.dilation_h_factor),
                                      (2, w.shape[2], o.stride_w, o.dilation_w_factor)):
        n = y.shape[axis]
        out = out_size(o.padding, n, k, stride, dilation)
        span = (k - 1) * dilation
        before = pad_before(stride, dilation, n, k, out) + pads[axis, 0]
        after = (out - 1) * stride + span - before - (x.shape[axis] - 1)
        if before > span or after > span:
            return None
    return FoldedPad(x, int(pads[1, 0]), int(pads[2, 0]))


def pad_fold_reads(graph) -> Dict[int, int]:
    """{tensor index: op position}: the inputs of the PADs that may be folded into the
    convolution after them, which then reads them."""
    ops = graph.subgraph.operators
    readers = _readers(graph)
    reads: Dict[int, int] = {}
    for k in range(len(ops) - 1):
        try:
            fold = _pad_fold(graph, ops[k], ops[k + 1], readers)
        except (ValueError, AttributeError, TypeError, IndexError):
            fold = None
        if fold is not None:
            reads[fold.source.index] = k + 1
    return reads


class PadFolds:
    """PADs folded into the CONV_2D / DEPTHWISE_CONV_2D step right after them: the PAD keeps
    no node (listed on the C backend), the convolution reads the PAD's input through its
    taps' padding. build() gives the nodes of either op, None for other ops."""

    def __init__(self, graph, steps, supported: Callable[[object], bool]):
        readers = _readers(graph)
        self._folds: Dict[int, Tuple[object, FoldedPad]] = {}   # PAD index -> (conv, fold)
        for step, after in zip(steps, steps[1:]):
            if supported(step) and supported(after):
                fold = _pad_fold(graph, step.op, after.op, readers)
                if fold is not None and _apart(graph, fold.source, after.op.outputs[0]):
                    self._folds[step.op.index] = (after.op, fold)
        self._conv_nodes: Dict[int, list] = {}

    def build(self, op, ctx) -> Optional[list]:
        """At a folded PAD: builds its convolution with the fold (no nodes for the PAD), or
        None when that fails (both ops then get their own nodes); at that convolution: its
        nodes."""
        nodes = self._conv_nodes.pop(op.index, None)
        if nodes is not None:
            return nodes
        entry = self._folds.get(op.index)
        if entry is None:
            return None
        conv, fold = entry
        ctx.folded_pads[conv.index] = fold
        try:
            built = OPS[conv.opname].build(conv, ctx)
        except PlanError:
            return None
        finally:
            del ctx.folded_pads[conv.index]
        self._conv_nodes[conv.index] = built if isinstance(built, list) else [built]
        return []


@dataclasses.dataclass
class ConcatSlice:
    """Where a CONCATENATION input's bytes go in its output `y`: per outer index o (the axes
    before the concatenation's), the input's `row` bytes o * row .. at o * out_row + start."""
    y: object
    row: int
    out_row: int
    start: int


# Producers whose plans write their output through PlanContext.output_rows (GEMM, IGEMM) or
# copy_node (byte-range copies), so they can write into a concatenation's slice.
SLICE_PRODUCERS = ("CONV_2D", "FULLY_CONNECTED", "STRIDED_SLICE", "SLICE",
                   "RESIZE_NEAREST_NEIGHBOR")


def _concat_slices(graph) -> Dict[int, Tuple[int, int, ConcatSlice]]:
    """{input tensor: (producer position, concatenation position, slice)} of the
    CONCATENATION inputs a SLICE_PRODUCERS op may write into the output directly: the input
    read by the concatenation alone, once, not a graph output nor kept; bytes copied as they
    are (one quantization); GEMM producers on the last axis only."""
    from .datamove import concat_axis, same_quantization
    if graph.preserve_all_tensors:
        return {}
    ops = graph.subgraph.operators
    readers = _readers(graph)
    producer: Dict[int, int] = {}
    for k, op in enumerate(ops):
        for t in op.outputs:
            producer[t.index] = k
    result: Dict[int, Tuple[int, int, ConcatSlice]] = {}
    for c, op in enumerate(ops):
        if op.opname != "CONCATENATION" or len(op.outputs) != 1 or None in op.inputs:
            continue
        y = op.outputs[0]
        try:
            axis = concat_axis(op)
            if not 0 <= axis < len(y.shape) or not same_quantization(list(op.inputs) + [y]) \
                    or y.is_constant or y.index in graph.subgraph.inputs:
                continue
        except (ValueError, AttributeError, TypeError, IndexError):
            continue
        outer = int(np.prod(y.shape[:axis], dtype=np.int64))
        if outer <= 0 or y.nbytes % outer:
            continue
        start = 0
        for t in op.inputs:
            row = t.nbytes // outer
            p = producer.get(t.index)
            if row > 0 and p is not None and p < c and ops[p].opname in SLICE_PRODUCERS and \
                    len(ops[p].outputs) == 1 and readers.get(t.index, 0) == 1 and \
                    sum(u.index == t.index for u in op.inputs) == 1 and \
                    t.index not in graph.subgraph.outputs and not t.is_constant and \
                    t.dtype == y.dtype and t.nbytes == row * outer and \
                    (ops[p].opname in ("STRIDED_SLICE", "SLICE", "RESIZE_NEAREST_NEIGHBOR")
                     or axis == len(y.shape) - 1):
                result[t.index] = (p, c, ConcatSlice(y, row, y.nbytes // outer, start))
            start += row
    return result


def concat_slice_writes(graph) -> Dict[int, int]:
    """{concatenation output: op position}: the first producer that may write into it."""
    first: Dict[int, int] = {}
    for p, _, cs in _concat_slices(graph).values():
        first[cs.y.index] = min(first.get(cs.y.index, p), p)
    return first


class ConcatSlices:
    """Producers (SLICE_PRODUCERS) writing into their slice of a CONCATENATION, both in C:
    the concatenation then copies only its other inputs (no node when none is left).
    build() gives the nodes of a producer or a concatenation, None for other ops."""

    def __init__(self, graph, steps, supported: Callable[[object], bool]):
        ops = graph.subgraph.operators
        delegated = {step.op.index for step in steps if supported(step)}
        self._slices: Dict[int, ConcatSlice] = {}     # producer op index -> its slice
        self._output: Dict[int, int] = {}             # producer op index -> its output
        self._concat_of: Dict[int, int] = {}          # producer op index -> concatenation
        self._concats: Dict[int, set] = {}            # concatenation index -> written inputs
        for t, (p, c, cs) in _concat_slices(graph).items():
            if ops[p].index in delegated and ops[c].index in delegated:
                self._slices[ops[p].index] = cs
                self._output[ops[p].index] = t
                self._concat_of[ops[p].index] = ops[c].index
                self._concats.setdefault(ops[c].index, set())

    def build(self, op, ctx) -> Optional[list]:
        if op.index in self._concats:
            from .datamove import build_concat
            written = self._concats.pop(op.index)
            try:
                return build_concat(op, ctx, skip=written)
            except PlanError as exc:
                if written:   # their bytes are only in the output: the op must not fall back
                    raise RuntimeError("CONCATENATION %d: %s" % (op.index, exc)) from None
                raise
        cs = self._slices.get(op.index)
        if cs is None:
            return None
        t = self._output[op.index]
        ctx.concat_slices[t] = cs
        try:
            built = OPS[op.opname].build(op, ctx)
        except PlanError:
            return None
        finally:
            del ctx.concat_slices[t]
        nodes = built if isinstance(built, list) else [built]
        if any(kind not in ("COPY", "GEMM", "IGEMM") for kind, _ in nodes):
            return None   # e.g. a fill of the whole output: built again without the slice
        self._concats[self._concat_of[op.index]].add(t)
        return nodes
