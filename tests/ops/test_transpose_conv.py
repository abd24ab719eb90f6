"""TRANSPOSE_CONV against LiteRT BUILTIN_REF (schemes, strides, paddings, output sizes, bias
present or not, activations), and MediaPipe's Convolution2DTransposeBias against LiteRT's
default resolver (its only implementation is XNNPACK's)."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from tests.oracle import assert_same, random_inputs, run_litert, run_qrun
from tests.ops.conv_util import ACTIVATIONS, ConvModel, check_exact

SCHEMES = ("int8", "int8pc", "uint8", "int16", "int16b32", "float32")

# (input NHWC, output channels, kernel HW, strides HW, padding, output HW)
GEOMETRIES = [
    ((1, 4, 4, 3), 2, (3, 3), (2, 2), "SAME", (8, 8)),
    ((2, 3, 5, 4), 5, (2, 3), (2, 1), "VALID", (6, 7)),
    ((1, 5, 5, 2), 3, (3, 3), (1, 1), "SAME", (5, 5)),
    ((1, 3, 3, 5), 4, (4, 4), (3, 3), "VALID", (10, 10)),
    ((1, 4, 3, 1), 1, (5, 3), (2, 2), "SAME", (7, 6)),
    ((1, 2, 2, 3), 2, (1, 1), (2, 2), "VALID", (4, 4)),
    ((1, 3, 3, 2), 3, (3, 3), (2, 2), "VALID", (8, 8)),
]


def transpose_model(scheme, geometry, seed, bias=True, activation=None, in_zp=None, out_zp=None):
    shape, o, (kh, kw), (sh, sw), padding, (oh, ow) = geometry
    m = ConvModel(scheme, seed, in_zero_point=in_zp)
    x = m.input(shape)
    w = m.weights((o, kh, kw, shape[3]), axis=0)
    b = m.bias(o)
    out_shape = (shape[0], oh, ow, o)
    size = m.b.add_constant(np.array(out_shape, np.int32))
    y = m.output(out_shape, max(1, kh * kw * shape[3] // (sh * sw)), out_zero_point=out_zp)
    options = dict(padding=padding, stride_h=sh, stride_w=sw)
    if activation is not None:
        options["fused_activation_function"] = activation
    return m.build("TRANSPOSE_CONV", [size, w, x] + ([b] if bias else []), y, **options)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("g", range(len(GEOMETRIES)))
@pytest.mark.parametrize("bias", [True, False])
def test_transpose_conv(scheme, g, bias):
    check_exact(transpose_model(scheme, GEOMETRIES[g], seed=g, bias=bias), seed=g)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_transpose_conv_activation(scheme, activation):
    model = transpose_model(scheme, GEOMETRIES[0], seed=5, activation=activation)
    check_exact(model, seed=6)


@pytest.mark.parametrize("scheme,in_zp,out_zp", [
    ("int8pc", -128, 127), ("int8", 127, -128), ("uint8", 0, 255), ("uint8", 255, 0)])
def test_transpose_conv_zero_points(scheme, in_zp, out_zp):
    model = transpose_model(scheme, GEOMETRIES[1], seed=8, in_zp=in_zp, out_zp=out_zp)
    check_exact(model, seed=9)


def transpose_bias_model(shape, o, kernel, strides, padding, seed):
    m = ConvModel("float32", seed)
    x = m.input(shape)
    w = m.weights((o,) + kernel + (shape[3],), axis=0)
    b = m.bias(o)
    if padding == "SAME":
        out_hw = (shape[1] * strides[0], shape[2] * strides[1])
    else:
        out_hw = tuple((n - 1) * s + k for n, k, s in zip(shape[1:3], kernel, strides))
    y = m.output((shape[0],) + out_hw + (o,), 1)
    params = struct.pack("<iii", {"SAME": 1, "VALID": 2}[padding], strides[1], strides[0])
    m.b.add_op("Convolution2DTransposeBias", [x, w, b], [y], custom_options=params)
    m.b.mark_output(y)
    return m.b.build()


@pytest.mark.parametrize("shape,o,kernel,strides,padding", [
    ((1, 4, 4, 3), 2, (2, 2), (2, 2), "SAME"),
    ((1, 5, 3, 4), 3, (3, 3), (2, 2), "SAME"),
    ((1, 3, 4, 2), 1, (4, 4), (2, 2), "SAME"),
    ((1, 4, 4, 3), 2, (3, 3), (2, 1), "VALID"),
    ((2, 3, 3, 16), 5, (2, 2), (2, 2), "VALID"),
    ((1, 3, 5, 2), 3, (3, 2), (3, 2), "SAME"),
    ((1, 3, 3, 2), 2, (1, 1), (2, 2), "VALID"),
])
def test_convolution_2d_transpose_bias(shape, o, kernel, strides, padding):
    model = transpose_bias_model(shape, o, kernel, strides, padding, seed=1)
    inputs = random_inputs([dict(shape=shape, dtype=np.float32)], 2)
    assert_same(run_qrun(model, inputs), run_litert(model, inputs, resolver="AUTO"))


@pytest.mark.parametrize("scheme", ("int8pc", "float32"))
def test_transpose_conv_output_shape_input(scheme):
    # The output shape is a model input: the output is sized at run time.
    shape, o, kernel, strides, padding, out_hw = GEOMETRIES[0]
    m = ConvModel(scheme, 3)
    size = m.b.add_input([4], np.int32)
    x = m.input(shape)
    w = m.weights((o,) + kernel + (shape[3],), axis=0)
    out_shape = (shape[0],) + out_hw + (o,)
    y = m.output(out_shape, 9)
    model = m.build("TRANSPOSE_CONV", [size, w, x, m.bias(o)], y, padding=padding,
                    stride_h=strides[0], stride_w=strides[1])
    data = random_inputs([dict(shape=shape, dtype=m.dtype)], 4)[0]
    check_exact(model, inputs=[np.array(out_shape, np.int32), data])
