"""Per-kernel microbenchmark of the C delegate's LUT, elementwise, pooling, SOFTMAX and data
movement kernels: median microseconds per invoke of single-op int8 (and float32 QUANTIZE /
DIV) models at MobileNet / EfficientNet / yolov8n / DeepLab / cartoon GAN sizes,
per ISA build (configurations alternate, one invoke each in turn), and the speed-up of the
last ISA over the first. Times include one Python invoke() (a few microseconds).

    python benchmarks/bench_elementwise.py                       # every ISA built and runnable
    python benchmarks/bench_elementwise.py scalar avx512vnni
"""
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qrun import Interpreter  # noqa: E402
from qrun.delegate.backend import built_isas, cpu_isas  # noqa: E402
from qrun.modelbuilder import ModelBuilder  # noqa: E402


def _model(op, inputs, out_shape, out_q, **options) -> bytes:
    """One op on inputs [(shape, dtype, scale, zero point)] -> out_q (dtype, scale, zero point;
    None, None for float32); constant inputs are given as numpy arrays, or quantized as
    (array, scale, zero point)."""
    b = ModelBuilder()
    tensors = [b.add_constant(x) if isinstance(x, np.ndarray) else
               b.add_constant(x[0], scale=x[1], zero_point=x[2])
               if isinstance(x[0], np.ndarray) else
               b.add_input(x[0], x[1], scale=x[2], zero_point=x[3]) for x in inputs]
    y = b.add_tensor(out_shape, out_q[0], scale=out_q[1], zero_point=out_q[2])
    b.add_op(op, tensors, [y], **options)
    b.mark_output(y)
    return b.build()


def unary(op, shape, dtype=np.int8, out_q=(np.int8, 0.04, -2)):
    return _model(op, [(shape, dtype, 0.05, 3)], shape, out_q)


def binary(op, sa, sb):
    scale = 0.05 * 0.03 * 64 if op == "MUL" else 0.07
    return _model(op, [(sa, np.int8, 0.05, 3), (sb, np.int8, 0.03, -7)],
                  np.broadcast_shapes(sa, sb), (np.int8, scale, 1),
                  fused_activation_function="NONE")


