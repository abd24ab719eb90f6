"""Memory planning: one arena for all non-constant tensors, shared where lifetimes do not overlap.

Greedy by size, first fit in address order among the tensors already placed whose lifetimes
overlap, as TFLite's arena planner does.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List

ALIGNMENT = 64


@dataclass
class Allocation:
    tensor: int
    nbytes: int
    first: int     # first step that needs the bytes (writer, or -1 for graph inputs)
    last: int      # last step that reads them


def _align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def plan_arena(allocs: List[Allocation], share: bool = True) -> (Dict[int, int], int):
    """Returns ({tensor index: byte offset}, arena size). Without `share`, every tensor
    gets its own bytes (experimental_preserve_all_tensors)."""
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
