"""RFFT2D, REAL, IMAG and COMPLEX_ABS against LiteRT BUILTIN_REF."""
from __future__ import annotations

import numpy as np
import pytest

from qrun.modelbuilder import ModelBuilder
from tests.oracle import check_against_litert

COMPLEX_CODES = {np.dtype(np.complex64): 8, np.dtype(np.complex128): 11}


@pytest.mark.parametrize("shape", [(4, 8), (2, 5, 7), (1, 2, 16, 3)])
@pytest.mark.parametrize("length", [(4, 8), (8, 4), (2, 2), (16, 16)])
def test_rfft2d(shape, length):
    b = ModelBuilder()
    x = b.add_input(shape, np.float32)
    n = b.add_constant(np.asarray(length, np.int32))
    y = b.mark_output(b.add_tensor(shape[:-2] + (length[0], length[1] // 2 + 1),
                                   np.complex64, type_code=8))
    b.add_op("RFFT2D", [x, n], [y])
    rng = np.random.default_rng(len(shape))
    check_against_litert(b.build(), inputs=[rng.uniform(-1, 1, shape).astype(np.float32)])


@pytest.mark.parametrize("opname", ["REAL", "IMAG", "COMPLEX_ABS"])
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
@pytest.mark.parametrize("shape", [(7,), (2, 3, 5)])
def test_complex_parts(opname, dtype, shape):
    real = np.float64 if dtype == np.complex128 else np.float32
    b = ModelBuilder()
    x = b.add_input(shape, dtype, type_code=COMPLEX_CODES[np.dtype(dtype)])
    y = b.mark_output(b.add_tensor(shape, real))
    b.add_op(opname, [x], [y])
    rng = np.random.default_rng(len(shape))
    value = (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(dtype)
    check_against_litert(b.build(), inputs=[value])


def test_rfft2d_length_at_run_time():
    b = ModelBuilder()
    x = b.add_input((2, 6, 5), np.float32)
    n = b.add_input((2,), np.int32)
    y = b.mark_output(b.add_tensor((2, 8, 3), np.complex64, type_code=8))
    b.add_op("RFFT2D", [x, n], [y])
    rng = np.random.default_rng(0)
    check_against_litert(b.build(), inputs=[rng.uniform(-1, 1, (2, 6, 5)).astype(np.float32),
                                            np.array([8, 4], np.int32)])
