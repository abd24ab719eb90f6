"""DEPTHWISE_CONV_2D in the C delegate vs BUILTIN_REF."""
from __future__ import annotations

import pytest

from tests.delegate.util import check_delegate
from tests.ops.conv_util import ACTIVATIONS, ConvModel, out_dim

SCHEMES = ("int8", "int8pc", "uint8")

# (input NHWC, depth multiplier, kernel HW, strides HW, dilations HW, padding)
GEOMETRIES = [
    ((1, 7, 7, 3), 1, (3, 3), (1, 1), (1, 1), "SAME"),
    ((2, 8, 9, 17), 1, (3, 3), (2, 2), (1, 1), "SAME"),        # channel tail of a 16 block
    ((1, 9, 9, 32), 1, (5, 5), (1, 1), (1, 1), "SAME"),
    ((1, 10, 8, 5), 1, (5, 5), (2, 2), (1, 1), "VALID"),
    ((1, 6, 7, 3), 2, (3, 3), (1, 1), (1, 1), "SAME"),         # depth multiplier
    ((2, 6, 6, 1), 5, (2, 3), (1, 2), (1, 1), "VALID"),
    ((1, 9, 10, 7), 3, (3, 3), (1, 1), (2, 3), "SAME"),        # dilation
    ((1, 5, 5, 33), 1, (1, 1), (1, 1), (1, 1), "VALID"),
    ((1, 4, 4, 6), 1, (7, 7), (1, 1), (1, 1), "SAME"),         # window larger than the input
    ((3, 5, 4, 2), 1, (3, 3), (3, 2), (1, 1), "SAME"),
    ((1, 12, 11, 50), 1, (3, 3), (2, 2), (2, 2), "SAME"),     # several channel blocks + tail
    ((2, 7, 7, 9), 4, (5, 5), (1, 1), (1, 1), "SAME"),        # multiplier over blocks
    # SIMD tiles (8, 16, 32 channels, two blocks at a time) with tails of every kind
    ((1, 9, 8, 72), 1, (3, 3), (1, 1), (1, 1), "SAME"),
    ((1, 9, 9, 75), 1, (3, 3), (2, 2), (1, 1), "SAME"),
    ((1, 11, 10, 101), 1, (3, 3), (1, 1), (2, 2), "SAME"),
    ((1, 10, 9, 23), 1, (5, 5), (1, 1), (1, 1), "SAME"),
    ((2, 11, 11, 67), 1, (5, 5), (2, 2), (1, 1), "SAME"),
    ((1, 12, 12, 40), 1, (5, 5), (1, 1), (2, 2), "SAME"),
    ((1, 8, 8, 130), 1, (3, 3), (2, 2), (2, 2), "VALID"),
    ((1, 7, 6, 19), 1, (2, 2), (1, 1), (1, 1), "VALID"),      # generic window, even taps
    ((1, 8, 8, 64), 1, (7, 7), (2, 2), (1, 1), "SAME"),       # generic window, full tiles
    # AVX-512 VNNI's int8 quads (64-channel blocks, int8 weights): tails, strides, dilation
    ((1, 7, 6, 250), 1, (3, 3), (1, 1), (1, 1), "SAME"),
    ((1, 9, 9, 120), 1, (5, 5), (2, 2), (1, 1), "SAME"),
    ((1, 9, 9, 192), 1, (3, 3), (1, 1), (2, 2), "SAME"),
    ((1, 8, 7, 90), 1, (3, 3), (2, 2), (1, 1), "SAME"),       # 64 + a 32-wide block's 26
    ((1, 9, 9, 32), 1, (5, 5), (1, 1), (2, 2), "SAME"),       # one full 32-wide block
    ((2, 7, 7, 28), 1, (3, 3), (2, 2), (1, 1), "SAME"),       # pixel pairs, masked, odd count
    # few channels (C = 1, 2, 3, 5, 7, 17): the row kernel where 2 C fits a vector and the
    # horizontal stride is 1 (rows of many 4-step tiles, rows narrower than one step, edges
    # of the padding, dilation, padding rows), the per-pixel kernels otherwise
    ((1, 6, 150, 3), 1, (3, 3), (1, 1), (1, 1), "SAME"),
    ((2, 5, 97, 1), 1, (3, 3), (1, 1), (1, 1), "SAME"),
    ((1, 7, 64, 2), 1, (5, 5), (2, 1), (1, 1), "SAME"),
    ((1, 9, 41, 5), 1, (3, 3), (1, 1), (2, 3), "SAME"),
    ((1, 5, 23, 7), 1, (5, 5), (1, 1), (1, 1), "VALID"),
    ((1, 4, 3, 3), 1, (3, 3), (1, 1), (1, 1), "SAME"),        # a row narrower than a step
    ((1, 3, 2, 1), 1, (5, 5), (1, 1), (1, 1), "SAME"),        # window wider than the input
    ((1, 6, 30, 7), 1, (1, 7), (1, 1), (1, 1), "SAME"),
    ((1, 8, 33, 17), 1, (3, 3), (1, 1), (1, 1), "SAME"),
    ((1, 9, 40, 3), 1, (3, 3), (2, 2), (1, 1), "SAME"),       # horizontal stride 2
    ((1, 8, 37, 2), 2, (3, 3), (1, 1), (1, 1), "SAME"),       # multiplier 2, 4 channels
    ((1, 6, 20, 5), 1, (2, 4), (3, 1), (2, 1), "VALID"),
    # AVX-512 VNNI, 16 < C < 32 at horizontal stride 1: the row kernel on the quads' 64 lanes
    ((2, 7, 45, 24), 1, (3, 3), (1, 1), (1, 1), "SAME"),
    ((1, 9, 30, 20), 1, (5, 5), (2, 1), (1, 2), "SAME"),
    # AVX-512 VNNI, 32 channels: neighbours in a row at stride 1 in one vector (odd widths:
    # pairs across rows)
    ((2, 6, 9, 32), 1, (3, 3), (1, 1), (1, 1), "SAME"),
    ((1, 7, 12, 32), 1, (3, 3), (1, 1), (1, 1), "VALID"),
]


