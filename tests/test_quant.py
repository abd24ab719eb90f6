"""TFLite's fixed-point helpers: vectorized forms against a line-by-line scalar transcription
of the C code, and hand-derived values."""
from __future__ import annotations

import numpy as np
import pytest

from qrun.interpreter import quant

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def c_div(a, b):
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def srdhm_scalar(a, b):
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else (1 - (1 << 30))
    return c_div(ab + nudge, 1 << 31)


def rdbp_scalar(x, e):
    mask = (1 << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if remainder > threshold else 0)


def mbqm_scalar(x, m, shift):
    left, right = max(shift, 0), max(-shift, 0)
    return rdbp_scalar(srdhm_scalar(x * (1 << left), m), right)


@pytest.mark.parametrize("m,expected", [
    (0.0, (0, 0)), (0.5, (1 << 30, 0)), (1.0, (1 << 30, 1)), (0.75, (1610612736, 0)),
    (0.25, (1 << 30, -1)), (3.0, (1610612736, 2)), (2.0 ** -40, (0, 0)),
    # q * 2^31 rounds up to 2^31: the multiplier halves and the shift grows.
    (1.0 - 2.0 ** -33, (1 << 30, 1)),
])
def test_quantize_multiplier_hand_values(m, expected):
    assert quant.quantize_multiplier(m) == expected


def test_hand_derived_products():
    half = 1 << 30
    assert int(quant.multiply_by_quantized_multiplier(100, half, 0)) == 50
    assert int(quant.multiply_by_quantized_multiplier(3, half, 0)) == 2      # 1.5 -> 2
    assert int(quant.multiply_by_quantized_multiplier(-3, half, 0)) == -1    # nudge ties toward +inf
    assert int(quant.multiply_by_quantized_multiplier(1000, half, -2)) == 125
    assert int(quant.multiply_by_quantized_multiplier(1001, half, -3)) == 63  # 62.5625 -> 63
    assert int(quant.saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MIN)) == INT32_MAX


@pytest.mark.parametrize("seed", range(5))
def test_vectorized_matches_scalar_transcription(seed):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.integers(-(1 << 20), 1 << 20, 300),
                        rng.integers(INT32_MIN, INT32_MAX, 100), [0, 1, -1, INT32_MIN, INT32_MAX]])
    for real in (0.0003, 0.17, 0.5, 0.9999, 1.7, 5.5):
        m, shift = quant.quantize_multiplier(real)
        small = np.abs(x) < (1 << 20)   # left shifts stay inside int32 in real kernels
        xs = x[small] if shift > 0 else x
        got = quant.multiply_by_quantized_multiplier(xs, m, shift)
        want = [mbqm_scalar(int(v), m, shift) for v in xs]
        assert got.tolist() == want


def test_activation_ranges():
    assert quant.activation_range_quantized(0, 0.1, 5, np.int8) == (-128, 127)
    assert quant.activation_range_quantized(1, 0.1, 5, np.int8) == (5, 127)
    assert quant.activation_range_quantized(3, 0.1, -128, np.int8) == (-128, -68)
    assert quant.activation_range_quantized(2, 0.5, 0, np.uint8) == (0, 2)
    assert quant.activation_range_quantized(3, 0.01, 0, np.uint8) == (0, 255)
