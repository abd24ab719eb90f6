"""qrun's multi-threaded speed-up: 1 and N threads of one runtime, alternated in one process.

Each round times one invoke of every (runtime, threads) interpreter, in turn (each after
untimed ones of its own, for at least --settle-ms, as bench_models), so machine drift (the
machine may be shared) hits all alike; the table gives median wall time, the process CPU time
(user + sys, all threads) per invoke, and the N-thread speed-up over 1 thread, of the medians
and of the fastest runs (on a busy machine the fastest run is the one that had the cores).

    python benchmarks/bench_threads.py --models efficientnet_lite0_int8 \
        tf2_mobilenet_v2_1.0_224_ptq deeplabv3_mnv2_pascal_quant --threads 2 --runs 20
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_models import DEFAULT_MODELS, feed, make_interpreter, settle  # noqa: E402

RUNTIMES = {"qrun": "qrun", "litert": "litert-xnnpack"}


def bench(path: Path, runtimes, threads, runs: int, warmup: int, settle_ms: float):
    interps = {}
    for rt in runtimes:
        for n in (1, threads):
            it = make_interpreter(RUNTIMES[rt], path, n)
            it.allocate_tensors()
            feed(it)
            interps[rt, n] = it
    wall = {k: [] for k in interps}
    cpu = {k: [] for k in interps}
    for r in range(warmup + runs):
        for k, it in interps.items():
            settle(it, settle_ms)
            c0, t0 = time.process_time(), time.perf_counter()
            it.invoke()
            t1, c1 = time.perf_counter(), time.process_time()
            if r >= warmup:
                wall[k].append((t1 - t0) * 1e3)
                cpu[k].append((c1 - c0) * 1e3)
    return {k: (statistics.median(wall[k]), statistics.median(cpu[k]), min(wall[k]))
            for k in interps}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", type=Path, default=DEFAULT_MODELS)
    p.add_argument("--models", nargs="+", required=True, help="model names without .tflite")
    p.add_argument("--runtimes", nargs="+", default=["qrun"], choices=sorted(RUNTIMES))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--settle-ms", type=float, default=5.0)
    args = p.parse_args(argv)
    print("| model | runtime | 1 thread ms | cpu ms | %d threads ms | cpu ms | speed-up "
          "| fastest 1 / %d ms | speed-up |" % (args.threads, args.threads))
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.models:
        res = bench(args.dir / (name + ".tflite"), args.runtimes, args.threads, args.runs,
                    args.warmup, args.settle_ms)
        for rt in args.runtimes:
            (w1, c1, f1), (wn, cn, fn) = res[rt, 1], res[rt, args.threads]
            print("| %s | %s | %.2f | %.2f | %.2f | %.2f | %.2fx | %.2f / %.2f | %.2fx |"
                  % (name, rt, w1, c1, wn, cn, w1 / wn, f1, fn, f1 / fn), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
