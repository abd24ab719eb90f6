"""STABLEHLO_ADD/MULTIPLY/MAXIMUM/MINIMUM and STABLEHLO_PAD against LiteRT BUILTIN_REF."""
from __future__ import annotations

import numpy as np
import pytest

from tests.ops.test_data_movement import Op

TYPES = [np.float32, np.float16, np.int8, np.int16, np.int32, np.int64, np.uint8]


@pytest.mark.parametrize("opname", ["STABLEHLO_ADD", "STABLEHLO_MULTIPLY", "STABLEHLO_MAXIMUM",
                                    "STABLEHLO_MINIMUM"])
@pytest.mark.parametrize("dtype", TYPES)
@pytest.mark.parametrize("shape", [(7,), (2, 3, 5), (1, 2, 3, 4, 2)])
def test_elementwise(opname, dtype, shape):
    Op(seed=len(shape)).data(shape, dtype, q=None).data(shape, dtype, q=None).run(
        opname, [(shape, dtype, None)])


@pytest.mark.parametrize("dtype", TYPES)
@pytest.mark.parametrize("shape,low,high,interior", [
    ((5,), [2], [1], [0]), ((5,), [-1], [-2], [1]), ((2, 3), [1, 0], [0, 2], [1, 2]),
    ((2, 3, 4), [0, -1, 2], [1, 1, -3], [0, 1, 0]), ((3, 1), [1, 1], [1, 1], [2, 3])])
def test_pad(dtype, shape, low, high, interior):
    out = tuple(lo + hi + n + (n - 1) * g for n, lo, hi, g in zip(shape, low, high, interior))
    Op(seed=1).data(shape, dtype, q=None).index(np.asarray(7, dtype), dtype).run(
        "STABLEHLO_PAD", [(out, dtype, None)], options_type="StablehloPadOptions",
        edge_padding_low=np.asarray(low, np.int64), edge_padding_high=np.asarray(high, np.int64),
        interior_padding=np.asarray(interior, np.int64))
