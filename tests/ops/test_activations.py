"""Activation ops against LiteRT BUILTIN_REF: every input integer of the 8-bit types is
exercised (a 256-value ramp), over grids of input/output quantization parameters."""
from __future__ import annotations

import numpy as np
import pytest

from qrun.modelbuilder import ModelBuilder
from tests.oracle import assert_same, check_against_litert, run_litert, run_qrun, shared_model

SHAPE = (2, 4, 8, 8)   # 512 elements: two full 8-bit ramps


def unary_model(opname, shape, dtype, qin=None, qout=None, extra_inputs=(), **options):
    b = ModelBuilder()
    kw = lambda q: {} if q is None else dict(scale=q[0], zero_point=q[1])  # noqa: E731
    x = b.add_input(shape, dtype, **kw(qin))
    y = b.add_tensor(shape, dtype, **kw(qout))
    b.add_op(opname, [x, *extra_inputs(b)] if callable(extra_inputs) else [x], [y], **options)
    b.mark_output(y)
    return b.build()


def ramp(dtype, shape=SHAPE, seed=0):
    """Every value of an 8-bit type (shuffled), or spread int16/float values."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if dtype in (np.int8, np.uint8):
        info = np.iinfo(dtype)
        x = np.resize(np.arange(info.min, info.max + 1), n)
        return rng.permutation(x).astype(dtype).reshape(shape)
    if dtype == np.int16:
        x = np.concatenate([rng.integers(-32768, 32768, n // 2),
                            rng.integers(-3000, 3000, n - n // 2)])
        x[:4] = [-32768, 32767, 0, -1]
        return x.astype(np.int16).reshape(shape)
    return (rng.standard_normal(shape) * 5).astype(np.float32)


def q8(dtype, scale, zp_offset):
    """(scale, zero point) with the zero point given as an offset from the type minimum."""
    return scale, int(np.iinfo(dtype).min) + zp_offset


# (input scale, input zp offset, output scale, output zp offset)
RELU_Q = [(0.05, 128, 0.05, 128), (0.1, 0, 0.03, 255), (0.02, 255, 0.1, 0),
          (0.5, 100, 0.0078125, 3), (0.003, 17, 0.004, 200)]


@pytest.mark.parametrize("opname", ["RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1"])
@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("q", RELU_Q)
def test_relu_family_8bit(opname, dtype, q):
    model = unary_model(opname, SHAPE, dtype, q8(dtype, q[0], q[1]), q8(dtype, q[2], q[3]))
    check_against_litert(model, inputs=[ramp(dtype)])


@pytest.mark.parametrize("opname", ["RELU", "RELU6"])
@pytest.mark.parametrize("scales", [(0.001, 0.001), (0.01, 0.0002), (0.0001, 0.003)])
def test_relu_int16(opname, scales):
    model = unary_model(opname, SHAPE, np.int16, (scales[0], 0), (scales[1], 0))
    check_against_litert(model, inputs=[ramp(np.int16)])


def check_elu(model, inputs):
    """BUILTIN_REF has no ELU; the builtin kernel (the same LUT for int8) is the oracle."""
    assert_same(run_qrun(model, inputs),
                run_litert(model, inputs, resolver="BUILTIN_WITHOUT_DEFAULT_DELEGATES"))


@pytest.mark.parametrize("opname", ["RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LOGISTIC",
                                    "TANH", "HARD_SWISH"])
@pytest.mark.parametrize("shape", [(1, 5, 7, 3), (2, 3), (13,)])
def test_float(opname, shape):
    check_against_litert(unary_model(opname, shape, np.float32),
                         inputs=[ramp(np.float32, shape)])


@pytest.mark.parametrize("shape", [(1, 5, 7, 3), (13,)])
def test_elu_float(shape):
    check_elu(unary_model("ELU", shape, np.float32), [ramp(np.float32, shape)])


# (input scale, input zp offset); LOGISTIC's output is fixed at 1/256, zp = type min.
IN_Q = [(0.05, 128), (0.1, 0), (0.02, 255), (0.5, 100), (0.003, 17), (0.0625, 128)]


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("q", IN_Q)
def test_logistic_8bit(dtype, q):
    model = unary_model("LOGISTIC", SHAPE, dtype, q8(dtype, *q), q8(dtype, 1.0 / 256, 0))
    check_against_litert(model, inputs=[ramp(dtype)])


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("q", IN_Q)
@pytest.mark.parametrize("qout", [(1.0 / 128, 128), (0.01, 100), (0.004, 128)])
def test_tanh_8bit(dtype, q, qout):
    model = unary_model("TANH", SHAPE, dtype, q8(dtype, *q), q8(dtype, *qout))
    check_against_litert(model, inputs=[ramp(dtype)])


# int16 input scales: powers of two (the shift-only path) and general scales.
INT16_SCALES = [2.0 ** -12, 2.0 ** -11, 2.0 ** -13, 0.0003, 0.001, 1.0 / 3000, 0.00002]


@pytest.mark.parametrize("opname", ["LOGISTIC", "TANH"])
@pytest.mark.parametrize("scale", INT16_SCALES)
def test_logistic_tanh_int16(opname, scale):
    model = unary_model(opname, SHAPE, np.int16, (scale, 0), (1.0 / 32768, 0))
    check_against_litert(model, inputs=[ramp(np.int16)])


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("q", [(0.05, 128, 0.05, 128), (0.1, 0, 0.03, 200), (0.02, 255, 0.1, 0),
                               (0.5, 100, 0.4, 30), (0.003, 17, 0.0025, 60),
                               (0.2, 128, 0.15, 40)])
def test_hard_swish_8bit(dtype, q):
    model = unary_model("HARD_SWISH", SHAPE, dtype, q8(dtype, q[0], q[1]), q8(dtype, q[2], q[3]))
    check_against_litert(model, inputs=[ramp(dtype)])


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.float32])
@pytest.mark.parametrize("alpha", [0.1, 0.3, -0.5, 1.7])
@pytest.mark.parametrize("q", RELU_Q[:3])
def test_leaky_relu(dtype, alpha, q):
    if dtype == np.float32:
        model = unary_model("LEAKY_RELU", SHAPE, dtype, alpha=alpha)
    else:
        model = unary_model("LEAKY_RELU", SHAPE, dtype, q8(dtype, q[0], q[1]),
                            q8(dtype, q[2], q[3]), alpha=alpha)
    check_against_litert(model, inputs=[ramp(dtype)])


@pytest.mark.parametrize("alpha", [0.2, -0.7])
def test_leaky_relu_int16(alpha):
    model = unary_model("LEAKY_RELU", SHAPE, np.int16, (0.001, 0), (0.0015, 0), alpha=alpha)
    check_against_litert(model, inputs=[ramp(np.int16)])


@pytest.mark.parametrize("q", [(0.05, 128, 0.05, 128), (0.1, 200, 0.03, 250),
                               (0.02, 60, 0.01, 200)])
def test_elu_int8(q):
    dtype = np.int8
    model = unary_model("ELU", SHAPE, dtype, q8(dtype, q[0], q[1]), q8(dtype, q[2], q[3]))
    check_elu(model, [ramp(dtype)])


# alpha shapes broadcast against the input (1, 4, 5, 6): per channel, per (W, C), full,
# shared scalar.
PRELU_ALPHA_SHAPES = [(6,), (1, 1, 6), (5, 6), (1, 4, 5, 6), (1,), (4, 1, 1)]


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.float32])
@pytest.mark.parametrize("alpha_shape", PRELU_ALPHA_SHAPES)
@pytest.mark.parametrize("qi", range(3))
def test_prelu(dtype, alpha_shape, qi):
    shape = (1, 4, 5, 6)
    rng = np.random.default_rng(qi)
    b = ModelBuilder()
    if dtype == np.float32:
        x = b.add_input(shape, dtype)
        alpha = b.add_constant(rng.uniform(-1, 1, alpha_shape).astype(np.float32))
        y = b.add_tensor(shape, dtype)
    else:
        lo = int(np.iinfo(dtype).min)
        qs = [(0.05, 128, 0.01, 128, 0.04, 128), (0.1, 10, 0.003, 250, 0.07, 200),
              (0.02, 255, 0.02, 0, 0.015, 30)][qi]
        x = b.add_input(shape, dtype, scale=qs[0], zero_point=lo + qs[1])
        alpha = b.add_constant(rng.integers(lo, lo + 256, alpha_shape).astype(dtype),
                               scale=qs[2], zero_point=lo + qs[3])
        y = b.add_tensor(shape, dtype, scale=qs[4], zero_point=lo + qs[5])
    b.add_op("PRELU", [x, alpha], [y])
    b.mark_output(y)
    check_against_litert(b.build(), seed=qi)


def test_mobilenet_v3_uint8_model():
    """The real model (19 HARD_SWISH, 18 MUL, 15 ADD in uint8, with the conv and pool
    kernels) end to end, bit-exact against BUILTIN_REF."""
    model = shared_model("mobilenet_v3_small_224_1.0_uint8.tflite")
    check_against_litert(model.read_bytes(), seed=0)


@pytest.mark.parametrize("name", [
    "espcn_x2_quant.tflite",    # int8 TANH
    "face_landmark.tflite",     # float PRELU with per-channel alpha
])
def test_real_models(name):
    check_against_litert(shared_model(name).read_bytes(), seed=0)


@pytest.mark.parametrize("opname", ["RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LOGISTIC",
                                    "TANH", "HARD_SWISH", "LEAKY_RELU"])
def test_float_nonfinite(opname):
    x = [np.array([np.nan, np.inf, -np.inf, 3e38, -3e38, 0.0, -0.0, 1.0], np.float32)]
    options = dict(alpha=0.2) if opname == "LEAKY_RELU" else {}
    model = unary_model(opname, (8,), np.float32, **options)
    np.testing.assert_array_equal(run_qrun(model, x)[0], run_litert(model, x)[0])


@pytest.mark.parametrize("approximate", [False, True])
@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.float32])
@pytest.mark.parametrize("q", [(0.05, 128, 0.04, 20), (0.02, 60, 0.01, 30),
                               (0.1, 200, 0.05, 5)])
def test_gelu(approximate, dtype, q):
    if dtype == np.float32:
        model = unary_model("GELU", SHAPE, dtype, approximate=approximate)
    else:
        model = unary_model("GELU", SHAPE, dtype, q8(dtype, q[0], q[1]), q8(dtype, q[2], q[3]),
                            approximate=approximate)
    check_against_litert(model, inputs=[ramp(dtype)])