def pool(op, shape, f, s, padding):
    oh = -(-shape[1] // s) if padding == "SAME" else (shape[1] - f) // s + 1
    return _model(op, [(shape, np.int8, 0.05, 3)], (1, oh, oh, shape[3]), (np.int8, 0.05, 3),
                  padding=padding, stride_h=s, stride_w=s, filter_height=f, filter_width=f,
                  fused_activation_function="NONE")


def mean(shape):
    return _model("MEAN", [(shape, np.int8, 0.05, 3), np.array([1, 2], np.int32)],
                  (1, 1, 1, shape[3]), (np.int8, 0.02, -1), keep_dims=True)


CASES = [
    ("LOGISTIC 1x56x56x144", lambda: unary("LOGISTIC", (1, 56, 56, 144),
                                           out_q=(np.int8, 1 / 256, -128))),
    ("QUANTIZE u8->i8 1x224x224x3", lambda: unary("QUANTIZE", (1, 224, 224, 3), np.uint8)),
    ("ADD same 1x28x28x40", lambda: binary("ADD", (1, 28, 28, 40), (1, 28, 28, 40))),
    ("ADD same 1x14x14x112", lambda: binary("ADD", (1, 14, 14, 112), (1, 14, 14, 112))),
    ("MUL per-channel 1x14x14x480", lambda: binary("MUL", (1, 14, 14, 480), (1, 1, 1, 480))),
    ("ADD scalar 1x56x56x24", lambda: binary("ADD", (1, 56, 56, 24), (1,))),
    ("SUB same 1x512x512x3", lambda: binary("SUB", (1, 512, 512, 3), (1, 512, 512, 3))),
    ("MUL same 1x512x512x3", lambda: binary("MUL", (1, 512, 512, 3), (1, 512, 512, 3))),
    ("MAX_POOL 3x3/2 1x56x56x64", lambda: pool("MAX_POOL_2D", (1, 56, 56, 64), 3, 2, "SAME")),
    ("AVG_POOL 3x3/1 1x28x28x96", lambda: pool("AVERAGE_POOL_2D", (1, 28, 28, 96), 3, 1,
                                               "SAME")),
    ("AVG_POOL 7x7 global 1x7x7x1024", lambda: pool("AVERAGE_POOL_2D", (1, 7, 7, 1024), 7, 1,
                                                    "VALID")),
    ("MEAN 1x7x7x1280", lambda: mean((1, 7, 7, 1280))),
    ("SOFTMAX 1x4x8400x16", lambda: _model("SOFTMAX", [((1, 4, 8400, 16), np.int8, 0.2, 28)],
                                           (1, 4, 8400, 16), (np.int8, 1 / 256, -128),
                                           beta=1.0)),
    ("QUANTIZE f32->i8 1x512x512x3", lambda: _model(
        "QUANTIZE", [((1, 512, 512, 3), np.float32, None, None)], (1, 512, 512, 3),
        (np.int8, 0.01, 3))),
    ("SUB per-channel constant 1x257x257x3", lambda: _model(
        "SUB", [((1, 257, 257, 3), np.int8, 0.05, 3),
                (np.array([12, -40, 90], np.int8), 0.03, -7)],
        (1, 257, 257, 3), (np.int8, 0.07, 1), fused_activation_function="NONE")),
    ("DIV f32 1x512x512x3 / constant 1x512x512x1", lambda: _model(
        "DIV", [((1, 512, 512, 3), np.float32, None, None),
                np.random.default_rng(0).uniform(1, 9, (1, 512, 512, 1)).astype(np.float32)],
        (1, 512, 512, 3), (np.float32, None, None), fused_activation_function="NONE")),
    ("PAD 1x640x640x3 +1 H, W", lambda: _model(
        "PAD", [((1, 640, 640, 3), np.int8, 0.05, 3), np.array([[0, 0], [1, 1], [1, 1], [0, 0]],
                                                             np.int32)],
        (1, 642, 642, 3), (np.int8, 0.05, 3))),
    ("TRANSPOSE 1x80x80x144 -> 1x144x80x80", lambda: _model(
        "TRANSPOSE", [((1, 80, 80, 144), np.int8, 0.05, 3), np.array([0, 3, 1, 2], np.int32)],
        (1, 144, 80, 80), (np.int8, 0.05, 3))),
    ("CONCATENATION 3 x 1x160x160x16", lambda: _model(
        "CONCATENATION", [((1, 160, 160, 16), np.int8, 0.05, 3)] * 3, (1, 160, 160, 48),
        (np.int8, 0.05, 3), axis=3, fused_activation_function="NONE")),
]


def interpreter(model: bytes, isa: str):
    os.environ["QRUN_ISA"] = isa
    try:
        it = Interpreter(model_content=model)
        it.allocate_tensors()
    finally:
        del os.environ["QRUN_ISA"]
    assert all(d["backend"] == "c" and d["isa"] == isa for d in it._get_ops_details())
    rng = np.random.default_rng(0)
    for d in it.get_input_details():
        it.set_tensor(d["index"], rng.uniform(-2, 2, d["shape"]).astype(np.float32)
                      if d["dtype"] == np.float32 else
                      rng.integers(0, 256, d["shape"]).astype(np.uint8).view(d["dtype"]))
    return it


def main(argv) -> None:
    isas = argv or [i for i in built_isas() if i in cpu_isas()]
    print("| op | " + " | ".join("%s us" % i for i in isas) + " | %s / %s |" % (isas[0], isas[-1]))
    print("|---" * (len(isas) + 2) + "|")
    for name, make in CASES:
        model = make()
        its = [interpreter(model, isa) for isa in isas]
        times = [[] for _ in its]
        for _ in range(60):
            for k, it in enumerate(its):
                t0 = time.perf_counter()
                it.invoke()
                times[k].append(time.perf_counter() - t0)
        med = [statistics.median(t) * 1e6 for t in times]
        print("| %s | %s | %.1fx |" % (name, " | ".join("%.1f" % v for v in med), med[0] / med[-1]))


if __name__ == "__main__":
    main(sys.argv[1:])
