"""SOFTMAX and LOG_SOFTMAX against LiteRT BUILTIN_REF."""
from __future__ import annotations

import numpy as np
import pytest

from qrun.modelbuilder import ModelBuilder
from tests.oracle import check_against_litert
from tests.ops.test_pooling import check_ops_in_model

# TFLite's reference kernel aborts when a row's exps sum past 2^(output bits) / 256 (its
# output shift check); rows of 250 stay below that for any input.
SHAPES = [(1, 10), (2, 3, 7), (3, 250), (1, 1), (2, 2, 2, 33)]
BETAS = [1.0, 0.37, 2.5]
# (input dtype, output dtype) -> (input scales, input zero points, output scale, output zp)
EIGHT_BIT = {
    (np.int8, np.int8): ((0.01, 0.1, 0.5), (-128, 0, 100), 1 / 256, -128),
    (np.uint8, np.uint8): ((0.01, 0.1, 0.5), (0, 128, 255), 1 / 256, 0),
    (np.int8, np.int16): ((0.02, 0.25), (-128, 7), 1 / 65536, -32768),
    (np.uint8, np.int16): ((0.02, 0.25), (0, 200), 1 / 65536, -32768),
}


def softmax_model(shape, din, dout, beta, qin=(None, None), qout=(None, None),
                  opname="SOFTMAX"):
    b = ModelBuilder()
    x = b.add_input(shape, din, scale=qin[0], zero_point=qin[1])
    y = b.add_tensor(shape, dout, scale=qout[0], zero_point=qout[1])
    options = {"beta": beta} if opname == "SOFTMAX" else {}
    b.add_op(opname, [x], [y], **options)
    b.mark_output(y)
    return b.build()


@pytest.mark.parametrize("types", list(EIGHT_BIT))
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("beta", BETAS)
def test_softmax_8bit(types, shape, beta):
    scales, zero_points, out_scale, out_zp = EIGHT_BIT[types]
    for k, (scale, zp) in enumerate((s, z) for s in scales for z in zero_points):
        model = softmax_model(shape, *types, beta, (scale, zp), (out_scale, out_zp))
        check_against_litert(model, seed=k)


@pytest.mark.parametrize("types", [(np.uint8, np.uint8), (np.int8, np.int8)])
def test_softmax_8bit_classifier(types):
    """A 1001-class head, with logit spreads wide enough for the reference kernel to run."""
    _, zero_points, out_scale, out_zp = EIGHT_BIT[types]
    for k, scale in enumerate((0.1, 0.17, 0.5)):
        model = softmax_model((1, 1001), *types, 1.0, (scale, zero_points[1]), (out_scale, out_zp))
        check_against_litert(model, seed=k)


def test_softmax_8bit_full_range():
    """Every int8 value in one row, and rows where one value dominates."""
    x = np.stack([np.arange(-128, 128), np.where(np.arange(256) == 5, 127, -128)]).astype(np.int8)
    for scale in (0.004, 0.06, 1.0, 3.0):
        model = softmax_model((2, 256), np.int8, np.int8, 1.0, (scale, 0), (1 / 256, -128))
        check_against_litert(model, inputs=[x])


@pytest.mark.parametrize("shape", SHAPES[:4] + [(2, 1, 3, 40)])
@pytest.mark.parametrize("beta", BETAS)
@pytest.mark.parametrize("scale", [1e-4, 5e-4, 3e-3])
def test_softmax_int16(shape, beta, scale):
    model = softmax_model(shape, np.int16, np.int16, beta, (scale, 0), (1 / 32768, 0))
    check_against_litert(model)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("beta", BETAS)
def test_softmax_float(shape, beta):
    check_against_litert(softmax_model(shape, np.float32, np.float32, beta))


@pytest.mark.parametrize("dtype,zero_points", [(np.int8, (-128, 0, 90)), (np.uint8, (0, 128, 255))])
@pytest.mark.parametrize("shape", SHAPES + [(1, 1001)])
@pytest.mark.parametrize("scale", [0.01, 0.1, 0.5, 2.0])
def test_log_softmax_8bit(dtype, zero_points, shape, scale):
    out_zp = int(np.iinfo(dtype).max)
    for k, zp in enumerate(zero_points):
        model = softmax_model(shape, dtype, dtype, None, (scale, zp), (16 / 256, out_zp),
                              opname="LOG_SOFTMAX")
        check_against_litert(model, seed=k)


@pytest.mark.parametrize("shape", SHAPES)
def test_log_softmax_float(shape):
    check_against_litert(softmax_model(shape, np.float32, np.float32, None,
                                       opname="LOG_SOFTMAX"))


@pytest.mark.parametrize("name", [
    "mobilenet_v1_0.25_128_quant.tflite", "efficientnet_lite0_int8.tflite",
    "person_detect_qdimfix.tflite", "kws_ref_model.tflite", "keyword_scrambled_int16x8.tflite",
    "yolov8n_full_integer_quant.tflite", "retinaface_int8.tflite", "micro_speech_lstm.tflite",
])
def test_real_model_softmax(name):
    assert check_ops_in_model(name, {"SOFTMAX"}) == {"SOFTMAX"}


@pytest.mark.parametrize("din,dout,qin,qout", [
    (np.int8, np.int8, (0.1, 0), (1 / 128, -128)), (np.int8, np.int8, (0.1, 0), (1 / 256, 0)),
    (np.int16, np.int16, (0.001, 3), (1 / 32768, 0)), (np.int8, np.uint8, (0.1, 0), (1 / 256, 0)),
])
def test_softmax_rejects_what_litert_rejects(din, dout, qin, qout):
    from qrun import Interpreter
    model = softmax_model((1, 8), din, dout, 1.0, qin, qout)
    with pytest.raises(RuntimeError, match="SOFTMAX"):
        Interpreter(model_content=model).allocate_tensors()
