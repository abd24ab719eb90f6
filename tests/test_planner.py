"""The arena planner: tensors whose lifetimes overlap never share bytes; others do."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from qrun.interpreter.planner import ALIGNMENT, Allocation, plan_arena


def overlaps(a, b, offsets):
    la = (a.nbytes + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT
    lb = (b.nbytes + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT
    return offsets[a.tensor] < offsets[b.tensor] + lb and offsets[b.tensor] < offsets[a.tensor] + la


@pytest.mark.parametrize("seed", range(20))
def test_live_tensors_never_share_bytes(seed):
    rng = np.random.default_rng(seed)
    allocs = []
    for i in range(40):
        first = int(rng.integers(-1, 30))
        allocs.append(Allocation(i, int(rng.integers(1, 5000)), first,
                                 first + int(rng.integers(0, 8))))
    offsets, total = plan_arena(allocs)
    for a in allocs:
        assert offsets[a.tensor] % ALIGNMENT == 0
        assert offsets[a.tensor] + a.nbytes <= total
    for a, b in itertools.combinations(allocs, 2):
        if a.first <= b.last and b.first <= a.last:
            assert not overlaps(a, b, offsets), (a, b)
    assert total < sum((a.nbytes + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT for a in allocs)


def test_chain_reuses_memory():
    # x0 -> x1 -> x2 -> x3: only neighbours are live together, so two slots suffice.
    allocs = [Allocation(i, 1024, i - 1, i) for i in range(4)]
    offsets, total = plan_arena(allocs)
    assert total == 2048
    assert offsets[0] == offsets[2] and offsets[1] == offsets[3] and offsets[0] != offsets[1]


def test_preserve_all_tensors_gives_every_tensor_its_own_bytes():
    allocs = [Allocation(i, 100, i - 1, i) for i in range(4)]
    offsets, total = plan_arena(allocs, share=False)
    assert total == 4 * 128
    assert sorted(offsets.values()) == [0, 128, 256, 384]
