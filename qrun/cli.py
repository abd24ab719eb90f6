"""The `qrun` command: what a model holds, one run on deterministic random input, its outputs.

    qrun MODEL [--seed N] [--debug]

Errors print one line, `qrun: error: ...`, and exit 1 (usage errors exit 2); --debug shows
the traceback instead.
"""
from __future__ import annotations

import argparse
import collections
import sys
import time
import traceback
from typing import List, Optional, Sequence, TextIO

import numpy as np

from . import __version__
from .interpreter import Interpreter

TOP_K = 5


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="qrun",
        description="Show a .tflite model's inputs, outputs and ops, run it once on "
                    "deterministic random input and summarize its outputs.")
    p.add_argument("model", help="path of a .tflite model")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the random input (default: %(default)s)")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    p.add_argument("--version", action="version", version="qrun %s" % __version__)
    return p


# -- describing the model --------------------------------------------------------------------

def format_quantization(d: dict) -> str:
    q = d["quantization_parameters"]
    scales = q["scales"]
    if len(scales) == 0:
        return "not quantized"
    if len(scales) == 1:
        return "scale %.6g, zero point %d" % (scales[0], q["zero_points"][0])
    return "per-channel: %d scales along dimension %d" % (len(scales), q["quantized_dimension"])


def format_tensor(d: dict) -> str:
    return "%s  %s  %s  %s" % (d["name"], list(int(s) for s in d["shape"]),
                              np.dtype(d["dtype"]).name, format_quantization(d))


def op_counts(it: Interpreter) -> List[tuple]:
    """(op name, count), most frequent first."""
    counts = collections.Counter(op["op_name"] for op in it._get_ops_details())
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def backend_counts(it: Interpreter) -> List[tuple]:
    """("c/avx2", n) or ("numpy", n): where the ops run, known after allocate_tensors."""
    counts = collections.Counter(
        op["backend"] + ("/" + op["isa"] if op.get("isa") else "")
        for op in it._get_ops_details())
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def print_model(it: Interpreter, path: str, out: TextIO) -> None:
    model = it.model
    nops = sum(len(sg.operators) for sg in model.subgraphs)
    print("model: %s (%d bytes, %d subgraph%s, %d ops)" % (
        path, model.nbytes, len(model.subgraphs), "" if len(model.subgraphs) == 1 else "s",
        nops), file=out)
    if model.description:
        print("description: %s" % model.description, file=out)
    for title, details in (("inputs", it.get_input_details()),
                           ("outputs", it.get_output_details())):
        print("%s:" % title, file=out)
        for d in details:
            print("  [%d] %s" % (d["index"], format_tensor(d)), file=out)
    print("ops:", file=out)
    for name, count in op_counts(it):
        print("  %-24s %d" % (name, count), file=out)


# -- running it once ---------------------------------------------------------------------------

def random_input(d: dict, rng: np.random.Generator) -> np.ndarray:
    """Values over the input's whole range (integers), or in [-1, 1] (floats)."""
    shape, dtype = tuple(int(s) for s in d["shape"]), np.dtype(d["dtype"])
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = max(int(info.min), -1000), min(int(info.max), 1000)
        return rng.integers(lo, hi + 1, size=shape, dtype=np.int64).astype(dtype)
    return rng.uniform(-1.0, 1.0, size=shape).astype(dtype)


def dequantize(d: dict, y: np.ndarray) -> np.ndarray:
    q = d["quantization_parameters"]
    if len(q["scales"]) != 1:
        return y.astype(np.float64)
    return (y.astype(np.float64) - q["zero_points"][0]) * q["scales"][0]


def summarize_output(d: dict, y: np.ndarray) -> List[str]:
    """Top-k classes with dequantized scores for a [batch, classes] output, else statistics."""
    values = dequantize(d, y)
    if y.ndim == 2 and y.shape[1] > 1:
        lines = []
        for row, scores in enumerate(values):
            top = np.argsort(-scores, kind="stable")[:TOP_K]
            lines.append("top-%d%s: %s" % (len(top), " (batch %d)" % row if len(values) > 1
                                             else "",
                                             ", ".join("%d (%.4g)" % (i, scores[i]) for i in top)))
        return lines
    if values.size == 0:
        return ["empty"]
    return ["min %.4g, max %.4g, mean %.4g" % (values.min(), values.max(), values.mean())]


def run_once(it: Interpreter, seed: int, out: TextIO) -> None:
    rng = np.random.default_rng(seed)
    for d in it.get_input_details():
        it.set_tensor(d["index"], random_input(d, rng))
    start = time.perf_counter()
    it.invoke()
    elapsed = time.perf_counter() - start
    print("invoke: %.2f ms (one run, random input, seed %d)" % (elapsed * 1e3, seed), file=out)
    for d in it.get_output_details():
        y = it.get_tensor(d["index"])
        print("output [%d] %s: shape %s, %s" % (d["index"], d["name"], list(y.shape),
                                               y.dtype.name), file=out)
        for line in summarize_output(d, y):
            print("  " + line, file=out)


# -- the command -------------------------------------------------------------------------------

def run(args: argparse.Namespace, out: TextIO) -> None:
    start = time.perf_counter()
    it = Interpreter(model_path=args.model)
    print_model(it, args.model, out)
    it.allocate_tensors()
    print("load + allocate: %.2f ms, arena %d bytes" % ((time.perf_counter() - start) * 1e3,
                                                       it.arena_bytes), file=out)
    print("backends: %s" % ", ".join("%s %d op%s" % (name, n, "" if n == 1 else "s")
                                     for name, n in backend_counts(it)), file=out)
    run_once(it, args.seed, out)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
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
    return 0
