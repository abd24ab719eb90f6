"""TRANSPOSE_CONV in the C delegate (indirect deconvolution on the IGEMM kernel) vs
BUILTIN_REF within 1 LSB."""
from __future__ import annotations

import numpy as np
import pytest

from tests.delegate.util import check_delegate
from tests.ops.conv_util import ACTIVATIONS, ConvModel

SCHEMES = ("int8", "int8pc", "uint8")

# (input NHWC, output channels, kernel HW, strides HW, padding, output HW)
GEOMETRIES = [
    ((1, 4, 4, 3), 2, (3, 3), (2, 2), "SAME", (8, 8)),
    ((2, 3, 5, 4), 5, (2, 3), (2, 1), "VALID", (6, 7)),
    ((1, 5, 5, 2), 3, (3, 3), (1, 1), "SAME", (5, 5)),
    ((1, 3, 3, 5), 4, (4, 4), (3, 3), "VALID", (10, 10)),
    ((1, 4, 3, 1), 1, (5, 3), (2, 2), "SAME", (7, 6)),
    ((1, 2, 2, 3), 2, (1, 1), (2, 2), "VALID", (4, 4)),
    ((1, 3, 3, 2), 3, (3, 3), (2, 2), "VALID", (8, 8)),
    ((2, 6, 5, 17), 19, (4, 4), (2, 2), "SAME", (12, 10)),
    ((1, 9, 20, 6), 3, (3, 3), (1, 1), "SAME", (9, 20)),      # stride 1: interior tiles, N 3
]


def transpose_model(scheme, geometry, seed, bias=True, activation="NONE", in_zp=None,
                    out_zp=None):
    shape, o, (kh, kw), (sh, sw), padding, (oh, ow) = geometry
    m = ConvModel(scheme, seed, in_zero_point=in_zp)
    x = m.input(shape)
    w = m.weights((o, kh, kw, shape[3]), axis=0)
    b = m.bias(o)
    out_shape = (shape[0], oh, ow, o)
    size = m.b.add_constant(np.array(out_shape, np.int32))
    y = m.output(out_shape, max(1, kh * kw * shape[3] // (sh * sw)), out_zero_point=out_zp)
    return m.build("TRANSPOSE_CONV", [size, w, x] + ([b] if bias else []), y, padding=padding,
                   stride_h=sh, stride_w=sw, fused_activation_function=activation)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("g", range(len(GEOMETRIES)))
@pytest.mark.parametrize("bias", [True, False])
def test_transpose_conv(scheme, g, bias):
    check_delegate(transpose_model(scheme, GEOMETRIES[g], seed=g, bias=bias), seed=g)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_transpose_conv_activation(scheme, activation):
    check_delegate(transpose_model(scheme, GEOMETRIES[0], seed=5, activation=activation), seed=6)


@pytest.mark.parametrize("scheme,in_zp,out_zp", [
    ("int8pc", -128, 127), ("int8", 127, -128), ("uint8", 0, 255), ("uint8", 255, 0)])
def test_transpose_conv_zero_points(scheme, in_zp, out_zp):
    check_delegate(transpose_model(scheme, GEOMETRIES[1], seed=8, in_zp=in_zp, out_zp=out_zp),
                   seed=9)
