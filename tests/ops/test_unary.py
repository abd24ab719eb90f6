"""Math unary ops against LiteRT BUILTIN_REF."""
from __future__ import annotations

import numpy as np
import pytest

from qrun.modelbuilder import ModelBuilder
from tests.oracle import assert_same, check_against_litert, run_litert, run_qrun

SHAPES = [(1, 5, 7, 3), (2, 9), (13,)]


def unary_model(opname, shape, in_dtype, out_dtype=None, qin=None, qout=None):
    b = ModelBuilder()
    kw = lambda q: {} if q is None else dict(scale=q[0], zero_point=q[1])  # noqa: E731
    x = b.add_input(shape, in_dtype, **kw(qin))
    y = b.add_tensor(shape, out_dtype or in_dtype, **kw(qout))
    b.add_op(opname, [x], [y])
    b.mark_output(y)
    return b.build()


def floats(shape, lo, hi, seed=0):
    x = np.random.default_rng(seed).uniform(lo, hi, shape).astype(np.float32)
    # Exact halves and integers exercise FLOOR/CEIL/ROUND ties.
    x.reshape(-1)[::4] = np.round(x.reshape(-1)[::4] * 2) / 2
    return x


FLOAT_OPS = [("ABS", -5, 5), ("NEG", -5, 5), ("SQUARE", -5, 5), ("SQRT", 0, 10),
             ("RSQRT", 0.3, 10), ("EXP", -10, 10), ("LOG", 0.3, 100), ("SIN", -10, 10),
             ("COS", -10, 10), ("FLOOR", -5, 5)]


@pytest.mark.parametrize("opname,lo,hi", FLOAT_OPS)
@pytest.mark.parametrize("shape", SHAPES)
def test_float(opname, lo, hi, shape):
    check_against_litert(unary_model(opname, shape, np.float32), inputs=[floats(shape, lo, hi)])


@pytest.mark.parametrize("opname", ["CEIL", "ROUND"])
@pytest.mark.parametrize("shape", SHAPES)
def test_ceil_round(opname, shape):
    """BUILTIN_REF has neither op; LiteRT's builtin kernels are the oracle."""
    model = unary_model(opname, shape, np.float32)
    x = [floats(shape, -5, 5)]
    assert_same(run_qrun(model, x),
                run_litert(model, x, resolver="BUILTIN_WITHOUT_DEFAULT_DELEGATES"))


@pytest.mark.parametrize("opname", ["ABS", "NEG"])
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_plain(opname, dtype):
    if (opname, dtype) == ("ABS", np.int64):
        dtype = np.int16     # ABS has no int64 kernel; int16 without quantization instead
    x = np.random.default_rng(1).integers(-1000, 1000, (3, 17)).astype(dtype)
    x.reshape(-1)[0] = np.iinfo(dtype).min + (opname == "NEG")
    check_against_litert(unary_model(opname, (3, 17), dtype), inputs=[x])


def int8_ramp(shape=(2, 128)):
    return np.random.default_rng(2).permutation(np.arange(-128, 128)).astype(np.int8).reshape(
        shape)


# (input scale, input zp, output scale, output zp)
ABS_Q = [(0.05, 0, 0.05, -128), (0.05, -10, 0.05, 3), (0.1, 20, 0.03, -100),
         (0.02, -128, 0.1, 0), (0.3, 127, 0.3, -128)]


@pytest.mark.parametrize("q", ABS_Q)
def test_abs_int8(q):
    model = unary_model("ABS", (2, 128), np.int8, qin=q[:2], qout=q[2:])
    check_against_litert(model, inputs=[int8_ramp()])


@pytest.mark.parametrize("scales", [(0.001, 0.001), (0.002, 0.0007)])
def test_abs_int16(scales):
    x = np.random.default_rng(3).integers(-32768, 32768, (4, 50)).astype(np.int16)
    model = unary_model("ABS", (4, 50), np.int16, qin=(scales[0], 0), qout=(scales[1], 0))
    check_against_litert(model, inputs=[x])


