"""CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and TRANSPOSE_CONV requantize bit-exactly with
the reference (LiteRT BUILTIN_REF) on every ISA, at the accumulators where fp32 is least sure:
each output channel reads one input channel with weight +-1 at one tap, so its accumulator is
its bias plus (x - input zero point), and the inputs sweep all 256 values (or, one row, hit
one chosen accumulator). The biases put, per channel, the accumulator whose exact value
acc * M 2^(shift - 31) (nudged as the double rounding does) is closest to a rounding boundary
in the sweep, among accumulators whose outputs stay inside the clamp range."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from qrun.interpreter.kernels.conv import channel_multipliers
from qrun.interpreter.quant import activation_range_quantized
from qrun.interpreter.schema import Activation
from qrun.modelbuilder import ModelBuilder
from tests.delegate.util import ISAS, run_delegate
from tests.oracle import assert_same, run_litert, run_qrun

pytestmark = pytest.mark.skipif(not ISAS, reason="qrun's C kernels are not built")

IN_SCALE = 0.02
OUT_SCALE = 0.05
ACTIVATIONS = {"NONE": Activation.NONE, "RELU": Activation.RELU, "RELU6": Activation.RELU6,
               "RELU_N1_TO_1": Activation.RELU_N1_TO_1}


class _Quantized:
    """One scheme's tensors: int8 per tensor ("int8"), per channel ("int8pc") or legacy uint8
    ("uint8": one weight scale, a weight zero point)."""

    def __init__(self, scheme: str, channels: int, log2_ratios, seed: int, out_zp: int):
        self.rng = np.random.default_rng(seed)
        self.scheme = scheme
        self.dtype = np.uint8 if scheme == "uint8" else np.int8
        info = np.iinfo(self.dtype)
        self.in_zp = int(self.rng.integers(info.min, info.max + 1))
        self.out_zp = out_zp + (128 if scheme == "uint8" else 0)
        n = channels if scheme == "int8pc" else 1
        # weight scales giving requantization scales s_in s_w / s_out of 2^log2_ratio
        ratios = np.exp2(self.rng.uniform(*log2_ratios, n))
        self.w_scales = (ratios * OUT_SCALE / IN_SCALE).astype(np.float32)
        self.w_zp = 0 if scheme != "uint8" else int(self.rng.integers(1, 255))
        self.b = ModelBuilder()

    def weights(self, values: np.ndarray, axis: int) -> int:
        """values: -1, 0 or 1 (the effective weights)."""
        if self.scheme == "uint8":
            return self.b.add_constant((values + self.w_zp).astype(np.uint8),
                                       scale=self.w_scales, zero_point=self.w_zp)
        per_channel = self.scheme == "int8pc"
        return self.b.add_constant(values.astype(np.int8), scale=self.w_scales,
                                   zero_point=np.zeros(len(self.w_scales), np.int64),
                                   quantized_dimension=axis if per_channel else 0)

    def bias(self, values: np.ndarray) -> int:
        scales = (np.float32(IN_SCALE) * self.w_scales).astype(np.float32)
        return self.b.add_constant(values.astype(np.int32), scale=scales,
                                   zero_point=np.zeros(len(scales), np.int64))

    def tensor(self, shape, scale: float, zp: int, is_input: bool = False) -> int:
        add = self.b.add_input if is_input else self.b.add_tensor
        return add(shape, self.dtype, scale=scale, zero_point=zp)

    def build(self, op: str, inputs, output: int, **options) -> bytes:
        self.b.add_op(op, inputs, [output], **options)
        self.b.mark_output(output)
        return self.b.build()


def _critical(mult: int, shift: int, single: bool, lo: int, hi: int, rng) -> int:
    """An accumulator whose exact requantized value, inside (lo, hi) (output units, zero point
    excluded), is among the 16 closest to a rounding boundary of the reference."""
    if mult == 0:
        return int(rng.integers(-1000, 1000))
    # the reference is floor(x / unit + 1/2) for an integer x(acc): boundaries at
    # x = (k + 1/2) unit
    if single:   # x = acc M, unit 2^(31 - shift)
        unit, offset, gain = 1 << (31 - shift), 0, mult
    elif shift >= 0:   # x = (acc << shift) M, unit 2^31
        unit, offset, gain = 1 << 31, 0, mult << shift
    else:   # x = acc M +- 2^30 (the double rounding), unit 2^(31 - shift)
        unit, offset, gain = 1 << (31 - shift), 1 << 30, mult
    half = np.arange(lo + 1, hi - 1, dtype=np.int64) * 2 + 1   # 2k + 1
    guess = np.rint((half * (unit / 2) - np.sign(half) * offset) / gain).astype(np.int64)
    acc = (guess[:, None] + np.arange(-2, 3)).ravel()
    acc = acc[np.abs(acc) < 1 << 30]
    if acc.size == 0:
        return 0
    x = acc * gain + np.where(acc >= 0, offset, -offset)
    distance = np.abs(np.mod(x, unit) - unit // 2)
    return int(rng.choice(acc[np.argsort(distance, kind="stable")[:16]]))


def _model(kind: str, scheme: str, channels: int, in_c: int, log2_ratios, activation: str,
           seed: int, kernel: int = 3, out_zp: int = 3):
    """(model, inputs): `kind` CONV (kernel x kernel, SAME, the centre tap), FC (256 rows),
    FC1 (one row), DW (depthwise, kernel x kernel; depth multiplier channels / in_c) or TCONV
    (transpose conv 2x2, stride 2); output channel o reads input channel o % in_c (DW:
    o // multiplier) with weight +-1."""
    q = _Quantized(scheme, channels, log2_ratios, seed, out_zp)
    rng = q.rng
    single = kind.startswith("FC")
    sign = rng.choice([-1, 1], channels)
    source = (np.arange(channels) // (channels // in_c) if kind == "DW"
              else np.arange(channels) % in_c)
    info = np.iinfo(q.dtype)
    rows = 1 if kind == "FC1" else 256
    x = np.stack([rng.permutation(np.arange(info.min, info.max + 1))[:rows]
                  for _ in range(in_c)], axis=1).astype(q.dtype)
    if kind in ("CONV", "DW", "TCONV"):
        x = x.reshape(1, 16, 16, in_c)
    in_t = q.tensor(x.shape, IN_SCALE, q.in_zp, is_input=True)
    lo, hi = activation_range_quantized(ACTIVATIONS[activation], float(np.float32(OUT_SCALE)),
                                        q.out_zp, q.dtype)
    # the channels' multipliers, as the reference computes them from the stored scales
    stored = SimpleNamespace(scale=float(np.float32(IN_SCALE)))
    weights = SimpleNamespace(quantization=SimpleNamespace(scales=q.w_scales))
    out = SimpleNamespace(scale=float(np.float32(OUT_SCALE)))
    mult, shift = channel_multipliers(stored, weights, out, channels,
                                      scheme == "uint8" and not single)
    target = np.array([_critical(int(m), int(s), single, lo - q.out_zp, hi - q.out_zp, rng)
                       for m, s in zip(mult, shift)])
    # acc = bias + sign (x - zx): the sweep's middle (or the one row's value) at the target
    if kind == "FC1":
        middle = x[0, source].astype(np.int64) - q.in_zp
    else:
        middle = np.full(channels, (int(info.min) + int(info.max) + 1) // 2 - q.in_zp)
    bias = q.bias(target - sign * middle)
    if kind in ("FC", "FC1"):
        w = np.zeros((channels, in_c), np.int64)
        w[np.arange(channels), source] = sign
        out_t = q.tensor((x.shape[0], channels), OUT_SCALE, q.out_zp)
        model = q.build("FULLY_CONNECTED", [in_t, q.weights(w, 0), bias], out_t,
                        fused_activation_function=activation)
    elif kind == "DW":
        w = np.zeros((1, kernel, kernel, channels), np.int64)
        w[0, kernel // 2, kernel // 2] = sign
        out_t = q.tensor((1, 16, 16, channels), OUT_SCALE, q.out_zp)
        model = q.build("DEPTHWISE_CONV_2D", [in_t, q.weights(w, 3), bias], out_t,
                        padding="SAME", stride_h=1, stride_w=1, dilation_h_factor=1,
                        dilation_w_factor=1, depth_multiplier=channels // in_c,
                        fused_activation_function=activation)
    elif kind == "CONV":
        w = np.zeros((channels, kernel, kernel, in_c), np.int64)
        w[np.arange(channels), kernel // 2, kernel // 2, source] = sign
        out_t = q.tensor((1, 16, 16, channels), OUT_SCALE, q.out_zp)
        model = q.build("CONV_2D", [in_t, q.weights(w, 0), bias], out_t, padding="SAME",
                        stride_h=1, stride_w=1, dilation_h_factor=1, dilation_w_factor=1,
                        fused_activation_function=activation)
    else:
        w = np.zeros((channels, 2, 2, in_c), np.int64)
        w[np.arange(channels), :, :, source] = sign[:, None, None]
        out_shape = (1, 32, 32, channels)
        size = q.b.add_constant(np.array(out_shape, np.int32))
        out_t = q.tensor(out_shape, OUT_SCALE, q.out_zp)
        model = q.build("TRANSPOSE_CONV", [size, q.weights(w, 0), in_t, bias], out_t,
                        padding="VALID", stride_h=2, stride_w=2,
                        fused_activation_function=activation)
    return model, [x]


def _check(model: bytes, inputs, reference: str = "litert"):
    """Every ISA equal to LiteRT BUILTIN_REF, or to qrun's numpy reference kernels."""
    theirs = run_litert(model, inputs) if reference == "litert" else run_qrun(model, inputs)
    for isa in ISAS:
        assert_same(run_delegate(model, inputs, isa), theirs, what="%s vs %s" % (isa, reference))


# (kind, output channels, input channels, kernel): GEMM (tails in M and N), the K-major
# kernels (few channels), IGEMM with kx_fused (few input channels) and without, 5x5;
# depthwise quads (64 + 32, 96, odd), int16 pairs, the row kernel (few channels), the
# portable kernel (depth multiplier 2); FC over 256 rows and one row; transpose conv.
PATHS = [("CONV", 37, 5, 1), ("CONV", 67, 24, 1), ("CONV", 5, 24, 1), ("CONV", 3, 3, 3),
         ("CONV", 45, 3, 3), ("CONV", 19, 24, 5), ("DW", 96, 96, 3), ("DW", 67, 67, 3),
         ("DW", 19, 19, 5), ("DW", 40, 40, 3), ("DW", 3, 3, 3), ("DW", 8, 8, 3),
         ("DW", 24, 24, 3), ("DW", 20, 10, 3), ("FC", 37, 20, 1), ("FC1", 300, 300, 1),
         ("FC1", 5, 5, 1), ("TCONV", 19, 6, 2)]


@pytest.mark.parametrize("scheme", ["int8", "int8pc", "uint8"])
@pytest.mark.parametrize("path", range(len(PATHS)))
def test_right_shifts_at_rounding_boundaries(scheme, path):
    kind, channels, in_c, kernel = PATHS[path]
    for seed, activation in enumerate(("NONE", "RELU", "RELU6", "RELU_N1_TO_1")):
        model, inputs = _model(kind, scheme, channels, in_c, (-20.0, -1.5), activation,
                               seed=100 * path + seed, kernel=kernel,
                               out_zp=(-40, 0, 17, 90)[seed])
        # LiteRT's one-row FULLY_CONNECTED is 1 LSB off the single rounding at some of
        # these boundaries (accumulators near 2^25, measured); numpy's kernel is the oracle
        _check(model, inputs, "qrun" if kind == "FC1" else "litert")


@pytest.mark.parametrize("scheme", ["int8", "int8pc", "uint8"])
@pytest.mark.parametrize("path", [0, 3, 4, 6, 10, 13, 14, 15, 17])
def test_left_and_no_right_shifts(scheme, path):
    # requantization scales 2^-1.2 .. 2^9: channels without a right shift, and left shifts
    kind, channels, in_c, kernel = PATHS[path]
    for seed, activation in enumerate(("NONE", "RELU6")):
        model, inputs = _model(kind, scheme, channels, in_c, (-1.2, 9.0), activation,
                               seed=7 + 100 * path + seed, kernel=kernel)
        _check(model, inputs)
