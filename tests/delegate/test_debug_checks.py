"""Debug builds of the C kernels (QRUN_DEBUG=1 python setup.py build_ext --inplace; .ci/sanitize
builds them) check every node's preconditions before running it (kernels_c/checks.c): a plan
corrupted after Python validated it stops the process with a message naming the node, its
kind and the field. Skipped on normal builds, where C trusts the plan."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from qrun.delegate.backend import load_backend
from qrun.modelbuilder import ModelBuilder
from tests.delegate.test_conv import GEOMETRIES, conv_model
from tests.delegate.util import ISAS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Runs a one-op model (a file) whose node 0 (params struct `ctype`) gets `corrupt` applied, a
# statement on `p` (the params) and `arena_bytes`, after allocate_tensors() built the plan.
SCRIPT = """
import sys
from qrun import Interpreter
path, ctype, corrupt = sys.argv[1], sys.argv[2], sys.argv[3]
it = Interpreter(model_path=path)
it.allocate_tensors()
(step,) = [s for s in it._graph(0).steps if getattr(s, "backend", "") == "c"]
p = step._ctx.ffi.cast(ctype + " *", step._plan.nodes[0].params)
arena_bytes = step._plan.arena_bytes
exec(corrupt)
it.invoke()
print("invoke returned")
"""


def add_model() -> bytes:
    b = ModelBuilder()
    x = b.add_input((1, 5, 7, 3), np.int8, scale=0.05, zero_point=3)
    y = b.add_tensor((1, 5, 7, 3), np.int8, scale=0.1, zero_point=-2)
    b.add_op("ADD", [x, x], [y])
    b.mark_output(y)
    return b.build()


def conv3x3_model() -> bytes:
    return conv_model("int8", GEOMETRIES[0], "NONE", seed=0)


MODELS = {"add": add_model, "conv": conv3x3_model}

# (model, params struct, corruption, the message's tail)
CASES = {
    "output-past-arena": ("add", "qrun_binary_params", "p.out_off = arena_bytes - 100",
                          "node 0 (BINARY): out_off: nbytes <= n->arena_bytes - off"),
    "negative-offset": ("add", "qrun_binary_params", "p.a_off = -1",
                        "node 0 (BINARY): a_off: off >= 0"),
    "window-tap": ("conv", "qrun_gemm_params", "p.tap_rows[0] = arena_bytes + 1",
                   "node 0 (IGEMM): tap_rows + tap_cols: "),
    "negative-size": ("conv", "qrun_gemm_params", "p.kc = -3", "node 0 (IGEMM): kc: p->kc > 0"),
    "tile-width": ("conv", "qrun_gemm_params", "p.nr = 1000", "node 0 (IGEMM): nr: p->nr > 0"),
}


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("case", list(CASES))
def test_corrupted_plan_aborts_naming_the_field(case, isa, tmp_path):
    if not load_backend(isa).lib.qrun_debug_checks():
        pytest.skip("not a debug build (QRUN_DEBUG=1 python setup.py build_ext --inplace)")
    model, ctype, corrupt, message = CASES[case]
    path = tmp_path / "model.tflite"
    path.write_bytes(MODELS[model]())
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(path), ctype, corrupt], cwd=ROOT,
                          env=dict(os.environ, QRUN_ISA=isa), capture_output=True, text=True)
    assert proc.returncode == -signal.SIGABRT, (proc.returncode, proc.stdout, proc.stderr)
    assert "qrun debug check failed: " + message in proc.stderr, proc.stderr
    assert "invoke returned" not in proc.stdout
