"""Binary elementwise ops against LiteRT BUILTIN_REF, over grids of shapes, dtypes and
quantization parameters."""
from __future__ import annotations

import numpy as np
import pytest

from qrun.modelbuilder import ModelBuilder
from tests.oracle import check_against_litert, run_litert, run_qrun, shared_model

# (shape1, shape2): same shapes, odd sizes, batch 2, scalar and channel broadcast, 5-D/6-D.
SHAPES = [
    ((1, 5, 7, 3), (1, 5, 7, 3)),
    ((2, 3, 4, 5), (5,)),
    ((2, 1, 4, 1), (1, 3, 1, 7)),
    ((3, 7), ()),
    ((), (4, 3)),
    ((2, 3, 1, 4, 5), (1, 3, 2, 1, 5)),
    ((2, 1, 3, 2, 1, 3), (1, 2, 1, 2, 3, 1)),
]
# (scale1, zp1, scale2, zp2, scale_out, zp_out) for 8-bit types; zero points given as
# offsets from the type's minimum, so extremes are reachable for int8 and uint8 alike.
QPARAMS = [
    (0.05, 128, 0.05, 128, 0.1, 128),
    (0.0407254, 126, 0.0412456, 127, 0.0583774, 125),
    (0.5, 0, 0.002, 255, 0.3, 10),
    (0.01, 255, 0.7, 3, 0.02, 250),
    (1.0, 128, 1.0, 128, 0.0078125, 0),
]
ACTIVATIONS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]


def binary_model(opname, shape1, shape2, dtype, q1=None, q2=None, qout=None, const2=None,
                 out_dtype=None, **options):
    b = ModelBuilder()
    kw = lambda q: {} if q is None else dict(scale=q[0], zero_point=q[1])  # noqa: E731
    x = b.add_input(shape1, dtype, **kw(q1))
    if const2 is None:
        y = b.add_input(shape2, dtype, **kw(q2))
    else:
        y = b.add_constant(np.asarray(const2, dtype).reshape(shape2), **kw(q2))
    out_shape = np.broadcast_shapes(tuple(shape1), tuple(shape2))
    z = b.add_tensor(out_shape, out_dtype or dtype, **kw(qout))
    b.add_op(opname, [x, y], [z], **options)
    b.mark_output(z)
    return b.build()


def _q8(dtype, p):
    base = int(np.iinfo(dtype).min)
    return ((p[0], base + p[1]), (p[2], base + p[3]), (p[4], base + p[5]))


@pytest.mark.parametrize("opname", ["ADD", "SUB", "MUL"])
@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("qi", range(len(QPARAMS)))
def test_arith_8bit(opname, dtype, shapes, qi):
    q1, q2, qo = _q8(dtype, QPARAMS[qi])
    act = ACTIVATIONS[(qi + len(shapes[0])) % len(ACTIVATIONS)]
    model = binary_model(opname, *shapes, dtype, q1, q2, qo, fused_activation_function=act)
    check_against_litert(model, seed=qi)


@pytest.mark.parametrize("opname", ["ADD", "SUB", "MUL"])
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_arith_8bit_activations_constant_operand(opname, act, dtype):
    q1, q2, qo = _q8(dtype, QPARAMS[1])
    const = np.random.default_rng(3).integers(0, 100, size=(1, 1, 6)) + int(np.iinfo(dtype).min)
    model = binary_model(opname, (2, 3, 6), (1, 1, 6), dtype, q1, q2, qo, const2=const,
                         fused_activation_function=act)
    check_against_litert(model, seed=1)


INT16_QPARAMS = [
    (0.001, 0.002, 0.003),          # general scales
    (2.0 ** -10, 2.0 ** -12, 2.0 ** -10),  # powers of two: the POT path when enabled
    (2.0 ** -8, 2.0 ** -8, 2.0 ** -8),
    (0.5, 0.25, 0.0001),
]


@pytest.mark.parametrize("opname", ["ADD", "SUB", "MUL"])
@pytest.mark.parametrize("pot", [True, False])
@pytest.mark.parametrize("qi", range(len(INT16_QPARAMS)))
@pytest.mark.parametrize("act", ["NONE", "RELU"])
def test_arith_int16(opname, pot, qi, act):
    s1, s2, so = INT16_QPARAMS[qi]
    options = dict(fused_activation_function=act)
    if opname != "MUL":
        options["pot_scale_int16"] = pot
    model = binary_model(opname, (2, 5, 7), (2, 5, 7), np.int16, (s1, 0), (s2, 0), (so, 0),
                         **options)
    check_against_litert(model, seed=qi)


