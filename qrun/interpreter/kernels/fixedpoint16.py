"""gemmlowp's 16-bit fixed-point logistic and tanh, as TFLite's LSTM tensor_utils use them.

gemmlowp evaluates them on int16 FixedPoint values with wrapping int16 adds, saturating
rounding doubling multiplies and constants rounded from their int32 forms. Here the same
steps run once over all 65536 int16 inputs (int64 arrays, wrapped to int16 after each
step), and the results are kept as lookup tables.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..quant import rounding_divide_by_pot

_ALL_INT16 = np.arange(-32768, 32768, dtype=np.int64)
_ONE_F0 = 32767


def wrap16(x) -> np.ndarray:
    """static_cast<int16_t>: two's-complement wrap."""
    return ((np.asarray(x, np.int64) + 32768) & 0xFFFF) - 32768


def _const(raw_int32: int) -> int:
    """RescaleConstantInitializer: an int32 fixed-point constant rounded to 16 bits."""
    return int(rounding_divide_by_pot(np.int64(raw_int32), 16))


def _mul(a, b) -> np.ndarray:
    """SaturatingRoundingDoublingHighMul on int16."""
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    s = ab + nudge
    high = np.where(s >= 0, s >> 15, -((-s) >> 15))
    return np.where((a == -32768) & (b == -32768), 32767, wrap16(high))


def _mul_pot(x, exponent: int) -> np.ndarray:
    """SaturatingRoundingMultiplyByPOT<exponent> on int16."""
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    if exponent == 0:
        return x
    threshold = (1 << (15 - exponent)) - 1
    return np.where(x > threshold, 32767,
                    np.where(x < -threshold, -32768, wrap16(x << exponent)))


def _exp_on_interval_between_negative_one_quarter_and_0_excl(a) -> np.ndarray:
    constant_term = _const(1895147668)
    one_third = _const(715827883)
    x = wrap16(a + (1 << 12))
    x2 = _mul(x, x)
    x3 = _mul(x2, x)
    x4 = _mul(x2, x2)
    x4_over_4 = _mul_pot(x4, -2)
    poly = _mul_pot(wrap16(_mul(wrap16(x4_over_4 + x3), one_third) + x2), -1)
    return np.clip(constant_term + _mul(constant_term, wrap16(x + poly)), -32768, 32767)


def _exp_on_negative_values(a, integer_bits: int) -> np.ndarray:
    frac = 15 - integer_bits
    quarter = 1 << (frac - 2)
    a_mod_quarter_minus_quarter = wrap16((a & (quarter - 1)) - quarter)
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(
        _mul_pot(a_mod_quarter_minus_quarter, integer_bits))
    remainder = wrap16(a_mod_quarter_minus_quarter - a)
    for exponent, multiplier in ((-2, 1672461947), (-1, 1302514674), (0, 790015084),
                                 (1, 290630308), (2, 39332535), (3, 720401), (4, 242)):
        if integer_bits > exponent:
            bit = remainder & (1 << (frac + exponent))
            result = np.where(bit != 0, _mul(result, _const(multiplier)), result)
    if integer_bits > 5:
        clamp = _const(-(1 << (36 - integer_bits)))
        result = np.where(a < clamp, 0, result)
    return np.where(a == 0, _ONE_F0, result)


def _newton_reciprocal(a) -> np.ndarray:
    """The Newton-Raphson iterate x ~ 1 / half_denominator (in Q2.13) for a in (0, 1)."""
    half_denominator = (a + _ONE_F0 + 1) // 2    # RoundingHalfSum with a positive sum
    x = wrap16(_const(1515870810) + _mul(half_denominator, _const(-1010580540)))
    for _ in range(3):
        one_minus = wrap16((1 << 13) - _mul(half_denominator, x))
        x = wrap16(x + _mul_pot(_mul(x, one_minus), 2))
    return x


def _one_over_one_plus_x(a) -> np.ndarray:
    return _mul_pot(_newton_reciprocal(a), 1)


def _one_minus_x_over_one_plus_x(a) -> np.ndarray:
    return _mul_pot(wrap16(_newton_reciprocal(a) - (1 << 13)), 2)


@lru_cache(maxsize=None)
def _sigmoid_table(integer_bits: int) -> np.ndarray:
    a = _ALL_INT16
    positive = a > 0
    magnitude = np.where(positive, a, wrap16(-a))
    if_positive = _one_over_one_plus_x(_exp_on_negative_values(wrap16(-magnitude),
                                                               integer_bits))
    result = np.where(positive, if_positive, wrap16(_ONE_F0 - if_positive))
    return np.where(a == 0, _const(1 << 30), result)


@lru_cache(maxsize=None)
def _tanh_table(integer_bits: int) -> np.ndarray:
    a = _ALL_INT16
    negative = a < 0
    n = np.where(negative, a, wrap16(-a))
    t = _one_minus_x_over_one_plus_x(_exp_on_negative_values(n, integer_bits + 1))
    return np.where(a == 0, 0, np.where(negative, wrap16(-t), t))


def sigmoid_q3_12(x) -> np.ndarray:
    """gemmlowp::logistic of Q3.12 int16 values, as Q0.15 int16 values (in int64)."""
    return _sigmoid_table(3)[np.asarray(x, np.int64) + 32768]


def tanh(x, integer_bits: int) -> np.ndarray:
    """gemmlowp::tanh of int16 values with `integer_bits` integer bits, as Q0.15."""
    return _tanh_table(integer_bits)[np.asarray(x, np.int64) + 32768]
