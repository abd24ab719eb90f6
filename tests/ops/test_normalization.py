"""L2_NORMALIZATION and LOCAL_RESPONSE_NORMALIZATION against LiteRT BUILTIN_REF."""
from __future__ import annotations

import numpy as np
import pytest

from qrun.modelbuilder import ModelBuilder
from tests.oracle import check_against_litert

SHAPES = [(1, 10), (2, 3, 7), (2, 4, 3, 33), (5,), (1, 1, 1, 1)]


def l2_model(shape, dtype, qin=(None, None)):
    out_q = {np.int8: (1 / 128, 0), np.uint8: (1 / 128, 128)}.get(dtype, (None, None))
    b = ModelBuilder()
    x = b.add_input(shape, dtype, scale=qin[0], zero_point=qin[1])
    y = b.add_tensor(shape, dtype, scale=out_q[0], zero_point=out_q[1])
    b.add_op("L2_NORMALIZATION", [x], [y], fused_activation_function="NONE")
    b.mark_output(y)
    return b.build()


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype,zero_points", [(np.int8, (-128, 0, 5, 127)),
                                               (np.uint8, (0, 128, 255))])
def test_l2_normalization_quantized(shape, dtype, zero_points):
    for k, zp in enumerate(zero_points):
        check_against_litert(l2_model(shape, dtype, (0.05, zp)), seed=k)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_l2_normalization_extremes(dtype):
    """Rows of all-zero point (sum of squares 0), a single 1, and the largest sums."""
    lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
    zp = 0 if dtype == np.int8 else 128
    x = np.array([[zp] * 64, [zp + 1] + [zp] * 63, [lo] * 64, [hi] * 64,
                  [lo, hi] * 32], dtype)
    check_against_litert(l2_model(x.shape, dtype, (0.05, zp)), inputs=[x])
    rng = np.random.default_rng(3)
    wide = rng.integers(lo, hi + 1, size=(3, 40000)).astype(dtype)
    check_against_litert(l2_model(wide.shape, dtype, (0.05, zp)), inputs=[wide])


@pytest.mark.parametrize("shape", SHAPES)
def test_l2_normalization_float(shape):
    check_against_litert(l2_model(shape, np.float32))


@pytest.mark.parametrize("radius", [0, 1, 2, 5])
@pytest.mark.parametrize("bias,alpha,beta", [(1.0, 1.0, 0.5), (2.0, 1e-4, 0.75), (0.5, 0.3, 1.3)])
@pytest.mark.parametrize("shape", [(1, 3, 4, 9), (2, 2, 2, 3)])
def test_local_response_normalization(radius, bias, alpha, beta, shape):
    b = ModelBuilder()
    x = b.add_input(shape, np.float32)
    y = b.add_tensor(shape, np.float32)
    b.add_op("LOCAL_RESPONSE_NORMALIZATION", [x], [y], radius=radius, bias=bias, alpha=alpha,
             beta=beta)
    b.mark_output(y)
    check_against_litert(b.build())
