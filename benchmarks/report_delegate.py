"""Per model: what the C delegate runs, how its outputs agree, and its latency next to the numpy
path and LiteRT, 1 thread, in one run.

For every model: ops in C / all ops and the C partitions; on one seeded input, each output of
the delegate (best ISA) against qrun's numpy reference kernels and against LiteRT with XNNPACK
(the largest and mean difference in LSB over the outputs, and whether the scalar build gives
the same bytes as the best one); then the median invoke time of the delegate on the scalar
build and on the best ISA, the numpy path, LiteRT with XNNPACK and LiteRT without it
(BUILTIN_WITHOUT_DEFAULT_DELEGATES). Invokes alternate between the configurations as in
bench_models.py; slow configurations (the numpy path on large models) get fewer runs.

    python benchmarks/report_delegate.py --out benchmarks/delegate_report.md
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_models import DEFAULT_MODELS, feed, machine, make_interpreter  # noqa: E402

from qrun.compare import output_difference  # noqa: E402

CONFIGS = ("qrun-scalar", "qrun", "qrun-numpy", "litert-xnnpack", "litert-builtin")


def build(config: str, path: Path):
    """An allocated interpreter of `config` (qrun-scalar: the delegate forced to the scalar
    build, which QRUN_ISA selects when the plan is built)."""
    if config != "qrun-scalar":
        it = make_interpreter(config, path, 1)
        it.allocate_tensors()
        return it
    saved = os.environ.get("QRUN_ISA")
    os.environ["QRUN_ISA"] = "scalar"
    try:
        it = make_interpreter("qrun", path, 1)
        it.allocate_tensors()
    finally:
        if saved is None:
            del os.environ["QRUN_ISA"]
        else:
            os.environ["QRUN_ISA"] = saved
    return it


def outputs(it) -> List[tuple]:
    """(detail, value) per output."""
    return [(d, np.array(it.get_tensor(d["index"]))) for d in it.get_output_details()]


def lsb_difference(ours: List[tuple], theirs: List[tuple]) -> tuple:
    """(max, mean) difference in LSB over the integer outputs (qrun.compare's per-output
    figures); float outputs count as equal when bit-identical (max 0) and otherwise give
    None."""
    worst, means = 0, []
    for (d, a), (_, b) in zip(ours, theirs):
        diff = output_difference(d, a, b)
        if "error" in diff:
            return None, None
        if diff["max_lsb"] is not None:
            worst = max(worst, diff["max_lsb"])
            means.append(diff["mean_lsb"])
        elif not np.array_equal(a, b):
            return None, None
    return worst, (statistics.fmean(means) if means else 0.0)


def ops_summary(it) -> tuple:
    details = it._get_ops_details()
    in_c = sum(d["backend"] == "c" for d in details)
    steps = it._graph(0).steps
    partitions = sum(s.backend == "c" for s in steps)
    return in_c, len(details), partitions


def time_configs(interps: Dict[str, object], runs: int, max_seconds: float) -> Dict[str, float]:
    """Median ms per configuration: alternating invokes, each after an untimed one; a
    configuration whose invoke takes long stops after max_seconds of its own time (3 runs at
    least)."""
    times: Dict[str, List[float]] = {c: [] for c in interps}
    spent = dict.fromkeys(interps, 0.0)
    for _ in range(runs):
        active = [c for c in interps if len(times[c]) < 3 or spent[c] < max_seconds]
        if not active:
            break
        for c in active:
            it = interps[c]
            if times[c] and times[c][-1] < 50:
                it.invoke()   # settles a fast configuration (bench_models.py's docstring)
            t0 = time.perf_counter()
            it.invoke()
            ms = (time.perf_counter() - t0) * 1e3
            times[c].append(ms)
            spent[c] += ms / 1e3
    return {c: statistics.median(t) for c, t in times.items()}


def report_model(path: Path, runs: int, max_seconds: float) -> dict:
    row: dict = {"model": path.stem}
    interps = {}
    for c in CONFIGS:
        try:
            it = build(c, path)
            feed(it, 0)
            it.invoke()
            interps[c] = it
        except Exception as exc:  # a runtime that cannot run the model is a table entry
            row[c] = "%s: %s" % (type(exc).__name__, str(exc).splitlines()[0][:60])
    if "qrun" not in interps:
        return row
    row["in_c"], row["ops"], row["partitions"] = ops_summary(interps["qrun"])
    ours = outputs(interps["qrun"])
    for other, key in (("qrun-numpy", "vs_numpy"), ("litert-xnnpack", "vs_xnnpack")):
        if other in interps:
            row[key] = lsb_difference(ours, outputs(interps[other]))
    if "qrun-scalar" in interps:
        row["scalar_same"] = all(np.array_equal(a, b) for (_, a), (_, b)
                                 in zip(ours, outputs(interps["qrun-scalar"])))
    row.update(time_configs(interps, runs, max_seconds))
    return row


def cell(row: dict, key: str) -> str:
    v = row.get(key)
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, tuple):
        return "-" if v[0] is None else "%d / %.4f" % v
    if isinstance(v, bool):
        return "yes" if v else "NO"
    return "%.2f" % v if isinstance(v, float) else str(v)


def table(rows: List[dict]) -> str:
    head = ["model", "ops in C", "partitions", "LSB vs numpy (max / mean)",
            "LSB vs XNNPACK (max / mean)", "scalar = best ISA"] + ["%s ms" % c for c in CONFIGS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        ops = "%s / %s" % (r["in_c"], r["ops"]) if "ops" in r else "-"
        cells = [r["model"], ops, cell(r, "partitions"), cell(r, "vs_numpy"),
                 cell(r, "vs_xnnpack"), cell(r, "scalar_same")] + [cell(r, c) for c in CONFIGS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=DEFAULT_MODELS)
    ap.add_argument("--models", nargs="*", help="model names (without .tflite); default all")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--max-seconds", type=float, default=5.0,
                    help="per configuration and model, stop adding runs after this (3 at least)")
    ap.add_argument("--out", type=Path, help="also write the Markdown table here")
    args = ap.parse_args(argv)
    paths = ([args.dir / (m + ".tflite") for m in args.models] if args.models
             else sorted(args.dir.glob("*.tflite")))
    rows = []
    for p in paths:
        rows.append(report_model(p, args.runs, args.max_seconds))
        print(rows[-1]["model"], file=sys.stderr, flush=True)
    text = "%s\n\n%s\n" % (machine(), table(rows))
    print(text)
    if args.out:
        args.out.write_text("`python benchmarks/report_delegate.py %s`\n\n%s"
                            % (" ".join(argv if argv is not None else sys.argv[1:]), text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
