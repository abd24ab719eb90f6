"""QUANTIZE and DEQUANTIZE against LiteRT BUILTIN_REF."""
from __future__ import annotations

import numpy as np
import pytest

from qrun.modelbuilder import ModelBuilder
from tests.oracle import check_against_litert, run_qrun, shared_model

SHAPES = [(1, 5, 7, 3), (2, 3, 9), (11,)]


def unary_model(opname, shape, in_dtype, out_dtype, qin=None, qout=None, const=None):
    b = ModelBuilder()
    kw = lambda q: {} if q is None else dict(scale=q[0], zero_point=q[1],  # noqa: E731
                                             quantized_dimension=q[2] if len(q) > 2 else 0)
    if const is None:
        x = b.add_input(shape, in_dtype, **kw(qin))
    else:
        x = b.add_constant(np.asarray(const, in_dtype).reshape(shape), **kw(qin))
    y = b.add_tensor(shape, out_dtype, **kw(qout))
    b.add_op(opname, [x], [y])
    b.mark_output(y)
    return b.build()


def float_inputs(shape, seed, spread):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * spread).astype(np.float32)
    # Exact halves exercise the rounding rule.
    x.reshape(-1)[::5] = (np.arange(x.size)[::5] - x.size // 2) * np.float32(0.5) * 0.05
    return [x]


@pytest.mark.parametrize("out_dtype,zp", [(np.int8, -128), (np.int8, 0), (np.int8, 127),
                                          (np.uint8, 0), (np.uint8, 128), (np.uint8, 255),
                                          (np.int16, 0)])
@pytest.mark.parametrize("scale", [0.05, 0.0078125, 0.37])
@pytest.mark.parametrize("shape", SHAPES)
def test_quantize_float(out_dtype, zp, scale, shape):
    model = unary_model("QUANTIZE", shape, np.float32, out_dtype, qout=(scale, zp))
    check_against_litert(model, inputs=float_inputs(shape, 0, 4.0))


@pytest.mark.parametrize("out_dtype,zp", [(np.int8, -5), (np.uint8, 7), (np.int16, 0),
                                          (np.int8, 100)])
def test_quantize_nonfinite_saturates(out_dtype, zp):
    x = np.array([np.nan, np.inf, -np.inf, 1e30, -1e30, 3e9, -3e9, 0.0, 1.0, -1.0],
                 np.float32)
    model = unary_model("QUANTIZE", x.shape, np.float32, out_dtype, qout=(0.1, zp))
    check_against_litert(model, inputs=[x])


@pytest.mark.parametrize("axis", [0, 3])
@pytest.mark.parametrize("out_dtype", [np.int8, np.uint8, np.int16])
def test_quantize_per_channel(axis, out_dtype):
    shape = (3, 2, 4, 5)
    n = shape[axis]
    scales = np.linspace(0.01, 0.2, n)
    zps = np.zeros(n, np.int64) if out_dtype == np.int16 else np.arange(n) * 3 + (
        int(np.iinfo(out_dtype).min) + 100)
    model = unary_model("QUANTIZE", shape, np.float32, out_dtype, qout=(scales, zps, axis))
    check_against_litert(model, inputs=float_inputs(shape, 1, 3.0))


REQUANT = [
    (np.int8, np.int8, (0.05, -3), (0.02, 10)),
    (np.int8, np.int8, (0.05, -128), (0.5, 127)),
    (np.int8, np.uint8, (0.05, -3), (0.05, 125)),     # the +128 shift
    (np.int8, np.uint8, (0.05, 0), (0.031, 7)),
    (np.uint8, np.int8, (0.05, 128), (0.05, 0)),
    (np.uint8, np.int8, (0.013, 255), (0.07, -120)),
    (np.uint8, np.uint8, (0.013, 0), (0.0009, 255)),
    (np.int16, np.int8, (0.001, 0), (0.02, -4)),
    (np.int16, np.int16, (0.001, 0), (0.0003, 0)),
    (np.int16, np.int32, (0.001, 0), (0.0001, 0)),
    (np.int32, np.int8, (0.0001, 0), (0.01, 3)),
    (np.int32, np.int16, (0.0001, 5), (0.0002, 0)),
]


@pytest.mark.parametrize("in_dtype,out_dtype,qin,qout", REQUANT)
@pytest.mark.parametrize("shape", SHAPES[:2])
def test_requantize(in_dtype, out_dtype, qin, qout, shape):
    check_against_litert(unary_model("QUANTIZE", shape, in_dtype, out_dtype, qin, qout), seed=2)


@pytest.mark.parametrize("in_dtype,q", [(np.int8, (0.05, -128)), (np.int8, (0.003, 127)),
                                        (np.uint8, (0.05, 0)), (np.uint8, (0.7, 255)),
                                        (np.int16, (0.0001, 0)), (np.int16, (0.3, 0))])
@pytest.mark.parametrize("shape", SHAPES)
def test_dequantize(in_dtype, q, shape):
    check_against_litert(unary_model("DEQUANTIZE", shape, in_dtype, np.float32, q), seed=3)


def test_dequantize_int16_rejects_zero_point():
    model = unary_model("DEQUANTIZE", (4,), np.int16, np.float32, (0.3, 7))
    with pytest.raises(RuntimeError, match="zero point"):
        run_qrun(model, [np.zeros(4, np.int16)])


@pytest.mark.parametrize("axis", [0, 3])
def test_dequantize_per_channel_constant(axis):
    shape = (4, 3, 3, 5)
    w = np.random.default_rng(0).integers(-127, 128, size=shape)
    scales = np.linspace(0.001, 0.05, shape[axis])
    model = unary_model("DEQUANTIZE", shape, np.int8, np.float32, (scales, 0, axis), const=w)
    check_against_litert(model, inputs=[])


@pytest.mark.parametrize("shape", [(3, 3, 8, 16), (7,)])
def test_dequantize_float16_constant(shape):
    w = (np.random.default_rng(1).standard_normal(shape) * 3).astype(np.float16)
    model = unary_model("DEQUANTIZE", shape, np.float16, np.float32, const=w)
    out = check_against_litert(model, inputs=[])
    np.testing.assert_array_equal(out[0], w.astype(np.float32))


@pytest.mark.parametrize("name", [
    "mobilenet_v3_small_int8_floatio.tflite",   # float I/O through QUANTIZE/DEQUANTIZE
    "keras_lstm_mnist_ptq.tflite",              # uint8 <-> int8 requantization at both ends
    "face_detection_short_range.tflite",        # 74 float16 weights through DEQUANTIZE
    "keyword_scrambled_int16x8.tflite",         # int16 QUANTIZE
])
def test_real_models(name):
    check_against_litert(shared_model(name).read_bytes(), seed=0)
