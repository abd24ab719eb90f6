"""FULLY_CONNECTED against LiteRT BUILTIN_REF: schemes, input ranks and batches, keep_num_dims,
activations, bias present or not, zero points, weights computed at run time, hybrid."""
from __future__ import annotations

import numpy as np
import pytest

from qrun.modelbuilder import ModelBuilder
from tests.oracle import check_against_litert
from tests.ops.conv_util import ACTIVATIONS, ConvModel, check_exact

SCHEMES = ("int8", "int8pc", "uint8", "int16", "int16b32", "float32")

# (input shape, units)
SHAPES = [((1, 8), 4), ((2, 5), 3), ((3, 2, 7), 9), ((2, 3, 4, 6), 1), ((1, 33), 17),
          ((4, 1), 2), ((5, 64), 48)]


def fc_model(scheme, shape, units, activation, seed, keep_num_dims=False, bias=True,
             in_zp=None, out_zp=None, asymmetric=False):
    depth = shape[-1]
    m = ConvModel(scheme, seed, in_zero_point=in_zp)
    x = m.input(shape)
    w = m.weights((units, depth), axis=0)
    b = m.bias(units)
    n = 1
    for d in shape[:-1]:
        n *= d
    out_shape = tuple(shape[:-1]) + (units,) if keep_num_dims else (n, units)
    y = m.output(out_shape, depth, out_zero_point=out_zp)
    return m.build("FULLY_CONNECTED", [x, w, b if bias else -1], y,
                   fused_activation_function=activation, keep_num_dims=keep_num_dims,
                   asymmetric_quantize_inputs=asymmetric)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("s", range(len(SHAPES)))
@pytest.mark.parametrize("keep_num_dims", [False, True])
def test_fully_connected_shapes(scheme, s, keep_num_dims):
    shape, units = SHAPES[s]
    check_exact(fc_model(scheme, shape, units, "NONE", s, keep_num_dims), seed=s)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("bias", [True, False])
def test_fully_connected_activation_bias(scheme, activation, bias):
    model = fc_model(scheme, (3, 10), 6, activation, seed=4, bias=bias)
    check_exact(model, seed=9)


@pytest.mark.parametrize("scheme,in_zp,out_zp", [
    ("int8", -128, 127), ("int8pc", 127, -128), ("uint8", 0, 255), ("uint8", 255, 0),
    ("uint8", 128, 128)])
def test_fully_connected_zero_points(scheme, in_zp, out_zp):
    model = fc_model(scheme, (2, 12), 5, "RELU", seed=2, in_zp=in_zp, out_zp=out_zp)
    check_exact(model, seed=3)


@pytest.mark.parametrize("scheme", ("hybrid", "hybridpc"))
@pytest.mark.parametrize("asymmetric", [False, True])
@pytest.mark.parametrize("s", range(len(SHAPES)))
def test_fully_connected_hybrid(scheme, asymmetric, s):
    shape, units = SHAPES[s]
    model = fc_model(scheme, shape, units, "NONE", s, keep_num_dims=s % 2 == 0,
                     asymmetric=asymmetric)
    check_exact(model, seed=s)


@pytest.mark.parametrize("activation", ACTIVATIONS + ("TANH",))
@pytest.mark.parametrize("bias", [True, False])
def test_fully_connected_hybrid_activation(activation, bias):
    model = fc_model("hybridpc", (3, 10), 6, activation, seed=4, bias=bias, asymmetric=True)
    if activation == "TANH":
        # TFLite's float tanh is not numpy's: equal within 1e-5, not to the last bit.
        check_against_litert(model, seed=9)
    else:
        check_exact(model, seed=9)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.float32])
def test_fully_connected_weights_as_input(dtype):
    # Weights computed by the graph (here: a model input) rather than constant.
    b = ModelBuilder()
    q = {} if dtype == np.float32 else dict(scale=0.02, zero_point=3)
    x = b.add_input([3, 12], dtype, **q)
    w = b.add_input([5, 12], dtype, **({} if dtype == np.float32 else
                                       dict(scale=0.01, zero_point=0 if dtype == np.int8 else 7)))
    y = b.add_tensor([3, 5], dtype, **({} if dtype == np.float32 else
                                       dict(scale=0.02 * 0.01 * 5500 * np.sqrt(12) / 60,
                                            zero_point=-4 if dtype == np.int8 else 120)))
    b.add_op("FULLY_CONNECTED", [x, w, -1], [y], fused_activation_function="NONE")
    b.mark_output(y)
    check_exact(b.build(), seed=1)
