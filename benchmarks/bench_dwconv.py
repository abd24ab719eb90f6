"""Per-kernel microbenchmark of the C delegate's depthwise convolution: GMAC/s of single-op
DEPTHWISE_CONV_2D models at MobileNet v2 / EfficientNet-Lite0 shapes (int8; uint8 ones named
"u8 ..."), per ISA build, next to LiteRT with XNNPACK on the same model.

Configurations alternate (one invoke each in turn, repeated) so that drift hits them alike;
the figure is the median. Times include one Python invoke() (a few microseconds).

    python benchmarks/bench_dwconv.py                                 # every shape, every ISA
    python benchmarks/bench_dwconv.py --isas scalar avx512vnni --runs 50 --litert
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qrun.modelbuilder import ModelBuilder  # noqa: E402
from kernel_timing import (litert_interpreter, median_seconds, parse_kernel_args,  # noqa: E402
                           qrun_interpreter)

# (name, input HWC, kernel, stride[, dtype]): the depthwise layers of MobileNet v2 and
# EfficientNet-Lite0 (int8, per-channel), few-channel ones, and uint8 (per-tensor weight zero
# point) MobileNet v2 / SSD MobileNet v1 layers.
SHAPES = [
    ("3x3 112x112x32", (112, 112, 32), 3, 1),
    ("3x3/2 112x112x96", (112, 112, 96), 3, 2),
    ("3x3 56x56x144", (56, 56, 144), 3, 1),
    ("3x3/2 56x56x144", (56, 56, 144), 3, 2),
    ("3x3 28x28x192", (28, 28, 192), 3, 1),
    ("3x3 14x14x384", (14, 14, 384), 3, 1),
    ("3x3 14x14x576", (14, 14, 576), 3, 1),
    ("3x3 7x7x960", (7, 7, 960), 3, 1),
    ("5x5 28x28x240", (28, 28, 240), 5, 1),
    ("5x5/2 28x28x480", (28, 28, 480), 5, 2),
    ("5x5 7x7x1152", (7, 7, 1152), 5, 1),
    ("3x3 512x512x3", (512, 512, 3), 3, 1),
    ("3x3 256x256x1", (256, 256, 1), 3, 1),
    ("5x5 128x128x7", (128, 128, 7), 5, 1),
    ("3x3 28x28x72", (28, 28, 72), 3, 1),
    ("5x5 14x14x40", (14, 14, 40), 5, 1),
    ("u8 3x3 112x112x32", (112, 112, 32), 3, 1, np.uint8),
    ("u8 3x3 75x75x48", (75, 75, 48), 3, 1, np.uint8),
    ("u8 3x3 150x150x24", (150, 150, 24), 3, 1, np.uint8),
    ("u8 3x3/2 112x112x96", (112, 112, 96), 3, 2, np.uint8),
    ("u8 3x3 56x56x144", (56, 56, 144), 3, 1, np.uint8),
    ("u8 3x3 14x14x384", (14, 14, 384), 3, 1, np.uint8),
    ("u8 3x3 7x7x960", (7, 7, 960), 3, 1, np.uint8),
]


def dwconv_model(hwc, k: int, stride: int, dtype=np.int8, seed: int = 0) -> bytes:
    """One DEPTHWISE_CONV_2D (SAME padding, RELU6), random weights: int8 with per-channel
    scales, or uint8 with one scale and a weight zero point of 120 (as in uint8 MobileNets:
    w - 120 does not fit in int8)."""
    rng = np.random.default_rng(seed)
    h, w, c = hwc
    b = ModelBuilder()
    if dtype == np.uint8:
        x = b.add_input((1, h, w, c), np.uint8, scale=0.02, zero_point=125)
        ws = np.float32(0.01)
        wt = b.add_constant(rng.integers(0, 256, (1, k, k, c)).astype(np.uint8), scale=ws,
                            zero_point=120)
        bias = b.add_constant(rng.integers(-5000, 5000, c).astype(np.int32),
                              scale=np.float32(0.02) * ws, zero_point=0)
        out_zp = 0
    else:
        x = b.add_input((1, h, w, c), np.int8, scale=0.02, zero_point=-3)
        ws = rng.uniform(0.002, 0.02, c).astype(np.float32)
        wt = b.add_constant(rng.integers(-127, 128, (1, k, k, c)).astype(np.int8), scale=ws,
                            zero_point=np.zeros(c, np.int64), quantized_dimension=3)
        bias = b.add_constant(rng.integers(-5000, 5000, c).astype(np.int32),
                              scale=(np.float32(0.02) * ws).astype(np.float32),
                              zero_point=np.zeros(c, np.int64))
        out_zp = 5
    oh, ow = -(-h // stride), -(-w // stride)
    y = b.add_tensor((1, oh, ow, c), dtype, scale=0.02 * 0.01 * 80 * k / 60, zero_point=out_zp)
    b.add_op("DEPTHWISE_CONV_2D", [x, wt, bias], [y], padding="SAME", stride_h=stride,
             stride_w=stride, depth_multiplier=1, fused_activation_function="RELU6")
    b.mark_output(y)
    return b.build()


def macs(hwc, k: int, stride: int) -> int:
    h, w, c = hwc
    return -(-h // stride) * -(-w // stride) * c * k * k


def main(argv=None) -> None:
    args, isas, shapes, cols = parse_kernel_args(__doc__, SHAPES, argv)
    # The speed of the best ISA over LiteRT's (with --litert), else over the first ISA's.
    base = len(cols) - 1 if args.litert else 0
    ratio = "%s / %s" % (isas[-1], cols[base]) if base != len(isas) - 1 else None
    print("| shape | MMAC | " + " | ".join("%s GMAC/s" % c for c in cols)
          + (" | %s |" % ratio if ratio else " |"))
    print("|---" * (len(cols) + 2 + bool(ratio)) + "|")
    for name, hwc, k, stride, *dtype in shapes:
        model = dwconv_model(hwc, k, stride, *dtype)
        interps = [qrun_interpreter(model, isa) for isa in isas]
        if args.litert:
            interps.append(litert_interpreter(model))
        secs = median_seconds(interps, args.runs)
        n = macs(hwc, k, stride)
        gmacs = [n / s / 1e9 for s in secs]
        print("| %s | %.2f | %s |%s" % (
            name, n / 1e6, " | ".join("%.2f" % g for g in gmacs),
            " %.2fx |" % (gmacs[len(isas) - 1] / gmacs[base]) if ratio else ""))


if __name__ == "__main__":
    main()