@pytest.mark.parametrize("q", [(0.05, -128, 0.02, -128), (0.1, -100, 0.05, 0),
                               (0.003, -128, 0.5, -120), (0.5, -20, 0.01, -128)])
def test_rsqrt_int8(q):
    x = np.arange(q[1], 128).astype(np.int8)   # only values at or above the zero point
    model = unary_model("RSQRT", x.shape, np.int8, qin=q[:2], qout=q[2:])
    check_against_litert(model, inputs=[x])


@pytest.mark.parametrize("q", [(0.05, 0, 0.5, -128), (0.02, -100, 0.1, -128),
                               (0.1, 30, 3.0, -128), (0.01, 0, 0.004, -128)])
def test_exp_int8(q):
    model = unary_model("EXP", (2, 128), np.int8, qin=q[:2], qout=q[2:])
    check_against_litert(model, inputs=[int8_ramp()])


@pytest.mark.parametrize("q", [(0.05, -128, 0.05, 0), (0.1, 0, 0.04, 20),
                               (0.5, -100, 0.03, -10)])
def test_log_int8(q):
    model = unary_model("LOG", (2, 128), np.int8, qin=q[:2], qout=q[2:])
    check_against_litert(model, inputs=[int8_ramp()])


CAST_PAIRS = [(np.float32, np.int32), (np.float32, np.uint8), (np.float32, np.int8),
              (np.float32, np.int16), (np.float32, np.int64), (np.float32, np.bool_),
              (np.int32, np.float32), (np.int32, np.int8), (np.int32, np.uint8),
              (np.int32, np.int64), (np.int32, np.bool_), (np.int8, np.int32),
              (np.uint8, np.float32), (np.uint8, np.int8), (np.int16, np.int32),
              (np.int64, np.int32), (np.int64, np.float32), (np.bool_, np.float32),
              (np.bool_, np.int32), (np.float32, np.float16), (np.float16, np.float32)]


@pytest.mark.parametrize("src,dst", CAST_PAIRS)
def test_cast(src, dst):
    shape = (3, 7)
    rng = np.random.default_rng(4)
    if src == np.bool_:
        x = rng.integers(0, 2, shape).astype(bool)
    elif np.dtype(src).kind == "f":
        lo = 0 if dst == np.uint8 else (-100 if np.dtype(dst).kind in "fib" else 0)
        x = rng.uniform(lo, 120, shape).astype(src)
        x.reshape(-1)[:2] = [0.0, -0.0] if lo < 0 else [0.0, 1.5]
    else:
        info = np.iinfo(src)
        x = rng.integers(max(info.min, -3000), min(info.max, 3000) + 1, shape).astype(src)
        x.reshape(-1)[0] = 0
    check_against_litert(unary_model("CAST", shape, src, dst), inputs=[x])


INT16_LUT_Q = [(0.001, 0.0005), (0.0003, 0.002), (0.0002, 0.0001), (1.0 / 4096, 1.0 / 1024)]


@pytest.mark.parametrize("opname", ["EXP", "LOG", "RSQRT"])
@pytest.mark.parametrize("q", INT16_LUT_Q)
def test_lut_ops_int16(opname, q):
    rng = np.random.default_rng(5)
    lo = 0 if opname == "RSQRT" else -32768
    x = np.concatenate([np.arange(lo, 32768, 97), rng.integers(lo, 32768, 400)])
    x[:3] = [lo, 32767, 0]
    model = unary_model(opname, x.shape, np.int16, qin=(q[0], 0), qout=(q[1], 0))
    check_against_litert(model, inputs=[x.astype(np.int16)])


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_sign(dtype):
    x = np.array([-3, -1, 0, 1, 7, -0.0, 2, 0], dtype)
    check_against_litert(unary_model("SIGN", x.shape, dtype), inputs=[x])
