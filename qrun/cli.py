"""The `qrun` command: what a model holds and where it runs, one run and its outputs; on
request a benchmark, a per-op profile and a comparison with LiteRT.

    qrun MODEL [--input FILE] [--output FILE.npz] [--labels FILE] [--num-threads N]
               [--isa ISA | --no-delegate] [--bench] [--profile] [--compare] [--json] [--debug]

Every section is computed as a dict: printed as text as soon as it is known, or with --json
collected into one JSON document on stdout. Exit codes: 0 success, 2 usage error, 1 model or
runtime error, printed as one line `qrun: error: ...` (--debug shows the traceback instead).
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
import traceback
from typing import Callable, Dict, List, Optional, Sequence, TextIO

import numpy as np

from . import __version__
from .bench import benchmark
from .compare import compare
from .delegate.backend import ISAS
from .inputs import dequantize, load_inputs, random_inputs
from .interpreter import Interpreter
from .interpreter.graph import AliasStep
from .interpreter.interpreter import OpResolverType
from .profile import profile

TOP_K = 5


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="qrun",
        description="Show a .tflite model's inputs, outputs and ops and where they run, run it "
                    "once and summarize its outputs; optionally benchmark, profile per op, and "
                    "compare with LiteRT.")
    p.add_argument("model", help="path of a .tflite model")
    g = p.add_argument_group("input and output")
    g.add_argument("--input", metavar="FILE",
                   help=".npy (one input), .npz (arrays named as the inputs) or an image "
                        "(resized and quantized to the input; needs Pillow); default: "
                        "deterministic random values")
    g.add_argument("--seed", type=int, default=0,
                   help="seed of the random input (default: %(default)s)")
    g.add_argument("--mean", type=float, help="image pixels become (p - mean) / std "
                   "(default: the quantized input's whole range, or [-1, 1] for floats)")
    g.add_argument("--std", type=float, help="see --mean")
    g.add_argument("--output", metavar="FILE.npz", help="write the outputs, named as in the model")
    g.add_argument("--labels", metavar="FILE", help="class names, one per line, for the top-5")
    g = p.add_argument_group("runtime")
    g.add_argument("--num-threads", type=int, default=1, help="(default: %(default)s)")
    where = g.add_mutually_exclusive_group()
    where.add_argument("--isa", choices=list(ISAS), help="force one build of the C kernels")
    where.add_argument("--no-delegate", action="store_true",
                       help="run every op on the numpy reference kernels")
    g = p.add_argument_group("benchmark and profile (TFLite benchmark_model's flags)")
    g.add_argument("--bench", action="store_true", help="time repeated runs")
    g.add_argument("--profile", action="store_true", help="time every op")
    g.add_argument("--num-runs", type=int, default=50, help="(default: %(default)s)")
    g.add_argument("--warmup-runs", type=int, default=1, help="(default: %(default)s)")
    g.add_argument("--min-secs", type=float, default=1.0,
                   help="run at least this long (default: %(default)s)")
    g.add_argument("--max-secs", type=float, default=150.0,
                   help="stop after this long (default: %(default)s)")
    g = p.add_argument_group("checking")
    g.add_argument("--compare", action="store_true",
                   help="run the same input through LiteRT (XNNPACK and BUILTIN_REF)")
    p.add_argument("--json", action="store_true", help="print one JSON document instead")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    p.add_argument("--version", action="version", version="qrun %s" % __version__)
    return p


def check_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.num_threads < 1 and args.num_threads != -1:
        p.error("--num-threads must be >= 1 (or -1: all cores)")
    if args.num_runs < 1 or args.warmup_runs < 0:
        p.error("--num-runs must be >= 1 and --warmup-runs >= 0")
    if args.min_secs < 0 or args.max_secs <= 0:
        p.error("--min-secs must be >= 0 and --max-secs > 0")
    if args.output and not args.output.endswith(".npz"):
        p.error("--output writes an .npz file")


# -- the model ---------------------------------------------------------------------------------

def format_quantization(d: dict) -> str:
    q = d["quantization_parameters"]
    scales = q["scales"]
    if len(scales) == 0:
        return "not quantized"
    if len(scales) == 1:
        return "scale %.6g, zero point %d" % (scales[0], q["zero_points"][0])
    return "per-channel: %d scales along dimension %d" % (len(scales), q["quantized_dimension"])


def tensor_info(d: dict) -> dict:
    return {"index": int(d["index"]), "name": d["name"],
            "shape": [int(s) for s in d["shape"]], "dtype": np.dtype(d["dtype"]).name,
            "quantization": format_quantization(d)}


def describe_model(it: Interpreter, path: str) -> dict:
    model = it.model
    counts = collections.Counter(op.opname for op in model.subgraphs[0].operators)
    return {
        "path": path, "bytes": model.nbytes, "subgraphs": len(model.subgraphs),
        "ops": sum(len(sg.operators) for sg in model.subgraphs),
        "description": model.description or None,
        "inputs": [tensor_info(d) for d in it.get_input_details()],
        "outputs": [tensor_info(d) for d in it.get_output_details()],
        "op_counts": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        "weight_bytes": sum(t.constant.nbytes for sg in model.subgraphs for t in sg.tensors
                            if t.is_constant),
    }


def print_model(m: dict, out: TextIO) -> None:
    print("model: %s (%d bytes, %d subgraph%s, %d ops)" % (
        m["path"], m["bytes"], m["subgraphs"], "" if m["subgraphs"] == 1 else "s", m["ops"]),
        file=out)
    if m["description"]:
        print("description: %s" % m["description"], file=out)
    for title in ("inputs", "outputs"):
        print("%s:" % title, file=out)
        for t in m[title]:
            print("  [%d] %s  %s  %s  %s" % (t["index"], t["name"], t["shape"], t["dtype"],
                                            t["quantization"]), file=out)
    print("ops:", file=out)
    for name, count in m["op_counts"].items():
        print("  %-24s %d" % (name, count), file=out)


# -- where it runs -----------------------------------------------------------------------------

def numpy_reason(it: Interpreter, graph, step) -> str:
    """Why an op stays on the numpy kernels."""
    if isinstance(step, AliasStep):
        return "nothing to run: its output shares its input's bytes"
    delegate = graph.delegate
    if delegate is None:
        return ("numpy requested (--no-delegate)" if not it.uses_delegate
                else "the C kernels are not built")
    op = step.ops[0]
    return delegate.rejected.get(op.index) or delegate.why_not(graph, step) or "not delegated"


def input_types(op) -> str:
    return ",".join(t.dtype.name for t in op.inputs if t is not None)


def describe_runtime(it: Interpreter, init_ms: float) -> dict:
    graph = it._graph(0)
    c_steps = [s for s in graph.steps if s.backend == "c"]
    backends = collections.Counter(
        d["backend"] + ("/" + d["isa"] if d["isa"] else "") for d in it._get_ops_details())
    plan_buffers: Dict[int, int] = {}
    for s in c_steps:
        plan_buffers.update(s.plan_buffers())
    c_ops = collections.Counter(op.opname for s in c_steps for op in s.ops)
    return {
        "init_ms": init_ms,
        "num_threads": it._num_threads,
        "isa": graph.delegate.isa if graph.delegate is not None else None,
        "partitions": len(c_steps),
        "backends": dict(sorted(backends.items(), key=lambda kv: (-kv[1], kv[0]))),
        "c_ops": dict(sorted(c_ops.items(), key=lambda kv: (-kv[1], kv[0]))),
        "numpy_ops": [{"index": s.ops[0].index, "op": s.ops[0].opname,
                       "types": input_types(s.ops[0]), "reason": numpy_reason(it, graph, s)}
                      for s in graph.steps if s.backend != "c"],
        "arena_bytes": it.arena_bytes,
        "plan_bytes": sum(plan_buffers.values()),
    }


def megabytes(n: int) -> str:
    return "%.2f MB" % (n / 1e6)


def print_runtime(r: dict, weight_bytes: int, out: TextIO) -> None:
    print("load + allocate: %.2f ms, arena %d bytes" % (r["init_ms"], r["arena_bytes"]),
          file=out)
    print("memory: arena %s, weights %s, C plan %s (packed weights, indirection, tables)"
          % (megabytes(r["arena_bytes"]), megabytes(weight_bytes), megabytes(r["plan_bytes"])),
          file=out)
    print("backends: %s" % ", ".join("%s %d op%s" % (name, n, "" if n == 1 else "s")
                                     for name, n in r["backends"].items()), file=out)
    if r["c_ops"]:
        print("in C (%s, %d partition%s, %d thread%s): %s" % (
            r["isa"], r["partitions"], "" if r["partitions"] == 1 else "s", r["num_threads"],
            "" if r["num_threads"] == 1 else "s",
            ", ".join("%s %d" % kv for kv in r["c_ops"].items())), file=out)
    if r["numpy_ops"]:
        groups: Dict[tuple, List[int]] = collections.defaultdict(list)
        for o in r["numpy_ops"]:
            groups[(o["op"], o["types"], o["reason"])].append(o["index"])
        print("on numpy:", file=out)
        for (op, types, reason), indices in groups.items():
            print("  %s(%s) x%d (ops %s): %s" % (op, types, len(indices),
                                                format_indices(indices), reason), file=out)


def format_indices(indices: List[int], limit: int = 8) -> str:
    shown = ", ".join(str(i) for i in indices[:limit])
    return shown + (", ..." if len(indices) > limit else "")


# -- one run and its outputs -------------------------------------------------------------------

def read_labels(path: Optional[str]) -> List[str]:
    if not path:
        return []
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f]


def summarize_output(d: dict, y: np.ndarray, labels: Sequence[str] = ()) -> dict:
    """Top-k classes with dequantized scores for a [batch, classes] output, else statistics."""
    values = dequantize(d, y)
    info = {"index": int(d["index"]), "name": d["name"], "shape": list(y.shape),
            "dtype": y.dtype.name}
    if y.ndim == 2 and y.shape[1] > 1:
        info["top"] = [[dict({"class": int(i), "score": float(scores[i])},
                             **({"label": labels[i]} if i < len(labels) else {}))
                        for i in np.argsort(-scores, kind="stable")[:TOP_K]]
                       for scores in values]
    elif values.size:
        info["stats"] = {"min": float(values.min()), "max": float(values.max()),
                         "mean": float(values.mean())}
    return info


def output_lines(info: dict) -> List[str]:
    if "top" in info:
        rows = info["top"]
        return ["top-%d%s: %s" % (len(top), " (batch %d)" % b if len(rows) > 1 else "",
                                  ", ".join("%d%s (%.4g)" % (
                                      t["class"], " " + t["label"] if "label" in t else "",
                                      t["score"]) for t in top))
                for b, top in enumerate(rows)]
    if "stats" in info:
        return ["min %(min).4g, max %(max).4g, mean %(mean).4g" % info["stats"]]
    return ["empty"]


def run_once(it: Interpreter, inputs: Dict[int, np.ndarray], source: str,
             labels: Sequence[str]) -> dict:
    for index, value in inputs.items():
        it.set_tensor(index, value)
    start = time.perf_counter()
    it.invoke()
    elapsed = time.perf_counter() - start
    return {"input": source, "first_run_ms": elapsed * 1e3,
            "outputs": [summarize_output(d, it.get_tensor(d["index"]), labels)
                        for d in it.get_output_details()]}


def print_run(r: dict, out: TextIO) -> None:
    print("invoke: %.2f ms (first run, %s)" % (r["first_run_ms"], r["input"]), file=out)
    for o in r["outputs"]:
        print("output [%d] %s: shape %s, %s" % (o["index"], o["name"], o["shape"], o["dtype"]),
              file=out)
        for line in output_lines(o):
            print("  " + line, file=out)


def write_outputs(it: Interpreter, path: str) -> None:
    np.savez(path, **{d["name"]: it.get_tensor(d["index"]) for d in it.get_output_details()})


# -- benchmark, profile, comparison ------------------------------------------------------------

def print_bench(b: dict, out: TextIO) -> None:
    print("benchmark: init %.2f ms, first run %.2f ms, %d warmup run%s" % (
        b["init_ms"], b["first_run_ms"], b["warmup_runs"], "" if b["warmup_runs"] == 1 else "s"),
        file=out)
    print("  %(count)d runs: min %(min_ms).3f, median %(median_ms).3f, mean %(mean_ms).3f, "
          "p90 %(p90_ms).3f, std %(std_ms).3f ms; %(inferences_per_s).2f inferences/s" % b,
          file=out)


def _opt(fmt: str, value) -> str:
    return "-" if value is None else fmt % value


def print_profile(p: dict, out: TextIO) -> None:
    print("profile: mean of the faster %d of %d runs, invoke %.3f ms = ops %.3f + C partition "
          "calls %.3f + interpreter %.3f ms" % (p["runs_kept"], p["runs"], p["invoke_ms"],
                                                p["ops_ms"], p["partition_call_ms"],
                                                p["interpreter_ms"]), file=out)
    print("  %5s  %-24s %-12s %-20s %12s %9s %6s %8s" % (
        "index", "op", "backend", "shape", "MACs", "ms", "share", "GMAC/s"), file=out)
    for r in p["ops"]:
        print("  %5d  %-24s %-12s %-20s %12s %9.3f %5.1f%% %8s" % (
            r["index"], r["op"], r["backend"], "x".join(str(s) for s in r["shape"]),
            _opt("%d", r["macs"]), r["ms"], 100 * r["share"],
            _opt("%.2f", r["gmacs_per_s"])), file=out)
    print("  by op type:", file=out)
    print("  %-24s %-12s %5s %12s %9s %6s %8s" % (
        "op", "backend", "count", "MACs", "ms", "share", "GMAC/s"), file=out)
    for g in p["by_type"]:
        print("  %-24s %-12s %5d %12s %9.3f %5.1f%% %8s" % (
            g["op"], g["backend"], g["count"], _opt("%d", g["macs"]), g["ms"], 100 * g["share"],
            _opt("%.2f", g["gmacs_per_s"])), file=out)


def print_compare(c: dict, out: TextIO) -> None:
    print("compare with %s (%d thread%s, same input):" % (
        c["litert"], c["num_threads"], "" if c["num_threads"] == 1 else "s"), file=out)
    for name in ("litert_xnnpack", "litert_builtin_ref"):
        r = c[name]
        if "error" in r:
            print("  %s: cannot run the model: %s" % (name, r["error"]), file=out)
            continue
        print("  %s: %.3f ms median, qrun %.3f ms: qrun / LiteRT = %.2fx" % (
            name, r["median_ms"], c["qrun_median_ms"], r["speed_ratio"]), file=out)
        for o in r["outputs"]:
            if "error" in o:
                print("    output [%d] %s: %s" % (o["index"], o["name"], o["error"]), file=out)
                continue
            print("    output [%d] %s: max %s LSB, mean %s LSB; dequantized max %.4g, mean %.4g%s"
                  % (o["index"], o["name"], _opt("%d", o["max_lsb"]), _opt("%.4f", o["mean_lsb"]),
                     o["max_abs"], o["mean_abs"],
                     "" if o["top1_agreement"] is None
                     else "; top-1 agreement %.1f%%" % (100 * o["top1_agreement"])), file=out)


# -- the command -------------------------------------------------------------------------------

class Report:
    """Sections as text on `out` as soon as they are known, or one JSON document at the end."""

    def __init__(self, out: TextIO, as_json: bool):
        self.out = out
        self.as_json = as_json
        self.doc: dict = {}

    def add(self, name: str, data: dict, show: Callable[[dict, TextIO], None]) -> None:
        self.doc[name] = data
        if not self.as_json:
            show(data, self.out)

    def finish(self) -> None:
        if self.as_json:
            json.dump(self.doc, self.out, indent=1, default=_json_value)
            self.out.write("\n")


def _json_value(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError("%s is not JSON serializable" % type(value).__name__)


def make_interpreter(args: argparse.Namespace) -> Interpreter:
    resolver = (OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES if args.no_delegate
                else OpResolverType.AUTO)
    return Interpreter(model_path=args.model, num_threads=args.num_threads,
                       experimental_op_resolver_type=resolver)


def run(args: argparse.Namespace, out: TextIO) -> None:
    report = Report(out, args.json)
    labels = read_labels(args.labels)
    start = time.perf_counter()
    it = make_interpreter(args)
    model = describe_model(it, args.model)
    report.add("model", model, print_model)
    it.allocate_tensors()
    init_ms = (time.perf_counter() - start) * 1e3
    report.add("runtime", describe_runtime(it, init_ms),
               lambda r, o: print_runtime(r, model["weight_bytes"], o))
    if args.input:
        inputs = load_inputs(args.input, it.get_input_details(), args.mean, args.std)
        source = "input from %s" % args.input
    else:
        inputs = random_inputs(it.get_input_details(), args.seed)
        source = "random input, seed %d" % args.seed
    first = run_once(it, inputs, source, labels)
    report.add("run", first, print_run)
    if args.output:
        write_outputs(it, args.output)
    if args.bench:
        result = {"init_ms": init_ms, "first_run_ms": first["first_run_ms"]}
        result.update(benchmark(it.invoke, args.num_runs, args.warmup_runs, args.min_secs,
                                args.max_secs))
        report.add("bench", result, print_bench)
    if args.profile:
        report.add("profile", profile(it, args.num_runs, args.warmup_runs, args.max_secs),
                   print_profile)
    if args.compare:
        report.add("compare", compare(args.model, it, inputs, it._num_threads), print_compare)
    report.finish()


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_args(parser, args)
    saved_isa = os.environ.get("QRUN_ISA")
    try:
        if args.isa:
            os.environ["QRUN_ISA"] = args.isa
        run(args, sys.stdout)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001  (every failure becomes one line, or a traceback)
        sys.stdout.flush()
        if args.debug:
            traceback.print_exc()
        else:
            message = " ".join(str(exc).split()) or type(exc).__name__
            print("qrun: error: %s" % message, file=sys.stderr)
        return 1
    finally:
        if saved_isa is None:
            os.environ.pop("QRUN_ISA", None)
        else:
            os.environ["QRUN_ISA"] = saved_isa
    return 0
