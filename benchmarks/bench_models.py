"""qrun against LiteRT, side by side in one process: median invoke time per model and ratios.

Runs of the configurations alternate (one invoke of each in turn, repeated), so that machine
drift hits every configuration alike. Prints a Markdown table and can write it to a file.

    python benchmarks/bench_models.py                        # every model in ../shared/models
    python benchmarks/bench_models.py --models efficientnet_lite0_int8 tf2_mobilenet_v2_1.0_224_ptq \
        --configs qrun-numpy litert-ref litert-xnnpack --threads 1 --runs 20
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = ROOT.parent / "shared" / "models"
sys.path.insert(0, str(ROOT))

from qrun import Interpreter, OpResolverType  # noqa: E402

CONFIGS = {
    # name: (runtime, resolver)
    "qrun": ("qrun", "AUTO"),
    "qrun-numpy": ("qrun", "BUILTIN_REF"),
    "litert-xnnpack": ("litert", "AUTO"),
    "litert-builtin": ("litert", "BUILTIN_WITHOUT_DEFAULT_DELEGATES"),
    "litert-ref": ("litert", "BUILTIN_REF"),
}


def make_interpreter(config: str, path: Path, threads: int):
    runtime, resolver = CONFIGS[config]
    if runtime == "qrun":
        return Interpreter(model_path=str(path), num_threads=threads,
                           experimental_op_resolver_type=OpResolverType[resolver])
    from ai_edge_litert import interpreter as lite
    return lite.Interpreter(model_path=str(path), num_threads=threads,
                            experimental_op_resolver_type=lite.OpResolverType[resolver])


def feed(interp, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for d in interp.get_input_details():
        dt = np.dtype(d["dtype"])
        if dt.kind in "iu":
            info = np.iinfo(dt)
            x = rng.integers(max(info.min, -128), min(info.max, 255) + 1, size=d["shape"])
        else:
            x = rng.uniform(-1, 1, size=d["shape"])
        interp.set_tensor(d["index"], x.astype(dt))


def bench_model(path: Path, configs: List[str], threads: int, runs: int, warmup: int,
                max_seconds: float) -> Dict[str, dict]:
    results: Dict[str, dict] = {}
    interps = {}
    for c in configs:
        t0 = time.perf_counter()
        try:
            it = make_interpreter(c, path, threads)
            it.allocate_tensors()
            feed(it)
        except Exception as exc:  # a runtime that cannot run the model is a table entry
            results[c] = {"error": "%s: %s" % (type(exc).__name__, str(exc).splitlines()[0][:80])}
            continue
        t1 = time.perf_counter()
        it.invoke()
        t2 = time.perf_counter()
        interps[c] = it
        results[c] = {"init_ms": (t1 - t0) * 1e3, "first_ms": (t2 - t1) * 1e3, "times": []}
    for _ in range(warmup):
        for it in interps.values():
            it.invoke()
    start = time.perf_counter()
    for _ in range(runs):
        for c, it in interps.items():
            t0 = time.perf_counter()
            it.invoke()
            results[c]["times"].append((time.perf_counter() - t0) * 1e3)
        if time.perf_counter() - start > max_seconds and len(results[c]["times"]) >= 3:
            break
    for c in interps:
        times = results[c].pop("times")
        results[c]["median_ms"] = statistics.median(times)
        results[c]["runs"] = len(times)
    return results


def fmt(r: dict) -> str:
    return "error" if "error" in r else "%.2f" % r["median_ms"]


def table(rows: List[tuple], configs: List[str], baseline: str) -> str:
    head = ["model", "threads"] + ["%s ms" % c for c in configs]
    head += ["%s / %s" % (c, baseline) for c in configs if c != baseline]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, threads, res in rows:
        cells = [name, str(threads)] + [fmt(res[c]) for c in configs]
        for c in configs:
            if c == baseline:
                continue
            a, b = res[c], res.get(baseline, {"error": 1})
            cells.append("-" if "error" in a or "error" in b
                         else "%.2fx" % (a["median_ms"] / b["median_ms"]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", type=Path, default=DEFAULT_MODELS)
    p.add_argument("--models", nargs="*", help="model names (without .tflite); default all")
    p.add_argument("--configs", nargs="*", default=["qrun", "litert-xnnpack", "litert-builtin"],
                   choices=sorted(CONFIGS))
    p.add_argument("--baseline", default="litert-xnnpack")
    p.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--max-seconds", type=float, default=60.0,
                   help="per model and thread count, stop adding runs after this")
    p.add_argument("--out", type=Path, help="also write the Markdown table here")
    args = p.parse_args(argv)
    names = args.models or sorted(f.stem for f in args.dir.glob("*.tflite"))
    baseline = args.baseline if args.baseline in args.configs else args.configs[0]
    rows = []
    for name in names:
        path = args.dir / (name + ".tflite")
        for threads in args.threads:
            res = bench_model(path, args.configs, threads, args.runs, args.warmup,
                              args.max_seconds)
            rows.append((name, threads, res))
            print("%-55s t=%d  %s" % (name, threads, "  ".join(
                "%s=%s" % (c, fmt(res[c])) for c in args.configs)), file=sys.stderr, flush=True)
    text = table(rows, args.configs, baseline)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