@pytest.mark.parametrize("out_dtype,zp", [(np.int8, -128), (np.int8, 5), (np.uint8, 0),
                                          (np.uint8, 128)])
@pytest.mark.parametrize("act", ["NONE", "RELU"])
def test_mul_int16_to_8bit(out_dtype, zp, act):
    model = binary_model("MUL", (2, 5, 7), (2, 5, 7), np.int16, (2.0 ** -15, 0),
                         (2.0 ** -15, 0), (1.0 / 128, zp), out_dtype=out_dtype,
                         fused_activation_function=act)
    check_against_litert(model, seed=6)


@pytest.mark.parametrize("opname", ["ADD", "SUB", "MUL"])
@pytest.mark.parametrize("zps", [(5, 0, 0), (0, -300, 0), (0, 0, -20)])
def test_int16_zero_points_rejected(opname, zps):
    """Quantized int16 arithmetic is symmetric: LiteRT and qrun both refuse zero points."""
    model = binary_model(opname, (2, 3, 4), (4,), np.int16, (0.001, zps[0]), (0.002, zps[1]),
                         (0.003, zps[2]))
    x = [np.zeros((2, 3, 4), np.int16), np.zeros(4, np.int16)]
    with pytest.raises(RuntimeError, match="zero_point|offset"):
        run_litert(model, x)
    with pytest.raises(RuntimeError, match="zero point"):
        run_qrun(model, x)


@pytest.mark.parametrize("opname", ["ADD", "SUB", "MUL"])
@pytest.mark.parametrize("shapes", SHAPES[:4])
def test_arith_int16_broadcast_general(opname, shapes):
    options = {} if opname == "MUL" else dict(pot_scale_int16=False)
    model = binary_model(opname, *shapes, np.int16, (0.001, 0), (0.003, 0), (0.002, 0),
                         **options)
    check_against_litert(model, seed=4)


@pytest.mark.parametrize("opname", ["ADD", "SUB", "MUL"])
@pytest.mark.parametrize("dtype,act", [(np.float32, a) for a in ACTIVATIONS]
                         + [(np.int32, a) for a in ACTIVATIONS] + [(np.int64, "NONE")])
@pytest.mark.parametrize("shapes", SHAPES)
def test_arith_plain(opname, dtype, shapes, act):
    model = binary_model(opname, *shapes, dtype, fused_activation_function=act)
    check_against_litert(model, seed=len(shapes[0]))


def test_simple_add_model():
    check_against_litert(shared_model("simple_add_model_int8.tflite").read_bytes(), seed=0)


# -- group 2 ---------------------------------------------------------------------------------

def _nonzero(x, zero):
    x = np.array(x)
    x[x == zero] = zero + 1 if zero < np.iinfo(x.dtype).max else zero - 1
    return x


DIV_SHAPES = [((1, 5, 7, 3), (1, 5, 7, 3)), ((2, 3, 4, 5), (5,)), ((3, 7), ()),
              ((2, 1, 4, 1), (1, 3, 1, 7))]


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("shapes", DIV_SHAPES)
@pytest.mark.parametrize("q", [(0.05, 128, 0.05, 128, 0.1, 128), (0.1, 3, 0.02, 250, 0.5, 10),
                               (0.01, 255, 0.3, 0, 0.002, 128), (0.5, 100, 0.01, 140, 3.0, 0)])
@pytest.mark.parametrize("act", ["NONE", "RELU6"])
def test_div_quantized(dtype, shapes, q, act):
    q1, q2, qo = _q8(dtype, q)
    model = binary_model("DIV", *shapes, dtype, q1, q2, qo, fused_activation_function=act)
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max + 1, shapes[0]).astype(dtype)
    y = _nonzero(rng.integers(info.min, info.max + 1, shapes[1]).astype(dtype), q2[1])
    check_against_litert(model, inputs=[x, y])


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
@pytest.mark.parametrize("shapes", DIV_SHAPES)
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_div_plain(dtype, shapes, act):
    model = binary_model("DIV", *shapes, dtype, fused_activation_function=act)
    rng = np.random.default_rng(1)
    if dtype == np.int32:
        x = rng.integers(-1000, 1000, shapes[0]).astype(dtype)
        y = _nonzero(rng.integers(-30, 30, shapes[1]).astype(dtype), 0)
    else:
        x = rng.uniform(-5, 5, shapes[0]).astype(dtype)
        y = rng.uniform(-2, 2, shapes[1]).astype(dtype)
        y.reshape(-1)[:1] = 0.0   # division by zero: inf clamped to the float range
    check_against_litert(model, inputs=[x, y])


