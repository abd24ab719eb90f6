"""CONV_2D in the C delegate (GEMM for 1x1 stride 1, indirect GEMM otherwise) vs BUILTIN_REF."""
from __future__ import annotations

import pytest

from qrun import Interpreter
from tests.delegate.util import ISAS, check_delegate, forced_isa
from tests.ops.conv_util import ACTIVATIONS, ConvModel, out_dim

SCHEMES = ("int8", "int8pc", "uint8")

# (input NHWC, output channels, kernel HW, strides HW, dilations HW, padding)
GEOMETRIES = [
    ((1, 5, 5, 3), 4, (3, 3), (1, 1), (1, 1), "SAME"),
    ((2, 7, 6, 5), 7, (3, 2), (2, 1), (1, 1), "VALID"),
    ((1, 9, 9, 4), 3, (3, 3), (2, 2), (1, 1), "SAME"),
    ((1, 8, 10, 3), 5, (3, 3), (1, 2), (2, 2), "SAME"),
    ((2, 9, 7, 2), 3, (2, 3), (1, 1), (3, 2), "VALID"),
    ((1, 6, 6, 16), 9, (1, 1), (1, 1), (1, 1), "VALID"),        # GEMM
    ((2, 5, 3, 17), 33, (1, 1), (1, 1), (1, 1), "SAME"),        # GEMM, tails in M and N
    ((1, 7, 7, 8), 19, (1, 1), (2, 2), (1, 1), "SAME"),         # strided 1x1: IGEMM
    ((1, 11, 11, 3), 8, (5, 5), (3, 3), (1, 1), "SAME"),
    ((1, 4, 4, 1), 1, (4, 4), (1, 1), (1, 1), "SAME"),
    ((3, 6, 5, 7), 13, (3, 3), (1, 1), (1, 1), "SAME"),
    ((1, 3, 3, 2), 5, (7, 7), (1, 1), (1, 1), "SAME"),         # window larger than the input
    ((2, 13, 11, 37), 45, (3, 3), (1, 1), (1, 1), "SAME"),     # several channel blocks, tails
    ((1, 10, 9, 24), 17, (3, 3), (2, 2), (2, 1), "VALID"),
]


def conv_model(scheme, geometry, activation, seed, in_zp=None, out_zp=None):
    shape, o, (kh, kw), (sh, sw), (dh, dw), padding = geometry
    m = ConvModel(scheme, seed, in_zero_point=in_zp)
    x = m.input(shape)
    w = m.weights((o, kh, kw, shape[3]), axis=0)
    b = m.bias(o)
    out_shape = (shape[0], out_dim(shape[1], kh, sh, dh, padding),
                 out_dim(shape[2], kw, sw, dw, padding), o)
    y = m.output(out_shape, kh * kw * shape[3], out_zero_point=out_zp)
    return m.build("CONV_2D", [x, w, b], y, padding=padding, stride_h=sh, stride_w=sw,
                   dilation_h_factor=dh, dilation_w_factor=dw,
                   fused_activation_function=activation)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("g", range(len(GEOMETRIES)))
def test_conv_geometry(scheme, g):
    check_delegate(conv_model(scheme, GEOMETRIES[g], ACTIVATIONS[g % 4], seed=g), seed=g)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("g", [1, 6])
def test_conv_activation(scheme, activation, g):
    check_delegate(conv_model(scheme, GEOMETRIES[g], activation, seed=3), seed=5)


@pytest.mark.parametrize("scheme,in_zp,out_zp", [
    ("int8", -128, 127), ("int8", 127, -128), ("int8pc", -128, -128), ("int8pc", 127, 127),
    ("uint8", 0, 255), ("uint8", 255, 0), ("uint8", 0, 0), ("uint8", 255, 255)])
@pytest.mark.parametrize("g", [0, 5])
def test_conv_extreme_zero_points(scheme, in_zp, out_zp, g):
    check_delegate(conv_model(scheme, GEOMETRIES[g], "NONE", seed=7, in_zp=in_zp,
                              out_zp=out_zp), seed=11)


