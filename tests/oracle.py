"""Running a model on qrun and on LiteRT (the oracle) with the same inputs."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from qrun import Interpreter, OpResolverType

SHARED_MODELS = Path(os.environ.get("QRUN_SHARED_MODELS",
                                    Path(__file__).resolve().parents[1] / ".." / "shared" / "models"))


def shared_model(name: str) -> Path:
    return SHARED_MODELS / name


def litert():
    """LiteRT's interpreter module (ai_edge_litert, or tflite_runtime)."""
    try:
        from ai_edge_litert import interpreter as lite
    except ImportError:  # pragma: no cover - the test extra installs ai-edge-litert
        from tflite_runtime import interpreter as lite
    return lite


def random_inputs(details: Sequence[dict], seed: int) -> List[np.ndarray]:
    """Deterministic inputs covering each input's whole range."""
    rng = np.random.default_rng(seed)
    out = []
    for d in details:
        shape, dtype = tuple(d["shape"]), np.dtype(d["dtype"])
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            lo, hi = max(int(info.min), -1000), min(int(info.max), 1000)
            out.append(rng.integers(lo, hi + 1, size=shape, dtype=np.int64).astype(dtype))
        elif dtype == np.bool_:
            out.append(rng.integers(0, 2, size=shape).astype(bool))
        else:
            out.append(rng.uniform(-1.0, 1.0, size=shape).astype(dtype))
    return out


def _run(interp, inputs: Optional[Sequence[np.ndarray]]) -> List[np.ndarray]:
    interp.allocate_tensors()
    details = interp.get_input_details()
    for d, x in zip(details, inputs):
        interp.set_tensor(d["index"], x)
    interp.invoke()
    return [interp.get_tensor(d["index"]) for d in interp.get_output_details()]


def run_qrun(model: bytes, inputs: Sequence[np.ndarray],
             resolver: OpResolverType = OpResolverType.BUILTIN_REF, **kw) -> List[np.ndarray]:
    return _run(Interpreter(model_content=model, experimental_op_resolver_type=resolver, **kw),
                inputs)


def run_litert(model: bytes, inputs: Sequence[np.ndarray], resolver: str = "BUILTIN_REF",
               **kw) -> List[np.ndarray]:
    lite = litert()
    it = lite.Interpreter(model_content=model,
                          experimental_op_resolver_type=getattr(lite.OpResolverType, resolver),
                          **kw)
    return _run(it, inputs)


def assert_same(ours: Sequence[np.ndarray], theirs: Sequence[np.ndarray], atol_float: float = 1e-5,
                lsb: int = 0, what: str = "") -> None:
    """Integer outputs equal (or within `lsb`); float outputs within atol_float of the
    largest magnitude."""
    assert len(ours) == len(theirs), what
    for k, (a, b) in enumerate(zip(ours, theirs)):
        assert a.dtype == b.dtype, "%s output %d: dtype %s != %s" % (what, k, a.dtype, b.dtype)
        assert a.shape == b.shape, "%s output %d: shape %s != %s" % (what, k, a.shape, b.shape)
        if a.dtype.kind == "f":
            scale = max(float(np.max(np.abs(b))) if b.size else 0.0, 1.0)
            err = float(np.max(np.abs(a.astype(np.float64) - b))) if a.size else 0.0
            assert err <= atol_float * scale, "%s output %d: max error %g" % (what, k, err)
        elif lsb == 0:
            if not np.array_equal(a, b):
                diff = np.argwhere(a != b)
                first = tuple(diff[0])
                raise AssertionError("%s output %d: %d of %d elements differ; first at %s: "
                                     "qrun %s, LiteRT %s" % (what, k, len(diff), a.size, first,
                                                            a[first], b[first]))
        else:
            err = int(np.max(np.abs(a.astype(np.int64) - b.astype(np.int64)))) if a.size else 0
            assert err <= lsb, "%s output %d: max difference %d LSB" % (what, k, err)


def check_against_litert(model: bytes, seed: int = 0, inputs=None, **kw) -> List[np.ndarray]:
    """Runs `model` on qrun's numpy kernels and LiteRT BUILTIN_REF; asserts bit-exactness."""
    lite = litert()
    probe = lite.Interpreter(model_content=model,
                             experimental_op_resolver_type=lite.OpResolverType.BUILTIN_REF)
    probe.allocate_tensors()
    if inputs is None:
        inputs = random_inputs(probe.get_input_details(), seed)
    theirs = run_litert(model, inputs)
    ours = run_qrun(model, inputs)
    assert_same(ours, theirs, **kw)
    return ours
