"""SOFTMAX in the delegate: bit-exact with LiteRT BUILTIN_REF on every ISA, for every row
length the SIMD builds split into vectors and scalar tails."""
from __future__ import annotations

import numpy as np
import pytest

from qrun.modelbuilder import ModelBuilder
from tests.delegate.util import ISAS, check_delegate, run_delegate
from tests.oracle import assert_same, run_litert, run_qrun

DTYPES = (np.int8, np.uint8)
# (input scale, beta): all differences valid, and many below diff_min (output the minimum).
SCALINGS = ((0.004, 2.0), (0.1, 1.0), (0.5, 1.0), (0.02, 0.3), (1.0, 1.0))


def _softmax_model(dtype, shapes) -> bytes:
    """One SOFTMAX per shape, each on its own input, with scalings and zero points varied."""
    info = np.iinfo(dtype)
    b = ModelBuilder()
    for k, shape in enumerate(shapes):
        scale, beta = SCALINGS[k % len(SCALINGS)]
        zero_point = (int(info.min), int(info.max), 0, 3)[k % 4]
        x = b.add_input(shape, dtype, scale=scale, zero_point=zero_point)
        y = b.add_tensor(shape, dtype, scale=1 / 256, zero_point=int(info.min))
        b.add_op("SOFTMAX", [x], [y], beta=beta)
        b.mark_output(y)
    return b.build()


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_row_lengths(dtype):
    """Row lengths 1..70 (vector bodies and tails for 4, 8 and 16 lanes), many rows each."""
    check_delegate(_softmax_model(dtype, [(37, d) for d in range(1, 71)]), seed=1, lsb=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_long_and_batched_rows(dtype):
    check_delegate(_softmax_model(dtype, [(2, 3, 4, 16), (1, 1001), (3, 257), (8400, 16)]),
                   seed=2, lsb=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_wrapped_row_sum(dtype):
    """Rows of 8200 bytes whose int32 sum of exps wraps (the numpy reference wraps it; LiteRT
    aborts on such rows): all equal (the sum wraps to 8 of them: outputs 1/8), and mixed."""
    model = _softmax_model(dtype, [(2, 8200)])
    x = np.full((2, 8200), 7, dtype)
    x[1, ::3] = 5
    theirs = run_qrun(model, [x])
    assert len(np.unique(theirs[0][0])) == 1 and theirs[0][0, 0] == np.iinfo(dtype).min + 32
    for isa in ISAS or [None]:
        assert_same(run_delegate(model, [x], isa), theirs, what="%s vs reference" % isa)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_rows_of_16(dtype):
    """Rows of 16 (AVX-512 VBMI: blocks of 16 rows, four per vector) vs LiteRT BUILTIN_REF:
    3 blocks and a tail of 7 rows, rows of one value (the largest row sum), one maximum
    among minima (all other exps below diff_min or tiny), two maxima, the extremes, random
    rows, each scaling."""
    info = np.iinfo(dtype)
    rng = np.random.default_rng(16)
    rows = rng.integers(info.min, info.max + 1, (55, 16))
    rows[0] = info.min
    rows[1] = info.max
    rows[2] = 5
    rows[3, :], rows[3, 7] = info.min, info.max
    rows[4, :], rows[4, [0, 15]] = info.min, info.max
    rows[5, :], rows[5, 3] = 0, 1
    rows[6] = np.where(np.arange(16) % 2, info.max, info.min)
    rows[17:33] = rows[17:18] + rng.integers(-2, 3, (16, 16))
    x = np.clip(rows, info.min, info.max).astype(dtype)[None]
    for k in range(len(SCALINGS)):
        model = _softmax_model(dtype, [(1, 55, 16)] * (k + 1))
        inputs = [x] * (k + 1)
        theirs = run_litert(model, inputs)
        for isa in ISAS or [None]:
            assert_same(run_delegate(model, inputs, isa), theirs,
                        what="%s vs LiteRT" % isa)
