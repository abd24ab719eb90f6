"""DEPTHWISE_CONV_2D against LiteRT BUILTIN_REF: schemes, depth multipliers, geometries,
activations, zero points, with and without bias."""
from __future__ import annotations

import pytest

from tests.ops.conv_util import ACTIVATIONS, ConvModel, check_exact, out_dim

SCHEMES = ("int8", "int8pc", "uint8", "int16", "float32", "hybridpc")

# (input NHWC, depth multiplier, kernel HW, strides HW, dilations HW, padding)
GEOMETRIES = [
    ((1, 5, 5, 3), 1, (3, 3), (1, 1), (1, 1), "SAME"),
    ((2, 7, 6, 5), 2, (3, 2), (2, 1), (1, 1), "VALID"),
    ((1, 9, 9, 4), 1, (3, 3), (2, 2), (1, 1), "SAME"),
    ((1, 8, 10, 3), 3, (3, 3), (1, 2), (2, 2), "SAME"),
    ((2, 9, 7, 2), 1, (2, 3), (1, 1), (3, 2), "VALID"),
    ((1, 6, 6, 1), 4, (5, 5), (3, 3), (1, 1), "SAME"),
    ((1, 10, 10, 7), 1, (3, 3), (2, 2), (1, 1), "VALID"),
]


def depthwise_model(scheme, geometry, activation, seed, bias=True, in_zp=None, out_zp=None):
    shape, mult, (kh, kw), (sh, sw), (dh, dw), padding = geometry
    o = shape[3] * mult
    m = ConvModel(scheme, seed, in_zero_point=in_zp)
    x = m.input(shape)
    w = m.weights((1, kh, kw, o), axis=3)
    b = m.bias(o)
    out_shape = (shape[0], out_dim(shape[1], kh, sh, dh, padding),
                 out_dim(shape[2], kw, sw, dw, padding), o)
    y = m.output(out_shape, kh * kw, out_zero_point=out_zp)
    return m.build("DEPTHWISE_CONV_2D", [x, w] + ([b] if bias else []), y, padding=padding,
                   stride_h=sh, stride_w=sw, dilation_h_factor=dh, dilation_w_factor=dw,
                   depth_multiplier=mult, fused_activation_function=activation)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("g", range(len(GEOMETRIES)))
def test_depthwise_geometry(scheme, g):
    check_exact(depthwise_model(scheme, GEOMETRIES[g], "NONE", seed=g), seed=g)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("bias", [True, False])
def test_depthwise_activation_bias(scheme, activation, bias):
    model = depthwise_model(scheme, GEOMETRIES[1], activation, seed=3, bias=bias)
    check_exact(model, seed=5)


@pytest.mark.parametrize("scheme,in_zp,out_zp", [
    ("int8", -128, 127), ("int8pc", 127, -128), ("int8pc", 0, 0),
    ("uint8", 0, 255), ("uint8", 255, 0), ("uint8", 128, 128)])
@pytest.mark.parametrize("activation", ("NONE", "RELU"))
def test_depthwise_zero_points(scheme, in_zp, out_zp, activation):
    model = depthwise_model(scheme, GEOMETRIES[3], activation, seed=7, in_zp=in_zp,
                            out_zp=out_zp)
    check_exact(model, seed=11)
