"""The per-op profiler: where an invoke's time goes, op by op.

Numpy ops are timed around their step; ops in a delegated partition by the C executor's
timestamps around each node (an op may be several nodes). Both timers are off unless
profiling is on, so a plain invoke() pays nothing for them. What the op timers do not cover
(the C call into a partition, the interpreter's own loop) is reported as overhead, so the
op times plus the overheads add up to the invoke time.

Times are means over the faster half of the runs (by invoke time): on a shared machine a
preempted run would otherwise put its stall on whichever op it hit. Whole runs are kept or
dropped, so the figures still add up.
"""
from __future__ import annotations

import time
from typing import Dict, List, Optional

import numpy as np


def op_macs(op) -> Optional[int]:
    """Multiply-accumulates of the ops that do arithmetic on weights; None for the others."""
    name = op.opname
    if name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"):
        return None
    out = op.outputs[0]
    if name == "TRANSPOSE_CONV":
        weights, x = op.inputs[1], op.inputs[2]
        _, kh, kw, _ = weights.shape
        return int(np.prod(x.shape, dtype=np.int64)) * kh * kw * int(weights.shape[0])
    weights = op.inputs[1]
    out_size = int(np.prod(out.shape, dtype=np.int64))
    if name == "CONV_2D":
        return out_size * int(np.prod(weights.shape[1:], dtype=np.int64))
    if name == "DEPTHWISE_CONV_2D":
        return out_size * int(weights.shape[1]) * int(weights.shape[2])
    return out_size * int(weights.shape[-1])


def _last_run(graph, num_ops: int) -> np.ndarray:
    """The last run's seconds per op, then the time in partitions outside their nodes."""
    seconds = np.zeros(num_ops + 1)
    for step, step_seconds in zip(graph.steps, graph.step_seconds):
        node_ops = getattr(step, "node_ops", None)
        if node_ops is None:
            seconds[step.ops[0].index] += step_seconds
            continue
        node_seconds = step.node_seconds()
        for op, s in zip(node_ops, node_seconds):
            seconds[op.index] += s
        seconds[num_ops] += step_seconds - sum(node_seconds)
    return seconds


def profile(interpreter, runs: int, warmup_runs: int = 1, max_secs: float = 60.0) -> dict:
    """Runs the interpreter's current inputs `runs` times (fewer when max_secs is reached)
    with the timers on; times per op, per op type, and the invoke time they add up to."""
    graph = interpreter._graph(0)
    ops = interpreter.model.subgraphs[0].operators
    where = {d["index"]: d["backend"] + ("/" + d["isa"] if d["isa"] else "")
             for d in interpreter._get_ops_details()}
    graph.set_profiling(True)
    try:
        for _ in range(warmup_runs):
            interpreter.invoke()
        invoke_seconds, per_run = [], []
        start = time.perf_counter()
        while len(per_run) < max(runs, 1):
            t0 = time.perf_counter()
            interpreter.invoke()
            invoke_seconds.append(time.perf_counter() - t0)
            per_run.append(_last_run(graph, len(ops)))
            if time.perf_counter() - start > max_secs:
                break
    finally:
        graph.set_profiling(False)
    invoke = np.array(invoke_seconds)
    kept = invoke <= np.median(invoke)
    invoke_ms = float(invoke[kept].mean()) * 1e3
    mean_ms = np.array(per_run)[kept].mean(axis=0) * 1e3
    rows = []
    for op in ops:
        ms = float(mean_ms[op.index])
        macs = op_macs(op)
        rows.append({
            "index": op.index, "op": op.opname, "backend": where[op.index],
            "shape": [int(s) for s in op.outputs[0].shape] if op.outputs else [],
            "macs": macs, "ms": ms, "share": ms / invoke_ms if invoke_ms > 0 else 0.0,
            "gmacs_per_s": macs / ms * 1e-6 if macs is not None and ms > 0 else None,
        })
    rows.sort(key=lambda r: -r["ms"])
    ops_ms = sum(r["ms"] for r in rows)
    call_ms = float(mean_ms[len(ops)])
    return {
        "runs": len(per_run),
        "runs_kept": int(kept.sum()),
        "invoke_ms": invoke_ms,
        "ops_ms": ops_ms,
        "partition_call_ms": call_ms,
        "interpreter_ms": invoke_ms - ops_ms - call_ms,
        "ops": rows,
        "by_type": by_type(rows, invoke_ms),
    }


def by_type(rows: List[dict], invoke_ms: float) -> List[dict]:
    """The op rows summed per op type and backend, most time first."""
    groups: Dict[tuple, dict] = {}
    for r in rows:
        g = groups.setdefault((r["op"], r["backend"]), {
            "op": r["op"], "backend": r["backend"], "count": 0, "ms": 0.0, "macs": None})
        g["count"] += 1
        g["ms"] += r["ms"]
        if r["macs"] is not None:
            g["macs"] = (g["macs"] or 0) + r["macs"]
    for g in groups.values():
        g["share"] = g["ms"] / invoke_ms if invoke_ms > 0 else 0.0
        g["gmacs_per_s"] = (g["macs"] / g["ms"] * 1e-6 if g["macs"] is not None and g["ms"] > 0
                            else None)
    return sorted(groups.values(), key=lambda g: -g["ms"])
