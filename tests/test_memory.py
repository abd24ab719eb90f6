"""Repeated load / allocate / invoke / delete keeps the resident set flat: no leak in the
arena, the C plans or the loader. Each group runs in a fresh process (tests/memory_churn.py).

Iterations: 200 for the shared models up to 400 KB, 20 up to 1.5 MB, 5 for the larger ones,
and 1 for the two whose numpy fallback takes seconds per invoke: the suite's time budget.
"""
import json
import os
import subprocess
import sys

import pytest

from .oracle import SHARED_MODELS

SLOW = {"zero_dce_quant.tflite", "dncnn3_quant.tflite"}
ALL = sorted(p for p in os.listdir(SHARED_MODELS) if p.endswith(".tflite"))


def _sized(lo, hi):
    return [m for m in ALL if m not in SLOW and lo < os.path.getsize(SHARED_MODELS / m) <= hi]


# group -> (iterations, warm-up iterations, models)
GROUPS = {
    "small": (200, 3, _sized(0, 400_000)),
    "medium": (20, 3, _sized(400_000, 1_500_000)),
    "large": (5, 2, _sized(1_500_000, float("inf"))),
    "slow": (1, 1, sorted(SLOW & set(ALL))),
}
# Allowed growth per model after its warm-up: far below what one leaked arena or plan per
# iteration would add (the smallest models' arenas are ~100 KB: 200 of them are 20 MB).
MAX_GROWTH_MIB = 12.0
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("group", list(GROUPS))
def test_rss_stays_flat(group):
    iterations, warmup, models = GROUPS[group]
    assert models, "no shared models in group %s" % group
    proc = subprocess.run([sys.executable, "-m", "tests.memory_churn", str(iterations),
                           str(warmup)] + [str(SHARED_MODELS / m) for m in models],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["model"] for r in rows] == models
    grown = {r["model"]: round(r["rss_end_mib"] - r["rss_warm_mib"], 1) for r in rows}
    print(group, json.dumps(rows))
    assert all(g <= MAX_GROWTH_MIB for g in grown.values()), grown
