"""BATCH_MATMUL against LiteRT BUILTIN_REF: float32, int8 (zero points on both sides) and
int16; adjoint options, broadcast batch dimensions, constant right-hand sides."""
from __future__ import annotations

import numpy as np
import pytest

from qrun.modelbuilder import ModelBuilder
from tests.ops.conv_util import check_exact

# (lhs shape, rhs shape, adj_x, adj_y), shapes as stored (before the adjoints)
CASES = [
    ((2, 3), (3, 4), False, False),
    ((1, 5, 7), (1, 7, 3), False, False),
    ((2, 4, 6), (2, 5, 6), False, True),
    ((3, 6, 4), (1, 6, 5), True, False),
    ((2, 1, 3, 8), (4, 8, 2), False, False),
    ((2, 3, 1, 5, 9), (1, 3, 4, 9, 2), False, False),
    ((1, 9, 33), (1, 17, 9), True, True),
]


def matmul_model(dtype, lhs_shape, rhs_shape, adj_x, adj_y, seed, const_rhs=False,
                 zero_points=None):
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    lhs_shape, rhs_shape = list(lhs_shape), list(rhs_shape)
    m = lhs_shape[-1] if adj_x else lhs_shape[-2]
    k = lhs_shape[-2] if adj_x else lhs_shape[-1]
    n = rhs_shape[-2] if adj_y else rhs_shape[-1]
    batch = np.broadcast_shapes(tuple(lhs_shape[:-2]), tuple(rhs_shape[:-2]))
    out_shape = list(batch) + [m, n]
    q = [{}, {}, {}]
    if dtype != np.float32:
        in_scale = [float(rng.uniform(0.01, 0.05)) for _ in range(2)]
        zps = zero_points or ([int(rng.integers(-128, 128)) for _ in range(3)]
                              if dtype == np.int8 else [0, 0, 0])
        bits = 74.0 if dtype == np.int8 else 600.0
        out_scale = in_scale[0] * in_scale[1] * bits * bits * np.sqrt(k) / (
            60.0 if dtype == np.int8 else 15000.0)
        q = [dict(scale=s, zero_point=z) for s, z in zip(in_scale + [out_scale], zps)]
    x = b.add_input(lhs_shape, dtype, **q[0])
    if const_rhs:
        info = np.iinfo(dtype) if dtype != np.float32 else None
        data = (rng.uniform(-1, 1, rhs_shape) if info is None
                else rng.integers(max(info.min, -1000), min(info.max, 1000) + 1, rhs_shape))
        y = b.add_constant(np.asarray(data).astype(dtype), **q[1])
    else:
        y = b.add_input(rhs_shape, dtype, **q[1])
    out = b.add_tensor(out_shape, dtype, **q[2])
    b.add_op("BATCH_MATMUL", [x, y], [out], adj_x=adj_x, adj_y=adj_y)
    b.mark_output(out)
    return b.build()


@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.int16])
@pytest.mark.parametrize("c", range(len(CASES)))
@pytest.mark.parametrize("const_rhs", [False, True])
def test_batch_matmul(dtype, c, const_rhs):
    check_exact(matmul_model(dtype, *CASES[c], seed=c, const_rhs=const_rhs), seed=c)


@pytest.mark.parametrize("zero_points", [[-128, 127, 0], [127, -128, -128], [0, 0, 127]])
def test_batch_matmul_zero_points(zero_points):
    model = matmul_model(np.int8, (2, 6, 10), (2, 10, 7), False, False, 3,
                         zero_points=zero_points)
    check_exact(model, seed=4)


def hybrid_matmul_model(lhs_shape, rhs_shape, adj_x, adj_y, asymmetric, seed):
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    m = lhs_shape[-1] if adj_x else lhs_shape[-2]
    n = rhs_shape[-2] if adj_y else rhs_shape[-1]
    batch = np.broadcast_shapes(tuple(lhs_shape[:-2]), tuple(rhs_shape[:-2]))
    x = b.add_input(list(lhs_shape), np.float32)
    y = b.add_constant(rng.integers(-127, 128, rhs_shape).astype(np.int8),
                       scale=float(rng.uniform(0.002, 0.02)), zero_point=0)
    out = b.add_tensor(list(batch) + [m, n], np.float32)
    b.add_op("BATCH_MATMUL", [x, y], [out], adj_x=adj_x, adj_y=adj_y,
             asymmetric_quantize_inputs=asymmetric)
    b.mark_output(out)
    return b.build()


@pytest.mark.parametrize("c", range(len(CASES)))
@pytest.mark.parametrize("asymmetric", [False, True])
def test_batch_matmul_hybrid(c, asymmetric):
    check_exact(hybrid_matmul_model(*CASES[c], asymmetric, seed=c), seed=c)