# Shapes for the per-ISA GEMM tiles: rows not a multiple of any MR (4, 6), K per tap not a
# multiple of 2 or 4 (the SIMD kernels' K groups), channel counts that select each block width
# the plan can pick (16 .. 64) with tails, and layer-sized shapes with many row and K blocks.
TILE_GEOMETRIES = [
    ((1, 7, 5, 13), 50, (1, 1), (1, 1), (1, 1), "VALID"),      # GEMM, K % 4 == 1, two 32 blocks
    ((1, 9, 9, 66), 97, (1, 1), (1, 1), (1, 1), "SAME"),       # K % 4 == 2, 16-wide blocks
    ((2, 6, 7, 130), 144, (1, 1), (1, 1), (1, 1), "VALID"),    # 48-wide blocks
    ((1, 5, 7, 7), 24, (1, 1), (1, 1), (1, 1), "SAME"),        # K % 8 == 7, 32-wide (padded)
    ((1, 3, 3, 5), 1, (1, 1), (1, 1), (1, 1), "VALID"),        # one channel
    ((1, 17, 19, 3), 32, (3, 3), (2, 2), (1, 1), "SAME"),      # first layer: 3 bytes per tap
    ((1, 8, 9, 129), 70, (3, 3), (1, 1), (1, 1), "SAME"),      # IGEMM, K % 4 == 1
    ((1, 28, 28, 96), 160, (1, 1), (1, 1), (1, 1), "SAME"),    # layer-sized GEMM
    ((1, 20, 20, 64), 128, (3, 3), (1, 1), (1, 1), "SAME"),    # layer-sized IGEMM
    ((1, 7, 7, 320), 1280, (1, 1), (1, 1), (1, 1), "VALID"),   # wide N, long K
]

# Shapes for the small-N (K-major) kernels, the fused kx taps (few input channels: a window
# row's kw pixels as one tap, gathered at the left and right edges) and the interior tiles
# (MR pixels of one output row read at a fixed step): N = 1, 2, 3, 5, 8, Cin = 1, 3, 7x7
# kernels, strides, dilations, batches, windows wider than the input.
SMALL_GEOMETRIES = [
    ((1, 19, 23, 32), 3, (7, 7), (1, 1), (1, 1), "SAME"),     # K-major, fused 7 x 224 bytes
    ((2, 12, 17, 3), 32, (7, 7), (1, 1), (1, 1), "SAME"),     # fused 7 x 21, batch 2
    ((1, 21, 25, 3), 16, (3, 3), (2, 2), (1, 1), "SAME"),     # first layer, stride 2
    ((1, 16, 18, 1), 8, (3, 3), (1, 1), (1, 1), "VALID"),     # Cin 1, N 8
    ((1, 13, 30, 5), 1, (5, 5), (1, 2), (1, 1), "SAME"),      # N 1, stride 2 across
    ((1, 15, 20, 7), 2, (3, 3), (1, 1), (2, 1), "SAME"),      # N 2, dilation down (fused)
    ((1, 15, 20, 3), 5, (3, 3), (1, 1), (1, 2), "SAME"),      # N 5, dilation across
    ((1, 9, 31, 40), 8, (3, 3), (1, 1), (1, 1), "SAME"),      # K-major, 3 taps of 120
    ((1, 4, 5, 3), 3, (7, 7), (1, 1), (1, 1), "SAME"),        # window wider than the input
    ((1, 11, 40, 16), 24, (3, 3), (1, 1), (1, 1), "SAME"),    # interior tiles, not fused
    ((2, 10, 14, 2), 7, (7, 7), (2, 2), (2, 2), "SAME"),      # N 7, dilation both ways
]


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("g", range(len(TILE_GEOMETRIES)))
def test_conv_gemm_tiles(scheme, g):
    check_delegate(conv_model(scheme, TILE_GEOMETRIES[g], ACTIVATIONS[g % 4], seed=20 + g),
                   seed=g)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("g", range(len(SMALL_GEOMETRIES)))
def test_conv_small_channels(scheme, g):
    check_delegate(conv_model(scheme, SMALL_GEOMETRIES[g], ACTIVATIONS[g % 4], seed=40 + g),
                   seed=g)


@pytest.mark.parametrize("scheme,in_zp,out_zp", [
    ("int8", -128, 127), ("int8pc", 127, -128), ("uint8", 0, 255), ("uint8", 255, 0),
    ("uint8", 0, 0), ("uint8", 255, 255)])