def depthwise_model(scheme, geometry, activation, seed, in_zp=None, out_zp=None):
    shape, mult, (kh, kw), (sh, sw), (dh, dw), padding = geometry
    c = shape[3] * mult
    m = ConvModel(scheme, seed, in_zero_point=in_zp)
    x = m.input(shape)
    w = m.weights((1, kh, kw, c), axis=3)
    b = m.bias(c)
    out_shape = (shape[0], out_dim(shape[1], kh, sh, dh, padding),
                 out_dim(shape[2], kw, sw, dw, padding), c)
    y = m.output(out_shape, kh * kw, out_zero_point=out_zp)
    return m.build("DEPTHWISE_CONV_2D", [x, w, b], y, padding=padding, stride_h=sh, stride_w=sw,
                   dilation_h_factor=dh, dilation_w_factor=dw, depth_multiplier=mult,
                   fused_activation_function=activation)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("g", range(len(GEOMETRIES)))
def test_depthwise_geometry(scheme, g):
    check_delegate(depthwise_model(scheme, GEOMETRIES[g], ACTIVATIONS[g % 4], seed=g), seed=g)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("g", [1, 4])
def test_depthwise_activation(scheme, activation, g):
    check_delegate(depthwise_model(scheme, GEOMETRIES[g], activation, seed=3), seed=5)


@pytest.mark.parametrize("scheme,in_zp,out_zp", [
    ("int8", -128, 127), ("int8", 127, -128), ("int8pc", -128, -128), ("int8pc", 127, 127),
    ("uint8", 0, 255), ("uint8", 255, 0), ("uint8", 0, 0), ("uint8", 255, 255)])
@pytest.mark.parametrize("g", [0, 5])
def test_depthwise_extreme_zero_points(scheme, in_zp, out_zp, g):
    check_delegate(depthwise_model(scheme, GEOMETRIES[g], "NONE", seed=7, in_zp=in_zp,
                                   out_zp=out_zp), seed=11)