@pytest.mark.parametrize("shapes", DIV_SHAPES)
@pytest.mark.parametrize("q", [(0.05, 128, 0.05, 128, 0.1, 0), (0.1, 3, 0.02, 250, 0.5, 10),
                               (0.01, 255, 0.3, 0, 2.0, 128)])
def test_squared_difference_int8(shapes, q):
    q1, q2, qo = _q8(np.int8, q)
    check_against_litert(binary_model("SQUARED_DIFFERENCE", *shapes, np.int8, q1, q2, qo),
                         seed=2)


@pytest.mark.parametrize("opname", ["SQUARED_DIFFERENCE", "FLOOR_DIV", "FLOOR_MOD"])
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
@pytest.mark.parametrize("shapes", DIV_SHAPES)
def test_floor_ops_and_squared_difference(opname, dtype, shapes):
    model = binary_model(opname, *shapes, dtype)
    rng = np.random.default_rng(2)
    if dtype == np.int32:
        x = rng.integers(-1000, 1000, shapes[0]).astype(dtype)
        y = _nonzero(rng.integers(-30, 30, shapes[1]).astype(dtype), 0)
    else:
        x = rng.uniform(-50, 50, shapes[0]).astype(dtype)
        y = rng.uniform(-7, 7, shapes[1]).astype(dtype)
    check_against_litert(model, inputs=[x, y])


@pytest.mark.parametrize("opname", ["FLOOR_DIV", "FLOOR_MOD"])
@pytest.mark.parametrize("dtype", [np.int8, np.int16])
def test_floor_ops_small_ints(opname, dtype):
    rng = np.random.default_rng(3)
    x = rng.integers(-100, 100, (2, 3, 5)).astype(dtype)
    y = _nonzero(rng.integers(-9, 9, (3, 5)).astype(dtype), 0)
    check_against_litert(binary_model(opname, (2, 3, 5), (3, 5), dtype), inputs=[x, y])


@pytest.mark.parametrize("opname", ["MAXIMUM", "MINIMUM"])
@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.uint8, np.int16, np.int32, np.int64])
@pytest.mark.parametrize("shapes", SHAPES[:5])
def test_maximum_minimum(opname, dtype, shapes):
    q = (0.1, 3) if dtype in (np.int8, np.uint8, np.int16) else None
    model = binary_model(opname, *shapes, dtype, q, q, q)
    check_against_litert(model, seed=5)


def test_maximum_minimum_nan():
    x = np.array([np.nan, 1.0, np.nan, -2.0], np.float32)
    y = np.array([0.0, np.nan, np.nan, 3.0], np.float32)
    for opname in ("MAXIMUM", "MINIMUM"):
        model = binary_model(opname, (4,), (4,), np.float32)
        np.testing.assert_array_equal(run_qrun(model, [x, y])[0], run_litert(model, [x, y])[0])


COMPARISONS = ["EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL"]


@pytest.mark.parametrize("opname", COMPARISONS)
@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("q", [(0.05, 128, 0.05, 128), (0.05, 120, 0.1, 190),
                               (0.3, 0, 0.02, 255), (0.0078125, 128, 0.015625, 192)])
@pytest.mark.parametrize("shapes", [((2, 3, 4, 5), (2, 3, 4, 5)), ((2, 3, 4, 5), (5,)),
                                    ((3, 1), (1, 4))])
def test_comparisons_quantized(opname, dtype, q, shapes):
    base = int(np.iinfo(dtype).min)
    model = binary_model(opname, *shapes, dtype, (q[0], base + q[1]), (q[2], base + q[3]),
                         out_dtype=np.bool_)
    rng = np.random.default_rng(6)
    # Narrow ranges around the zero points make equal real values frequent.
    x = (base + q[1] + rng.integers(-6, 7, shapes[0]) * round(q[2] / q[0] * 2)).clip(
        base, base + 255).astype(dtype)
    y = (base + q[3] + rng.integers(-6, 7, shapes[1]) * 2).clip(base, base + 255).astype(dtype)
    check_against_litert(model, inputs=[x, y])


@pytest.mark.parametrize("opname,dtype", [(o, d) for o in COMPARISONS
                                          for d in (np.float32, np.int16, np.int32, np.int64)
                                          if (o, d) != ("NOT_EQUAL", np.int16)])
def test_comparisons_plain(opname, dtype):
    model = binary_model(opname, (2, 3, 4), (3, 1), dtype, out_dtype=np.bool_)
    rng = np.random.default_rng(7)
    x = rng.integers(-3, 4, (2, 3, 4)).astype(dtype)
    y = rng.integers(-3, 4, (3, 1)).astype(dtype)
    check_against_litert(model, inputs=[x, y])


