"""Timing shared by the per-kernel microbenchmarks (bench_gemm.py, bench_dwconv.py): single-op
models on LiteRT and qrun, invoked in alternation, median seconds per invoke."""
from __future__ import annotations

import statistics
import time

import numpy as np


def litert_interpreter(model: bytes):
    from ai_edge_litert import interpreter as lite
    it = lite.Interpreter(model_content=model, num_threads=1)
    it.allocate_tensors()
    return it


def feed(it) -> None:
    d = it.get_input_details()[0]
    x = np.random.default_rng(1).integers(-128, 128, d["shape"]).astype(np.int8)
    it.set_tensor(d["index"], x)


def median_seconds(interps, runs: int):
    """One invoke of each interpreter in turn, `runs` times; the median per interpreter."""
    for it in interps:
        feed(it)
        it.invoke()
    times = [[] for _ in interps]
    for _ in range(runs):
        for i, it in enumerate(interps):
            t0 = time.perf_counter()
            it.invoke()
            times[i].append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]
