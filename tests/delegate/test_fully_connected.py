"""FULLY_CONNECTED in the C delegate (GEMM) vs BUILTIN_REF."""
from __future__ import annotations

import numpy as np
import pytest

from tests.delegate.util import check_delegate
from tests.ops.conv_util import ACTIVATIONS, ConvModel

SCHEMES = ("int8", "int8pc", "uint8")

# (input shape, units, keep_num_dims)
GEOMETRIES = [
    ((1, 16), 10, False),
    ((2, 33), 7, False),           # batch 2, odd K and N
    ((5, 64), 17, False),          # rows not a multiple of the row tile
    ((1, 3, 3, 8), 9, False),      # flattened 4-D input
    ((2, 3, 5), 11, True),         # keep_num_dims
    ((4, 1), 1, False),
    ((3, 100), 40, False),
    ((7, 13), 50, False),          # K % 4 == 1, a 64-wide channel block with a tail
    ((13, 258), 97, False),        # K % 4 == 2, 16-wide blocks, rows past two row tiles
    ((1, 1280), 1001, False),      # a classifier head: long K, many channel blocks
    ((11, 515), 144, False),       # 48-wide blocks, K % 8 == 3
    ((9, 200), 2, False),          # K-major (N <= 8): K tails past 64, rows past MR
    ((1, 77), 3, False),           # K-major, one row, K under 2 x 64
    ((15, 256), 5, False),         # K-major, 2 row groups, whole 64-byte K steps
    ((8, 1000), 8, False),         # K-major, 3-row groups overlapping at the tile's end
]


def fc_model(scheme, geometry, activation, seed, bias=True, in_zp=None, out_zp=None):
    shape, n, keep = geometry
    k = shape[-1]
    m = ConvModel(scheme, seed, in_zero_point=in_zp)
    x = m.input(shape)
    w = m.weights((n, k), axis=0)
    inputs = [x, w, m.bias(n) if bias else -1]
    rows = int(np.prod(shape)) // k
    out_shape = tuple(shape[:-1]) + (n,) if keep else (rows, n)
    y = m.output(out_shape, k, out_zero_point=out_zp)
    return m.build("FULLY_CONNECTED", inputs, y, fused_activation_function=activation,
                   keep_num_dims=keep)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("g", range(len(GEOMETRIES)))
def test_fc_geometry(scheme, g):
    check_delegate(fc_model(scheme, GEOMETRIES[g], ACTIVATIONS[g % 4], seed=g), seed=g)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_fc_activation(scheme, activation):
    check_delegate(fc_model(scheme, GEOMETRIES[1], activation, seed=3), seed=5)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_fc_without_bias(scheme):
    check_delegate(fc_model(scheme, GEOMETRIES[2], "NONE", seed=4, bias=False), seed=6)


@pytest.mark.parametrize("scheme,in_zp,out_zp", [
    ("int8", -128, 127), ("int8", 127, -128), ("int8pc", -128, -128), ("int8pc", 127, 127),
    ("uint8", 0, 255), ("uint8", 255, 0), ("uint8", 0, 0), ("uint8", 255, 255)])
def test_fc_extreme_zero_points(scheme, in_zp, out_zp):
    check_delegate(fc_model(scheme, GEOMETRIES[2], "NONE", seed=7, in_zp=in_zp, out_zp=out_zp),
                   seed=11)