@pytest.mark.parametrize("g", [0, 1, 4])
def test_conv_small_channels_zero_points(scheme, in_zp, out_zp, g):
    check_delegate(conv_model(scheme, SMALL_GEOMETRIES[g], "NONE", seed=13, in_zp=in_zp,
                              out_zp=out_zp), seed=17)


# The row-sum term (uint8 weights with a zero point other than 128): taps of K 1 to 16 and
# 17 to 32 (AVX-512: four or two rows per vector), longer (one row per vector; over 64 bytes,
# several vectors per row), in GEMM and IGEMM taps (fused: kw * Cin bytes), row blocks
# straddling output rows, and full tiles that end an output row (14 columns: two 7-pixel
# tiles).
ROW_SUM_GEOMETRIES = [
    ((1, 5, 9, 1), 16, (1, 1), (1, 1), (1, 1), "VALID"),      # GEMM, K 1
    ((1, 6, 5, 15), 20, (1, 1), (1, 1), (1, 1), "VALID"),     # K 15
    ((1, 7, 3, 16), 9, (1, 1), (1, 1), (1, 1), "VALID"),      # K 16, 21 rows
    ((2, 3, 7, 17), 33, (1, 1), (1, 1), (1, 1), "VALID"),     # K 17
    ((1, 9, 4, 32), 16, (1, 1), (1, 1), (1, 1), "VALID"),     # K 32
    ((1, 4, 9, 33), 48, (1, 1), (1, 1), (1, 1), "VALID"),     # K 33
    ((1, 5, 5, 65), 16, (1, 1), (1, 1), (1, 1), "VALID"),     # K 65: two vectors per row
    ((1, 9, 28, 3), 16, (3, 3), (2, 2), (1, 1), "VALID"),     # fused 9, 13 columns
    ((1, 15, 28, 3), 32, (3, 3), (2, 2), (1, 1), "SAME"),     # fused 9, 14 columns
    ((1, 10, 16, 5), 16, (3, 3), (1, 1), (1, 1), "SAME"),     # fused 15
    ((1, 8, 20, 10), 24, (3, 3), (1, 1), (1, 1), "VALID"),    # fused 30
    ((1, 8, 14, 11), 17, (3, 3), (1, 1), (1, 1), "SAME"),     # fused 33, 14 columns
    ((2, 6, 12, 20), 8, (3, 3), (1, 1), (1, 1), "SAME"),      # taps of 20 (not fused)
    ((1, 9, 14, 24), 40, (3, 3), (2, 1), (1, 1), "VALID"),    # taps of 24, 12 columns
]


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("g", range(len(ROW_SUM_GEOMETRIES)))
def test_conv_row_sums(scheme, g):
    check_delegate(conv_model(scheme, ROW_SUM_GEOMETRIES[g], ACTIVATIONS[g % 4], seed=60 + g),
                   seed=g)


@pytest.mark.parametrize("scheme,in_zp,out_zp", [
    ("uint8", 0, 255), ("uint8", 255, 0), ("uint8", 0, 0), ("uint8", 255, 255)])
@pytest.mark.parametrize("g", [0, 3, 8, 11])
def test_conv_row_sums_zero_points(scheme, in_zp, out_zp, g):
    check_delegate(conv_model(scheme, ROW_SUM_GEOMETRIES[g], "NONE", seed=19, in_zp=in_zp,
                              out_zp=out_zp), seed=23)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("g,fused,k_major,interior", [
    (0, "with K-major", True, True), (1, True, False, True), (3, True, False, True),
    (6, False, False, True), (9, False, False, True), (10, False, False, True)])
def test_conv_small_channels_plan(isa, g, fused, k_major, interior):
    """The small-channel geometries above take the paths they are meant to test (32 input
    channels are fused only for the K-major kernels, which want long taps)."""
    with forced_isa(isa):
        it = Interpreter(model_content=conv_model("int8", SMALL_GEOMETRIES[g], "NONE", seed=1))
        it.allocate_tensors()
    (step,) = it._graphs[0].steps
    ffi = step._ctx.ffi
    p = ffi.cast("qrun_gemm_params *", step._plan.nodes[0].params)
    has_k_major = step._ctx.backend.gemm_k_major_n_max > 0
    assert bool(p.kx_fused) == (has_k_major if fused == "with K-major" else fused)
    assert bool(p.k_major) == (k_major and has_k_major)
    assert (p.col_step != 0) == interior