@pytest.mark.parametrize("opname", ["EQUAL", "NOT_EQUAL", "LOGICAL_AND", "LOGICAL_OR"])
def test_bool_binary(opname):
    check_against_litert(binary_model(opname, (2, 3, 4), (4,), np.bool_), seed=8)


def test_logical_not():
    b = ModelBuilder()
    x = b.add_input((3, 5), np.bool_)
    y = b.add_tensor((3, 5), np.bool_)
    b.add_op("LOGICAL_NOT", [x], [y])
    b.mark_output(y)
    check_against_litert(b.build(), seed=9)


def select_model(opname, cond_shape, shape, dtype, q=None, out_shape=None):
    b = ModelBuilder()
    kw = {} if q is None else dict(scale=q[0], zero_point=q[1])
    c = b.add_input(cond_shape, np.bool_)
    x = b.add_input(shape[0], dtype, **kw)
    y = b.add_input(shape[1], dtype, **kw)
    z = b.add_tensor(out_shape or shape[0], dtype, **kw)
    b.add_op(opname, [c, x, y], [z])
    b.mark_output(z)
    return b.build()


@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.uint8, np.int16, np.int32, np.int64,
                                   np.bool_])
@pytest.mark.parametrize("cond_shape", [(2, 3, 4), (2,)])
def test_select(dtype, cond_shape):
    q = (0.1, 2) if dtype in (np.int8, np.uint8) else None
    check_against_litert(select_model("SELECT", cond_shape, [(2, 3, 4)] * 2, dtype, q), seed=10)


@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.uint8, np.int16, np.int32, np.int64,
                                   np.bool_])
@pytest.mark.parametrize("cond_shape,shapes", [
    ((2, 3, 4), [(2, 3, 4), (2, 3, 4)]), ((4,), [(2, 3, 4), (3, 1)]), ((), [(5,), (2, 1)]),
    ((2, 1, 1, 3, 1), [(1, 2, 1, 1, 4), (2, 1, 3, 1, 1)])])
def test_select_v2(dtype, cond_shape, shapes):
    q = (0.1, 2) if dtype in (np.int8, np.uint8) else None
    out_shape = np.broadcast_shapes(cond_shape, *shapes)
    check_against_litert(select_model("SELECT_V2", cond_shape, shapes, dtype, q, out_shape),
                         seed=11)


NONFINITE = np.array([np.nan, np.inf, -np.inf, 3e38, -3e38, 0.0, -0.0, 1.0], np.float32)
NONFINITE_2 = np.array([1.0, np.inf, np.inf, 3e38, -3e38, np.nan, 0.0, -np.inf], np.float32)


@pytest.mark.parametrize("opname", ["ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM",
                                    "SQUARED_DIFFERENCE", "FLOOR_MOD"])
def test_float_nonfinite(opname):
    """inf results clamp to +-FLT_MAX, NaN passes through, as in the reference kernels."""
    model = binary_model(opname, (8,), (8,), np.float32)
    x = [NONFINITE, NONFINITE_2]
    np.testing.assert_array_equal(run_qrun(model, x)[0], run_litert(model, x)[0])


def test_floor_div_float_by_zero_rejected():
    model = binary_model("FLOOR_DIV", (2,), (2,), np.float32)
    x = [np.ones(2, np.float32), np.array([1.0, 0.0], np.float32)]
    with pytest.raises(RuntimeError, match="(?i)division by 0"):
        run_litert(model, x)
    with pytest.raises(ValueError, match="by zero"):
        run_qrun(model, x)


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
@pytest.mark.parametrize("shapes", DIV_SHAPES)
def test_pow(dtype, shapes):
    rng = np.random.default_rng(12)
    if dtype == np.int32:
        x = rng.integers(-20, 20, shapes[0]).astype(dtype)
        y = rng.integers(0, 8, shapes[1]).astype(dtype)
    else:
        x = rng.uniform(0, 4, shapes[0]).astype(dtype)
        y = rng.uniform(-3, 3, shapes[1]).astype(dtype)
    check_against_litert(binary_model("POW", *shapes, dtype), inputs=[x, y])


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
@pytest.mark.parametrize("n", [2, 3, 5])
def test_add_n(dtype, n):
    b = ModelBuilder()
    xs = [b.add_input((2, 3, 5), dtype) for _ in range(n)]
    y = b.add_tensor((2, 3, 5), dtype)
    b.add_op("ADD_N", xs, [y])
    b.mark_output(y)
    check_against_litert(b.build(), seed=n)
