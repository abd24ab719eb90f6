"""The fuzz target: model bytes -> load, allocate_tensors, invoke once, C delegate on.

Acceptable outcomes are success or ValueError / RuntimeError / NotImplementedError with a
message; anything else (another exception type, an empty message) propagates as a finding.
Crashes, hangs and memory blow-ups are caught by the harness around this function.
"""
from __future__ import annotations

import glob
import os

import numpy as np

from qrun import Interpreter

ACCEPTED = (ValueError, RuntimeError, NotImplementedError)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED_MODELS = os.environ.get("QRUN_SHARED_MODELS",   # as tests/oracle.py finds them
                               os.path.join(os.path.dirname(ROOT), "shared", "models"))
# Seeds whose unmutated run takes seconds (numpy fallback ops on large images): a mutant of
# them would look like a hang.
SLOW_SEEDS = {"zero_dce_quant.tflite", "dncnn3_quant.tflite"}
MAX_SEED_BYTES = 1_500_000


class Finding(Exception):
    """An outcome the contract forbids (wraps the original exception)."""


def seed_paths():
    paths = glob.glob(os.path.join(SHARED_MODELS, "*.tflite")) + glob.glob(
        os.path.join(ROOT, "models", "*.tflite"))
    return sorted(p for p in paths if os.path.basename(p) not in SLOW_SEEDS
                  and os.path.getsize(p) <= MAX_SEED_BYTES)


def run_model(data: bytes) -> str:
    """Runs the target; returns "ok" or the accepted exception's type name."""
    try:
        it = Interpreter(model_content=data)
        it.allocate_tensors()
        for d in it.get_input_details():
            shape = tuple(int(s) for s in d["shape"])
            it.set_tensor(d["index"], np.ones(shape, d["dtype"]))
        it.invoke()
        return "ok"
    except ACCEPTED as exc:
        if not str(exc).strip():
            raise Finding("%s without a message" % type(exc).__name__) from exc
        return type(exc).__name__
