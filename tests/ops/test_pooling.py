"""AVERAGE_POOL_2D, MAX_POOL_2D, L2_POOL_2D against LiteRT BUILTIN_REF."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from qrun.interpreter.kernels.common import out_size
from qrun.modelbuilder import ModelBuilder
from tests.oracle import check_against_litert

# dtype -> (scale, zero points to try)
QUANT = {
    np.int8: (0.05, (-128, 127, 3)),
    np.uint8: (0.05, (0, 255, 128)),
    np.int16: (0.002, (0,)),
    np.float32: (None, (None,)),
}
ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
# (filter h, filter w, stride h, stride w)
WINDOWS = [(2, 2, 2, 2), (3, 3, 1, 1), (3, 2, 2, 1), (1, 1, 1, 1), (3, 3, 3, 3), (4, 5, 2, 3)]
SHAPES = [(1, 7, 9, 3), (2, 8, 8, 5)]


def pool_model(opname, shape, dtype, window, padding, activation="NONE", zero_point=None):
    fh, fw, sh, sw = window
    scale = QUANT[dtype][0]
    n, h, w, c = shape
    pad = 0 if padding == "SAME" else 1
    out_shape = (n, out_size(pad, h, fh, sh), out_size(pad, w, fw, sw), c)
    b = ModelBuilder()
    x = b.add_input(shape, dtype, scale=scale, zero_point=zero_point)
    y = b.add_tensor(out_shape, dtype, scale=scale, zero_point=zero_point)
    b.add_op(opname, [x], [y], padding=padding, stride_h=sh, stride_w=sw, filter_height=fh,
             filter_width=fw, fused_activation_function=activation)
    b.mark_output(y)
    return b.build()


@pytest.mark.parametrize("opname", ["AVERAGE_POOL_2D", "MAX_POOL_2D"])
@pytest.mark.parametrize("dtype", list(QUANT))
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("shape", SHAPES)
def test_pool_windows(opname, dtype, padding, window, shape):
    zp = QUANT[dtype][1][0]
    check_against_litert(pool_model(opname, shape, dtype, window, padding, zero_point=zp),
                         seed=hash((window, shape)) % 1000)


@pytest.mark.parametrize("opname", ["AVERAGE_POOL_2D", "MAX_POOL_2D"])
@pytest.mark.parametrize("dtype,zero_point", [(d, z) for d, (_, zs) in QUANT.items() for z in zs])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_pool_activations_and_zero_points(opname, dtype, zero_point, activation):
    for i, padding in enumerate(("SAME", "VALID")):
        model = pool_model(opname, (2, 6, 5, 7), dtype, (3, 3, 2, 2), padding, activation,
                           zero_point)
        check_against_litert(model, seed=i)


def test_average_pool_global():
    """MobileNet's final pool: the window is the whole image."""
    check_against_litert(pool_model("AVERAGE_POOL_2D", (1, 7, 7, 33), np.uint8, (7, 7, 2, 2),
                                    "VALID", zero_point=0))


def test_average_pool_rounding_ties():
    """Averages landing exactly on .5 round away from zero, for both signs."""
    shape = (1, 2, 2, 4)
    x = np.array([[[[-1, 1, -3, 3], [0, 0, 0, 0]], [[0, 0, 0, 0], [1, -1, 1, -1]]]], np.int8)
    check_against_litert(pool_model("AVERAGE_POOL_2D", shape, np.int8, (2, 2, 1, 1), "SAME",
                                    zero_point=0), inputs=[x])


@pytest.mark.parametrize("padding,window,activation", list(itertools.product(
    ["SAME", "VALID"], WINDOWS[:4], ["NONE", "RELU6"])))
def test_l2_pool(padding, window, activation):
    check_against_litert(pool_model("L2_POOL_2D", (2, 7, 6, 3), np.float32, window, padding,
                                    activation))
