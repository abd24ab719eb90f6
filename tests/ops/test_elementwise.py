"""Binary elementwise ops against LiteRT BUILTIN_REF, over grids of shapes, dtypes and
quantization parameters."""
from __future__ import annotations

import numpy as np
import pytest

from qrun.modelbuilder import ModelBuilder
from tests.oracle import check_against_litert, shared_model

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
