"""Timing shared by the per-kernel microbenchmarks (bench_gemm.py, bench_dwconv.py): single-op
models on LiteRT and qrun, invoked in alternation, median seconds per invoke."""
from __future__ import annotations

import argparse
import os
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
    x = np.random.default_rng(1).integers(0, 256, d["shape"]).astype(np.uint8).view(d["dtype"])
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


def qrun_interpreter(model: bytes, isa: str):
    """A one-op model on one forced ISA build; asserts the op really runs in C there."""
    from qrun import Interpreter
    os.environ["QRUN_ISA"] = isa
    try:
        it = Interpreter(model_content=model, num_threads=1)
        it.allocate_tensors()
    finally:
        del os.environ["QRUN_ISA"]
    assert all(d["backend"] == "c" and d["isa"] == isa for d in it._get_ops_details())
    return it


def parse_kernel_args(doc: str, all_shapes, argv=None):
    """The shared command line: (args, ISA builds, selected shapes, table columns)."""
    from qrun.delegate.backend import built_isas, cpu_isas
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--isas", nargs="*", default=None, help="ISA builds (default: all runnable)")
    ap.add_argument("--shapes", nargs="*", default=None, help="substrings of shape names")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--litert", action="store_true", help="also LiteRT + XNNPACK")
    args = ap.parse_args(argv)
    isas = args.isas or [i for i in built_isas() if i in cpu_isas()]
    shapes = [s for s in all_shapes if not args.shapes or any(p in s[0] for p in args.shapes)]
    cols = isas + (["litert-xnnpack"] if args.litert else [])
    return args, isas, shapes, cols
