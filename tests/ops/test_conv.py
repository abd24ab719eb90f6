"""CONV_2D against LiteRT BUILTIN_REF over schemes (int8, per-channel, uint8, 16x8, float,
hybrid), geometries, activations, zero points; and the conv family inside real models."""
from __future__ import annotations

import numpy as np
import pytest

from tests.oracle import assert_same, litert, random_inputs, run_litert, run_qrun, shared_model
from tests.ops.conv_util import (ACTIVATIONS, ConvModel, check_exact, check_ops_in_model, out_dim,
                                  scale_product_model)

SCHEMES = ("int8", "int8pc", "uint8", "int16", "int16b32", "float32", "hybrid", "hybridpc")

# (input NHWC, output channels, kernel HW, strides HW, dilations HW, padding, groups)
GEOMETRIES = [
    ((1, 5, 5, 3), 4, (3, 3), (1, 1), (1, 1), "SAME", 1),
    ((2, 7, 6, 5), 7, (3, 2), (2, 1), (1, 1), "VALID", 1),
    ((1, 9, 9, 4), 3, (3, 3), (2, 2), (1, 1), "SAME", 1),
    ((1, 8, 10, 3), 5, (3, 3), (1, 2), (2, 2), "SAME", 1),
    ((2, 9, 7, 2), 3, (2, 3), (1, 1), (3, 2), "VALID", 1),
    ((1, 6, 6, 16), 9, (1, 1), (1, 1), (1, 1), "VALID", 1),
    ((1, 11, 11, 3), 8, (5, 5), (3, 3), (1, 1), "SAME", 1),
    ((1, 4, 4, 1), 1, (4, 4), (1, 1), (1, 1), "SAME", 1),
]


def input_details(model):
    return litert().Interpreter(model_content=model).get_input_details()


def conv_model(scheme, geometry, activation, seed, bias=True, in_zp=None, out_zp=None):
    shape, o, (kh, kw), (sh, sw), (dh, dw), padding, groups = geometry
    m = ConvModel(scheme, seed, in_zero_point=in_zp)
    x = m.input(shape)
    cg = shape[3] // groups
    w = m.weights((o, kh, kw, cg), axis=0)
    b = m.bias(o, zero=bias == "zero")
    inputs = [x, w] + ([b] if bias else [])
    out_shape = (shape[0], out_dim(shape[1], kh, sh, dh, padding),
                 out_dim(shape[2], kw, sw, dw, padding), o)
    y = m.output(out_shape, kh * kw * cg, out_zero_point=out_zp)
    return m.build("CONV_2D", inputs, y, padding=padding, stride_h=sh, stride_w=sw,
                   dilation_h_factor=dh, dilation_w_factor=dw,
                   fused_activation_function=activation)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("g", range(len(GEOMETRIES)))
def test_conv_geometry(scheme, g):
    check_exact(conv_model(scheme, GEOMETRIES[g], "NONE", seed=g), seed=g)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_conv_activation(scheme, activation):
    check_exact(conv_model(scheme, GEOMETRIES[1], activation, seed=3), seed=5)


def test_conv_without_bias():
    # LiteRT 2.3 refuses CONV_2D without a bias (conv.cc: has_bias), so no oracle here:
    # the result must equal LiteRT's on the same model with a zero bias.
    for scheme in SCHEMES:
        inputs = random_inputs(input_details(conv_model(scheme, GEOMETRIES[0], "RELU", 1)), 2)
        expected = run_litert(conv_model(scheme, GEOMETRIES[0], "RELU", 1, bias="zero"), inputs)
        assert_same(run_qrun(conv_model(scheme, GEOMETRIES[0], "RELU", 1, bias=False), inputs),
                    expected, atol_float=0.0, what=scheme)


@pytest.mark.parametrize("scheme,in_zp,out_zp", [
    ("int8", -128, 127), ("int8pc", 127, -128), ("int8pc", 0, 0),
    ("uint8", 0, 255), ("uint8", 255, 0), ("uint8", 128, 128)])
@pytest.mark.parametrize("activation", ("NONE", "RELU6"))
def test_conv_zero_points(scheme, in_zp, out_zp, activation):
    model = conv_model(scheme, GEOMETRIES[3], activation, seed=7, in_zp=in_zp, out_zp=out_zp)
    check_exact(model, seed=11)


@pytest.mark.parametrize("scheme", ("int8pc", "float32"))
@pytest.mark.parametrize("groups", (2, 3))
def test_conv_grouped(scheme, groups):
    geometry = ((1, 6, 6, 6), 6, (3, 3), (1, 1), (1, 1), "SAME", groups)
    check_exact(conv_model(scheme, geometry, "NONE", seed=groups), seed=groups)


@pytest.mark.parametrize("name", [
    "mobilenet_v1_0.25_128_quant.tflite",      # uint8
    "kws_ref_model.tflite",                    # int8 per-channel, FC
    "keyword_scrambled_int16x8.tflite",        # 16x8
    "vww_96_int8.tflite",
    "face_detection_short_range.tflite",       # float32 (weights from float16)
    "yolov8n_dynamic_range.tflite",            # hybrid
])
def test_conv_family_in_real_models(name):
    ops = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
    assert check_ops_in_model(shared_model(name), ops) > 0


@pytest.mark.parametrize("scheme", ("int8pc", "uint8"))
def test_conv_im2col_in_row_blocks(scheme, monkeypatch):
    # A tiny im2col budget makes the kernel work through many blocks of output rows.
    from qrun.interpreter.kernels import conv
    monkeypatch.setattr(conv, "IM2COL_ELEMENTS", 200)
    check_exact(conv_model(scheme, GEOMETRIES[4], "RELU", seed=4), seed=4)
    check_exact(conv_model(scheme, GEOMETRIES[6], "NONE", seed=6), seed=6)


# (input scale, weight scale, output scale, a, b): accumulators 127 * a + b whose output
# depends on whether the multiplier's scale product is float32 or double, for the
# double-rounding requantization (convolutions, BATCH_MATMUL) and the single-rounding one
# (FULLY_CONNECTED). LiteRT: float32 for uint8 convolutions and BATCH_MATMUL, double else.
TWICE_ROUNDED_CASES = [
    (0.06494691222906113, 0.07277356833219528, 1.915428876876831, -53, 45),
    (0.056360773742198944, 0.0637410432100296, 0.7694410085678101, -74, 82),
    (0.02094011940062046, 0.014067254029214382, 0.30956244468688965, -79, 50),
]
ONCE_ROUNDED_CASES = [
    (0.0655980110168457, 0.030095478519797325, 4.6525397300720215, -84, 63),
    (0.07314998656511307, 0.03172824904322624, 1.35935640335083, -77, 115),
    (0.08262836933135986, 0.008820552378892899, 0.09870888292789459, -70, 19),
]


@pytest.mark.parametrize("op,dtype,cases", [
    (op, dtype, TWICE_ROUNDED_CASES) for op in ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV")
    for dtype in (np.int8, np.uint8)] + [
    ("BATCH_MATMUL", np.int8, TWICE_ROUNDED_CASES),
    ("FULLY_CONNECTED", np.int8, ONCE_ROUNDED_CASES),
    ("FULLY_CONNECTED", np.uint8, ONCE_ROUNDED_CASES)])
def test_multiplier_scale_product(op, dtype, cases):
    for case in cases:
        model, x = scale_product_model(op, dtype, case)
        check_exact(model, inputs=[x])
