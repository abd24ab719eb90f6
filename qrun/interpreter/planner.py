"""Memory planning: one arena for all non-constant tensors, shared where lifetimes do not overlap.

Greedy by size, first fit in address order among the tensors already placed whose lifetimes
overlap, as TFLite's arena planner does. Aliased tensors (a RESHAPE's output and input) are
one allocation whose lifetime is the union of theirs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, List, Set, Tuple

ALIGNMENT = 64


@dataclass
class Allocation:
    tensor: int
    nbytes: int
    first: int     # first step that needs the bytes (writer, or -1 for graph inputs)
    last: int      # last step that reads them


# Ops whose output holds exactly the input's bytes: the output can be the input's bytes.
ALIAS_OPS = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")


def find_aliases(subgraph, dynamic: Set[int]) -> Dict[int, Tuple[int, int]]:
    """{op index: (input tensor, output tensor)} of the ALIAS_OPS whose output can share its
    input's bytes, so that the op has nothing to do. TFLite's ArenaPlanner rule: both in the
    arena (not constant, not variable, not sized at run time), the same size and type, the
    input not a graph input (the caller writes those bytes) and the output not a graph output
    (LiteRT still copies into those)."""
    graph_inputs, graph_outputs = set(subgraph.inputs), set(subgraph.outputs)
    aliases = {}
    for op in subgraph.operators:
        if op.opname not in ALIAS_OPS or not op.inputs or op.inputs[0] is None \
                or len(op.outputs) != 1:
            continue
        x, y = op.inputs[0], op.outputs[0]
        if x.index == y.index or x.index in graph_inputs or y.index in graph_outputs:
            continue
        if any(t.is_constant or t.is_variable or t.index in dynamic for t in (x, y)):
            continue
        if x.dtype != y.dtype or x.dtype.kind not in "biufc" or x.nbytes != y.nbytes:
            continue
        aliases[op.index] = (x.index, y.index)
    return aliases


def _align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def _alias_groups(allocs: List[Allocation], aliases: Iterable[Tuple[int, int]]):
    """(one allocation per group of aliased tensors, spanning its members' lifetimes and
    sizes; {member tensor: the group's tensor})."""
    root = {a.tensor: a.tensor for a in allocs}

    def find(t: int) -> int:
        while root[t] != t:
            root[t] = root[root[t]]
            t = root[t]
        return t
    for x, y in aliases:
        if x in root and y in root:
            root[find(y)] = find(x)
    groups: Dict[int, Allocation] = {}
    for a in allocs:
        r = find(a.tensor)
        g = groups.get(r, a)
        groups[r] = Allocation(r, max(g.nbytes, a.nbytes), min(g.first, a.first),
                               max(g.last, a.last))
    return list(groups.values()), {t: find(t) for t in root}


def plan_arena(allocs: List[Allocation], share: bool = True,
               aliases: Iterable[Tuple[int, int]] = ()) -> (Dict[int, int], int):
    """Returns ({tensor index: byte offset}, arena size). Without `share`, every tensor
    gets its own bytes (experimental_preserve_all_tensors). Each (x, y) of `aliases` gets
    the same offset."""
    allocs, group_of = _alias_groups(allocs, aliases)
    offsets, total = _place(allocs, share)
    return {t: offsets[r] for t, r in group_of.items()}, total


def _place(allocs: List[Allocation], share: bool) -> (Dict[int, int], int):
    offsets: Dict[int, int] = {}
    if not share:
        total = 0
        for a in allocs:
            offsets[a.tensor] = total
            total += _align(a.nbytes)
        return offsets, total
    placed: List[Allocation] = []
    total = 0
    order = sorted(allocs, key=lambda a: (-a.nbytes, a.first, a.tensor))
    for a in order:
        size = _align(a.nbytes)
        live = sorted((offsets[p.tensor], _align(p.nbytes)) for p in placed
                      if p.first <= a.last and a.first <= p.last)
        offset = 0
        for start, length in live:
            if start - offset >= size:
                break
            offset = max(offset, start + length)
        offsets[a.tensor] = offset
        total = max(total, offset + size)
        placed.append(a)
    return offsets, total
