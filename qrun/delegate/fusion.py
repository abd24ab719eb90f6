"""Fusion of byte -> byte chains into one exact 256-entry table (one LUT node).

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

from ..interpreter.registry import find_kernel
from . import rules
from .elementwise import LUT_OPS, lut_table
from .plan import PlanError

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
