"""Running one-op models through the C delegate and comparing with LiteRT BUILTIN_REF."""
from __future__ import annotations

import contextlib
import os
from typing import List, Optional, Sequence

import numpy as np

from qrun import Interpreter
from qrun.delegate.backend import built_isas, cpu_isas
from tests.oracle import assert_same, litert, random_inputs, run_litert, run_qrun

# Every ISA build present that this CPU runs; each must give the scalar build's answers.
ISAS = [isa for isa in built_isas() if isa in cpu_isas()]


@contextlib.contextmanager
def forced_isa(isa: Optional[str]):
    old = os.environ.get("QRUN_ISA")
    if isa is None:
        os.environ.pop("QRUN_ISA", None)
    else:
        os.environ["QRUN_ISA"] = isa
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("QRUN_ISA", None)
        else:
            os.environ["QRUN_ISA"] = old


def run_delegate(model: bytes, inputs: Sequence[np.ndarray], isa: Optional[str] = None,
                 expect_backend: Optional[str] = "c") -> List[np.ndarray]:
    """Runs `model` with the delegate (default resolver) and checks every op ran on
    `expect_backend` (None: any) and the delegated ones on the forced ISA."""
    with forced_isa(isa):
        it = Interpreter(model_content=model)
        it.allocate_tensors()
    for d in it._get_ops_details():
        assert expect_backend is None or d["backend"] == expect_backend, \
            "op %d %s ran on %s" % (d["index"], d["op_name"], d["backend"])
        if isa is not None and d["backend"] == "c":
            assert d["isa"] == isa
    for d, x in zip(it.get_input_details(), inputs):
        it.set_tensor(d["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


def model_inputs(model: bytes, seed: int) -> List[np.ndarray]:
    return random_inputs(litert().Interpreter(model_content=model).get_input_details(), seed)


def check_delegate(model: bytes, seed: int = 0, lsb: int = 1,
                   reference: str = "litert") -> List[np.ndarray]:
    """Delegate vs LiteRT BUILTIN_REF (or qrun's numpy kernels, for ops BUILTIN_REF lacks)
    within `lsb`; every built ISA equal to scalar."""
    inputs = model_inputs(model, seed)
    ours = run_delegate(model, inputs, "scalar" if ISAS else None)
    theirs = run_litert(model, inputs) if reference == "litert" else run_qrun(model, inputs)
    assert_same(ours, theirs, lsb=lsb, what="delegate vs " + reference)
    for isa in ISAS[1:]:
        assert_same(run_delegate(model, inputs, isa), ours, what="%s vs scalar" % isa)
    return ours


def per_op_differences(model: bytes, inputs: Sequence[np.ndarray]) -> List[tuple]:
    """Runs `model` with the delegate, keeping every tensor, then re-runs each delegated op's
    numpy reference kernel on the same inputs: [(op index, op name, max |diff| in LSB)]
    (float outputs must be equal)."""
    from qrun.interpreter.registry import find_kernel
    it = Interpreter(model_content=model, experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), inputs):
        it.set_tensor(d["index"], x)
    it.invoke()
    result = []
    for step in it._graphs[0].steps:
        if step.backend != "c":
            continue
        for op in step.ops:
            ref = find_kernel(op).fn(op)
            ref = ref if isinstance(ref, (list, tuple)) else [ref]
            worst = 0
            for t, r in zip(op.outputs, ref):
                if t.dtype.kind == "f":   # DEQUANTIZE: exact, or reported as far off
                    worst = max(worst, 0 if np.array_equal(t.data, r) else 1 << 30)
                    continue
                diff = np.abs(t.data.astype(np.int64) - np.asarray(r).astype(np.int64))
                worst = max(worst, int(diff.max()) if diff.size else 0)
            result.append((op.index, op.opname, worst))
    return result
