"""LSH_PROJECTION against LiteRT BUILTIN_REF: SPARSE and DENSE, with and without weights,
input rows of many byte lengths (every farmhash length class: 0-16, 17-32, 33-64, > 64)."""
from __future__ import annotations

import numpy as np
import pytest

from qrun.modelbuilder import ModelBuilder
from tests.oracle import check_against_litert


@pytest.mark.parametrize("kind", [1, 2])
@pytest.mark.parametrize("dtype,shape", [
    (np.int32, (5,)), (np.uint8, (3, 1)), (np.float32, (4, 2)), (np.int8, (3, 9)),
    (np.int32, (2, 5)), (np.float32, (3, 7)), (np.int16, (6, 18)), (np.float32, (2, 40)),
    (np.uint8, (4, 125)), (np.int64, (2, 3, 11))])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("hash_shape", [(4, 3), (2, 16)])
def test_lsh_projection(kind, dtype, shape, weighted, hash_shape):
    rng = np.random.default_rng(shape[-1])
    b = ModelBuilder()
    ins = [b.add_constant(rng.normal(size=hash_shape).astype(np.float32)),
           b.add_input(shape, dtype)]
    if weighted:
        ins.append(b.add_input(shape[:1], np.float32))
    out = (hash_shape[0],) if kind == 1 else (hash_shape[0] * hash_shape[1],)
    y = b.mark_output(b.add_tensor(out, np.int32))
    b.add_op("LSH_PROJECTION", ins, [y], options_type="LSHProjectionOptions", type=kind)
    bits = check_against_litert(b.build(), seed=hash_shape[1])[0]
    if kind == 2:  # the hashes are not degenerate
        assert 0 < bits.sum() < bits.size
