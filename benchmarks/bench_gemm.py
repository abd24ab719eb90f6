"""Per-kernel microbenchmark of the C delegate's GEMM (1x1 stride-1 CONV_2D) and IGEMM (other
CONV_2D): GMAC/s of single-op int8 models at MobileNet-class (224x224 input) shapes, per ISA
build, next to LiteRT with XNNPACK on the same model, and as a share of this core's vpdpbusd
peak, measured first (bench_peak.py: 2 x 64 MACs per cycle, 544 GMAC/s on this machine's
AMD EPYC; the issue's 480 assumed a lower clock).

Configurations alternate (one invoke each in turn, repeated) so that drift hits them alike;
the figure is the median. Times include one Python invoke() (a few microseconds).

    python benchmarks/bench_gemm.py                                  # every shape, every ISA
    python benchmarks/bench_gemm.py --isas avx512vnni --runs 50 --litert
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qrun.modelbuilder import ModelBuilder  # noqa: E402
from bench_peak import measure as measure_peak  # noqa: E402
from kernel_timing import (litert_interpreter, median_seconds, parse_kernel_args,  # noqa: E402
                           qrun_interpreter)

# (name, input HWC, output channels, kernel, stride): MobileNet v2 / EfficientNet-Lite0 layers.
SHAPES = [
    ("1x1 112x112 16->96", (112, 112, 16), 96, 1, 1),
    ("1x1 56x56 24->144", (56, 56, 24), 144, 1, 1),
    ("1x1 56x56 144->24", (56, 56, 144), 24, 1, 1),
    ("1x1 28x28 192->32", (28, 28, 192), 32, 1, 1),
    ("1x1 28x28 32->192", (28, 28, 32), 192, 1, 1),
    ("1x1 14x14 384->64", (14, 14, 384), 64, 1, 1),
    ("1x1 14x14 576->96", (14, 14, 576), 96, 1, 1),
    ("1x1 7x7 960->320", (7, 7, 960), 320, 1, 1),
    ("1x1 7x7 320->1280", (7, 7, 320), 1280, 1, 1),
    ("1x1 56x56 128->128", (56, 56, 128), 128, 1, 1),
    ("1x1 1x1 1280->1001", (1, 1, 1280), 1001, 1, 1),           # the classifier: one row
    ("3x3/2 224x224 3->32", (224, 224, 3), 32, 3, 2),
    ("3x3 56x56 64->64", (56, 56, 64), 64, 3, 1),
    ("3x3 28x28 128->128", (28, 28, 128), 128, 3, 1),
    # Few channels: whitebox_cartoon_gan's 7x7 first and last layers (at 256x256, a quarter
    # of the model's), yolov8n's stride-2 first layer, 16 input channels at 160x160.
    ("7x7 256x256 3->32", (256, 256, 3), 32, 7, 1),
    ("7x7 256x256 32->3", (256, 256, 32), 3, 7, 1),
    ("3x3/2 640x640 3->16", (640, 640, 3), 16, 3, 2),
    ("3x3 160x160 16->32", (160, 160, 16), 32, 3, 1),
    ("3x3 56x56 8->1", (56, 56, 8), 1, 3, 1),
]


def conv_model(hwc, cout: int, k: int, stride: int, seed: int = 0) -> bytes:
    """One int8 per-channel CONV_2D (SAME padding, RELU6), random weights."""
    rng = np.random.default_rng(seed)
    h, w, c = hwc
    b = ModelBuilder()
    x = b.add_input((1, h, w, c), np.int8, scale=0.02, zero_point=-3)
    ws = rng.uniform(0.002, 0.02, cout).astype(np.float32)
    wt = b.add_constant(rng.integers(-127, 128, (cout, k, k, c)).astype(np.int8), scale=ws,
                        zero_point=np.zeros(cout, np.int64), quantized_dimension=0)
    bias = b.add_constant(rng.integers(-5000, 5000, cout).astype(np.int32),
                          scale=(np.float32(0.02) * ws).astype(np.float32),
                          zero_point=np.zeros(cout, np.int64))
    oh, ow = -(-h // stride), -(-w // stride)
    y = b.add_tensor((1, oh, ow, cout), np.int8, scale=0.02 * 0.01 * 80 * np.sqrt(k * k * c) / 60,
                     zero_point=5)
    b.add_op("CONV_2D", [x, wt, bias], [y], padding="SAME", stride_h=stride, stride_w=stride,
             fused_activation_function="RELU6")
    b.mark_output(y)
    return b.build()


def macs(hwc, cout: int, k: int, stride: int) -> int:
    h, w, c = hwc
    return -(-h // stride) * -(-w // stride) * cout * k * k * c


def main(argv=None) -> None:
    args, isas, shapes, cols = parse_kernel_args(__doc__, SHAPES, argv)
    peak = measure_peak()["zmm (AVX-512 VNNI)"]
    print("vpdpbusd peak of this core: %.0f GMAC/s\n" % peak)
    print("| shape | MMAC | " + " | ".join("%s GMAC/s" % c for c in cols)
          + " | %s, share of peak |" % isas[-1])
    print("|---" * (len(cols) + 3) + "|")
    for name, hwc, cout, k, stride in shapes:
        model = conv_model(hwc, cout, k, stride)
        interps = [qrun_interpreter(model, isa) for isa in isas]
        if args.litert:
            interps.append(litert_interpreter(model))
        secs = median_seconds(interps, args.runs)
        n = macs(hwc, cout, k, stride)
        gmacs = [n / s / 1e9 for s in secs]
        best_qrun = gmacs[len(isas) - 1]
        print("| %s | %.1f | %s | %.0f%% |" % (
            name, n / 1e6, " | ".join("%.1f" % g for g in gmacs), 100 * best_qrun / peak))


if __name__ == "__main__":
    main()
