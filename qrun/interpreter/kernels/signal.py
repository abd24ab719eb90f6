"""Signal ops: RFFT2D (float32 -> complex64) and the complex accessors REAL, IMAG and
COMPLEX_ABS.

RFFT2D crops or zero-pads the two innermost dimensions to fft_length, as rfft2d.cc does, and
computes in double precision (float outputs are compared within 1e-5 of the largest).
"""
from __future__ import annotations

import numpy as np

from ..registry import register
from .common import same_as_input
from .shape_ops import known

COMPLEX_TYPES = (np.complex64, np.complex128)


def _fft_length(value) -> tuple:
    length = tuple(int(d) for d in np.asarray(value).reshape(-1))
    if len(length) != 2 or any(n <= 0 or n & (n - 1) for n in length):
        raise ValueError("RFFT2D fft_length must be two powers of 2, got %s" % list(length))
    return length


def rfft2d_shape(op):
    shape = tuple(op.inputs[0].shape)
    if len(shape) < 2:
        raise ValueError("RFFT2D needs an input of rank >= 2")
    value = known(op, 1)
    if value is None:
        return None
    h, w = _fft_length(value[0])
    return [shape[:-2] + (h, w // 2 + 1)]


@register("RFFT2D", (np.float32,), shape=rfft2d_shape)
def rfft2d(op):
    length = _fft_length(op.inputs[1].data)
    return np.fft.rfft2(op.inputs[0].data.astype(np.float64), s=length).astype(np.complex64)


def _real_dtype(t) -> np.dtype:
    return np.dtype(np.float64 if t.dtype == np.complex128 else np.float32)


@register("REAL", COMPLEX_TYPES, shape=same_as_input())
def real(op):
    return np.real(op.inputs[0].data).astype(_real_dtype(op.inputs[0]))


@register("IMAG", COMPLEX_TYPES, shape=same_as_input())
def imag(op):
    return np.imag(op.inputs[0].data).astype(_real_dtype(op.inputs[0]))


@register("COMPLEX_ABS", COMPLEX_TYPES, shape=same_as_input())
def complex_abs(op):
    return np.abs(op.inputs[0].data.astype(np.complex128)).astype(_real_dtype(op.inputs[0]))
