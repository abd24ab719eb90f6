"""`qrun --compare`: the same input through LiteRT (XNNPACK, and its reference kernels).

Per output: the largest and mean difference in quantized steps (LSB) and in dequantized
units, and for outputs with classes on the last axis the share of positions whose top-1
class agrees. The speed ratio is qrun's median invoke time over LiteRT's, from alternating
runs so that machine drift hits both alike.
"""
from __future__ import annotations

import statistics
import time
from typing import Callable, Dict, List

import numpy as np

from .inputs import dequantize

# name in the report -> LiteRT's OpResolverType
REFERENCES = {"litert_xnnpack": "AUTO", "litert_builtin_ref": "BUILTIN_REF"}


class LiteRTMissing(RuntimeError):
    """Neither ai_edge_litert nor tflite_runtime is installed."""


def litert_module():
    """LiteRT's interpreter module: ai_edge_litert, else tflite_runtime."""
    try:
        from ai_edge_litert import interpreter
        return interpreter
    except ImportError:
        pass
    try:
        from tflite_runtime import interpreter
        return interpreter
    except ImportError:
        raise LiteRTMissing("--compare needs LiteRT, which is not installed "
                            "(pip install ai-edge-litert, or tflite-runtime)") from None


def has_classes(y: np.ndarray) -> bool:
    """[batch, classes] or [batch, h, w, classes] (segmentation): top-1 along the last axis."""
    return y.ndim in (2, 4) and y.shape[-1] > 1


def output_difference(d: dict, ours: np.ndarray, theirs: np.ndarray) -> dict:
    diff = {"index": int(d["index"]), "name": d["name"]}
    if ours.shape != theirs.shape:
        diff["error"] = "shape %s, LiteRT's %s" % (list(ours.shape), list(theirs.shape))
        return diff
    if ours.dtype.kind in "iu" and ours.size:
        lsb = np.abs(ours.astype(np.int64) - theirs.astype(np.int64))
        diff.update(max_lsb=int(lsb.max()), mean_lsb=float(lsb.mean()))
    else:
        diff.update(max_lsb=None, mean_lsb=None)
    real = np.abs(dequantize(d, ours) - dequantize(d, theirs)) if ours.size else np.zeros(1)
    diff.update(max_abs=float(real.max()), mean_abs=float(real.mean()))
    if has_classes(ours):
        agree = ours.argmax(axis=-1) == theirs.argmax(axis=-1)
        diff["top1_agreement"] = float(agree.mean())
    else:
        diff["top1_agreement"] = None
    return diff


def _median_ms(invokes: Dict[str, Callable[[], None]], runs: int,
               max_secs: float) -> Dict[str, float]:
    """Alternating invokes, one of each per round; median ms of each."""
    times: Dict[str, List[float]] = {name: [] for name in invokes}
    start = time.perf_counter()
    for _ in range(max(runs, 1)):
        for name, invoke in invokes.items():
            t0 = time.perf_counter()
            invoke()
            times[name].append(time.perf_counter() - t0)
        if time.perf_counter() - start > max_secs:
            break
    return {name: statistics.median(t) * 1e3 for name, t in times.items()}


def _litert_run(lite, model_path: str, resolver: str, num_threads: int,
                inputs: Dict[int, np.ndarray], details: List[dict]):
    """A LiteRT interpreter run once on `inputs`, and its outputs from that first run (a
    stateful model's outputs change with every run)."""
    other = lite.Interpreter(model_path=model_path, num_threads=num_threads,
                             experimental_op_resolver_type=lite.OpResolverType[resolver])
    other.allocate_tensors()
    for index, value in inputs.items():
        other.set_tensor(index, value)
    other.invoke()
    return other, {d["index"]: other.get_tensor(d["index"]) for d in details}


def compare(model_path: str, interpreter, inputs: Dict[int, np.ndarray], num_threads: int,
            runs: int = 5, max_secs: float = 10.0) -> dict:
    """`interpreter` (qrun, allocated) against LiteRT on `inputs`, both from fresh variable
    state. A LiteRT configuration that cannot run the model is reported with its error."""
    lite = litert_module()
    interpreter.reset_all_variables()
    for index, value in inputs.items():
        interpreter.set_tensor(index, value)
    interpreter.invoke()
    details = interpreter.get_output_details()
    ours = {d["index"]: interpreter.get_tensor(d["index"]).copy() for d in details}
    result = {"litert": lite.__name__.split(".")[0], "num_threads": num_threads}
    invokes, theirs = {"qrun": interpreter.invoke}, {}
    for name, resolver in REFERENCES.items():
        try:
            other, theirs[name] = _litert_run(lite, model_path, resolver, num_threads, inputs,
                                              details)
        except (RuntimeError, ValueError) as exc:
            result[name] = {"error": " ".join(str(exc).split())[:200]}
            continue
        invokes[name] = other.invoke
    medians = _median_ms(invokes, runs, max_secs)
    result["qrun_median_ms"] = medians["qrun"]
    for name in theirs:
        result[name] = {
            "median_ms": medians[name],
            "speed_ratio": medians["qrun"] / medians[name],
            "outputs": [output_difference(d, ours[d["index"]], theirs[name][d["index"]])
                        for d in details],
        }
    return result
