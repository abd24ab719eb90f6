"""qrun against LiteRT, side by side in one process: init and median invoke time per model,
and qrun's time over LiteRT's.

Runs of the configurations alternate (one timed invoke of each in turn, repeated), so that
machine drift hits every configuration alike. Each timed invoke follows untimed ones of the
same interpreter (at least one, and at least --settle-ms of them), so that every configuration
is timed in its steady state, as in a loop of its own invokes, and not in the wake of the one
before: that one evicted its weights from the caches, let its worker threads fall asleep
(qrun's sleep after ~200 us, XNNPACK's at once), and qrun's workers, spinning ~200 us after an
invoke, would share the cores with the next configuration's first ~200 us (measured on 2 cores:
a 2-thread qrun invoke right after a LiteRT one took 0.89 ms instead of 0.77, tf2_mobilenet_v2,
fastest of 40). One untimed invoke is not enough after a core sat idle (a 1-thread
configuration, a sleep): the first milliseconds on it run slower (measured on this 2-core VM:
after 0.1-0.3 s of sleep, a 2-thread mobilenet_v2_1.0_224_quant invoke took 1.09-1.29 ms after
one untimed invoke, 0.87-0.89 ms after five; median of 20).

Prints a Markdown table; can write it to a file, draw a PNG bar chart of the ratios
(matplotlib: pip install qrun[plot]) and put both, with the command and the machine, between
the README's bench-table markers.

    python benchmarks/bench_models.py                        # every model in ../shared/models
    python benchmarks/bench_models.py --models efficientnet_lite0_int8 tf2_mobilenet_v2_1.0_224_ptq \
        --configs qrun-numpy litert-ref litert-xnnpack --threads 1 --runs 20
    python benchmarks/bench_models.py --png benchmarks/results.png --readme README.md
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

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
README_MARKERS = ("<!-- bench-table -->", "<!-- /bench-table -->")


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


def settle(interp, settle_ms: float) -> None:
    """Untimed invokes, at least one and at least settle_ms of them: the steady state before a
    timed one (see the module docstring)."""
    t0 = time.perf_counter()
    interp.invoke()
    while (time.perf_counter() - t0) * 1e3 < settle_ms:
        interp.invoke()


def bench_model(path: Path, configs: List[str], threads: int, runs: int, warmup: int,
                max_seconds: float, settle_ms: float = 5.0) -> Dict[str, dict]:
    results: Dict[str, dict] = {}
    interps = {}
    for c in configs:
        t0 = time.perf_counter()
        try:
            it = make_interpreter(c, path, threads)
            it.allocate_tensors()
            t1 = time.perf_counter()
            feed(it)
            it.invoke()
        except Exception as exc:  # a runtime that cannot run the model is a table entry
            results[c] = {"error": "%s: %s" % (type(exc).__name__, str(exc).splitlines()[0][:80])}
            continue
        t2 = time.perf_counter()
        interps[c] = it
        results[c] = {"init_ms": (t1 - t0) * 1e3, "first_ms": (t2 - t1) * 1e3, "times": []}
    for _ in range(warmup):
        for it in interps.values():
            it.invoke()
    start = time.perf_counter()
    for done in range(1, runs + 1):
        for c, it in interps.items():
            settle(it, settle_ms)
            t0 = time.perf_counter()
            it.invoke()
            results[c]["times"].append((time.perf_counter() - t0) * 1e3)
        if time.perf_counter() - start > max_seconds and done >= 3:
            break
    for c in interps:
        times = results[c].pop("times")
        results[c]["median_ms"] = statistics.median(times)
        results[c]["runs"] = len(times)
    return results


def fmt(r: dict, key: str = "median_ms") -> str:
    return "error" if "error" in r else "%.2f" % r[key]


def ratio_pairs(configs: List[str]) -> List[tuple]:
    """(qrun config, LiteRT config): the ratios the table and chart show."""
    ours = [c for c in configs if CONFIGS[c][0] == "qrun"]
    theirs = [c for c in configs if CONFIGS[c][0] == "litert"]
    return [(a, b) for a in ours for b in theirs]


def ratio(res: Dict[str, dict], a: str, b: str) -> Optional[float]:
    if "error" in res.get(a, {"error": 1}) or "error" in res.get(b, {"error": 1}):
        return None
    return res[a]["median_ms"] / res[b]["median_ms"]


def table(rows: List[tuple], configs: List[str]) -> str:
    pairs = ratio_pairs(configs)
    head = (["model", "threads"] + ["%s ms" % c for c in configs]
            + ["%s / %s" % pair for pair in pairs] + ["%s init ms" % c for c in configs])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, threads, res in rows:
        cells = [name, str(threads)] + [fmt(res[c]) for c in configs]
        for a, b in pairs:
            r = ratio(res, a, b)
            cells.append("-" if r is None else "%.2fx" % r)
        cells += [fmt(res[c], "init_ms") for c in configs]
        lines.append("| " + " | ".join(cells) + " |")
    errors = {(name, c): res[c]["error"] for name, _, res in rows for c in configs
              if "error" in res[c]}
    if errors:
        lines += ["", "Errors:"] + ["- %s, %s: %s" % (name, c, message)
                                    for (name, c), message in errors.items()]
    return "\n".join(lines)


def chart(rows: List[tuple], configs: List[str], path: Path) -> None:
    """Horizontal bars of qrun / LiteRT per model, one panel per pair, one bar per thread
    count; the line at 1 is parity (left of it qrun is faster)."""
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("--png needs matplotlib (pip install qrun[plot])") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker
    pairs = ratio_pairs(configs)
    names = list(dict.fromkeys(name for name, _, _ in rows))
    threads = sorted({t for _, t, _ in rows})
    fig, axes = plt.subplots(1, len(pairs), figsize=(6 * len(pairs), 0.3 * len(names) + 1.5),
                             squeeze=False, sharey=True)
    height = 0.8 / len(threads)
    for ax, (a, b) in zip(axes[0], pairs):
        for k, t in enumerate(threads):
            by_name = {name: ratio(res, a, b) for name, tt, res in rows if tt == t}
            ys = [i + k * height for i, n in enumerate(names) if by_name.get(n) is not None]
            xs = [by_name[n] for n in names if by_name.get(n) is not None]
            ax.barh(ys, xs, height=height, label="%d thread%s" % (t, "" if t == 1 else "s"))
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: "%gx" % v))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_title("%s / %s (median invoke time)" % (a, b))
        ax.set_xlabel("ratio (< 1: qrun faster)")
        ax.legend(loc="best")
    axes[0][0].set_yticks([i + 0.4 - height / 2 for i in range(len(names))])
    axes[0][0].set_yticklabels(names, fontsize=8)
    axes[0][0].invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = re.search(r"model name\s*:\s*(.*)", f.read()).group(1)
    except (OSError, AttributeError):
        pass
    from qrun.delegate.backend import current_backend
    backend = current_backend()
    try:
        from importlib.metadata import version
        litert = "ai-edge-litert %s" % version("ai-edge-litert")
    except Exception:  # noqa: BLE001  (the version is decoration)
        litert = "LiteRT"
    return "%s, %d cores, qrun ISA %s, %s, Python %s, %s" % (
        cpu, os.cpu_count() or 1, backend.isa if backend else "none (numpy)", litert,
        platform.python_version(), datetime.date.today().isoformat())


def update_readme(readme: Path, text: str, png: Optional[Path], command: str) -> None:
    """Replaces what is between the README's bench-table markers."""
    start, end = README_MARKERS
    content = readme.read_text()
    if start not in content or end not in content:
        raise SystemExit("%s has no %s ... %s section" % (readme, start, end))
    body = ["", "`%s`" % command, "", "Machine: %s." % machine(), "", text, ""]
    if png is not None:
        body += ["![qrun / LiteRT](%s)" % os.path.relpath(png, readme.parent), ""]
    head, rest = content.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(head + start + "\n".join(body) + end + tail)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", type=Path, default=DEFAULT_MODELS)
    p.add_argument("--models", nargs="*", help="model names (without .tflite); default all")
    p.add_argument("--configs", nargs="*", default=["qrun", "litert-xnnpack", "litert-builtin"],
                   choices=sorted(CONFIGS))
    p.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--max-seconds", type=float, default=60.0,
                   help="per model and thread count, stop adding runs after this")
    p.add_argument("--settle-ms", type=float, default=5.0,
                   help="untimed invokes before each timed one, for at least this long")
    p.add_argument("--out", type=Path, help="also write the Markdown table here")
    p.add_argument("--png", type=Path, help="draw the qrun / LiteRT ratios here (matplotlib)")
    p.add_argument("--readme", type=Path,
                   help="put the table, the chart, the command and the machine in this "
                        "README between %s and %s" % README_MARKERS)
    args = p.parse_args(argv)
    names = args.models or sorted(f.stem for f in args.dir.glob("*.tflite"))
    rows = []
    for name in names:
        path = args.dir / (name + ".tflite")
        for threads in args.threads:
            res = bench_model(path, args.configs, threads, args.runs, args.warmup,
                              args.max_seconds, args.settle_ms)
            rows.append((name, threads, res))
            print("%-55s t=%d  %s" % (name, threads, "  ".join(
                "%s=%s" % (c, fmt(res[c])) for c in args.configs)), file=sys.stderr, flush=True)
    text = table(rows, args.configs)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    if args.png:
        chart(rows, args.configs, args.png)
    if args.readme:
        command = "python benchmarks/bench_models.py " + " ".join(
            shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
        update_readme(args.readme, text, args.png, command.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
