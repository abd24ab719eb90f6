"""PAD, PADV2 and MIRROR_PAD against LiteRT BUILTIN_REF: shapes of rank 1 to 5, odd sizes,
batch 2, int32/int64 paddings, constant and run-time paddings, quantized pad values."""
from __future__ import annotations

import numpy as np
import pytest

from qrun import Interpreter
from qrun.modelbuilder import ModelBuilder
from tests.oracle import check_against_litert

# (input shape, paddings)
CASES = [
    ((7,), [[2, 3]]),
    ((3, 5), [[0, 1], [2, 0]]),
    ((2, 5, 7, 3), [[0, 0], [1, 2], [3, 1], [0, 0]]),   # image style
    ((1, 4, 4, 5), [[0, 0], [0, 0], [0, 0], [1, 2]]),
    ((2, 3, 1, 2), [[1, 0], [0, 2], [1, 1], [2, 0]]),
    ((2, 1, 3, 2, 3), [[0, 1], [1, 0], [0, 0], [2, 1], [1, 1]]),
    ((2, 3, 4), [[0, 0], [0, 0], [0, 0]]),
]
# (dtype, quantization or None)
TYPES = [
    (np.int8, (0.05, -128)), (np.int8, (0.1, 127)), (np.int8, (0.3, 5)),
    (np.uint8, (0.02, 0)), (np.uint8, (0.02, 255)), (np.uint8, None),
    (np.int16, (0.001, 0)), (np.int16, None), (np.int8, None),
    (np.float32, None), (np.int32, None), (np.int64, None), (np.bool_, None),
]


def _q(q):
    return {} if q is None else dict(scale=q[0], zero_point=q[1])


def pad_model(opname, shape, paddings, dtype, q, pad_dtype=np.int32, constant=None,
              const_paddings=True, mode=None):
    b = ModelBuilder()
    x = b.add_input(shape, dtype, **_q(q))
    p = np.asarray(paddings, pad_dtype)
    pin = b.add_constant(p) if const_paddings else b.add_input(p.shape, pad_dtype)
    inputs = [x, pin]
    if constant is not None:
        inputs.append(b.add_constant(np.asarray([constant], dtype).reshape(()), **_q(q)))
    out_shape = [d + lo + hi for d, (lo, hi) in zip(shape, paddings)]
    y = b.add_tensor(out_shape, dtype, **_q(q))
    opts = {} if mode is None else dict(mode=mode)
    b.add_op(opname, inputs, [y], **opts)
    b.mark_output(y)
    return b.build(), p


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("ti", range(len(TYPES)))
def test_pad(case, ti):
    shape, paddings = CASES[case]
    dtype, q = TYPES[ti]
    model, _ = pad_model("PAD", shape, paddings, dtype, q,
                         pad_dtype=np.int64 if case % 2 else np.int32)
    check_against_litert(model, seed=case * 31 + ti)


@pytest.mark.parametrize("case", [0, 2, 4, 5])
@pytest.mark.parametrize("ti", range(len(TYPES)))
def test_padv2(case, ti):
    shape, paddings = CASES[case]
    dtype, q = TYPES[ti]
    constant = {np.dtype(np.bool_): True, np.dtype(np.float32): -2.5}.get(
        np.dtype(dtype), 17 if dtype != np.int8 else -100)
    model, _ = pad_model("PADV2", shape, paddings, dtype, q, constant=constant)
    check_against_litert(model, seed=case + ti)


@pytest.mark.parametrize("opname", ["PAD", "PADV2"])
@pytest.mark.parametrize("dtype, q", [(np.int8, (0.05, -7)), (np.float32, None)])
def test_pad_runtime_paddings(opname, dtype, q):
    shape, paddings = CASES[4]
    constant = 3 if opname == "PADV2" else None
    model, p = pad_model(opname, shape, paddings, dtype, q, constant=constant,
                         const_paddings=False)
    x = np.arange(np.prod(shape)).reshape(shape).astype(dtype)
    check_against_litert(model, inputs=[x, p])


MIRROR_CASES = [
    ((7,), [[2, 3]]),
    ((2, 5, 7, 3), [[0, 0], [1, 2], [3, 1], [0, 0]]),
    ((2, 3, 4, 5), [[1, 1], [2, 0], [0, 3], [4, 2]]),
    ((1, 4, 3), [[0, 0], [3, 3], [2, 2]]),
]


@pytest.mark.parametrize("mode", ["REFLECT", "SYMMETRIC"])
@pytest.mark.parametrize("case", range(len(MIRROR_CASES)))
@pytest.mark.parametrize("dtype, q", [(np.int8, (0.05, -3)), (np.uint8, (0.1, 200)),
                                      (np.float32, None), (np.int32, None),
                                      (np.int64, None), (np.int16, None)])
def test_mirror_pad(mode, case, dtype, q):
    shape, paddings = MIRROR_CASES[case]
    if mode == "REFLECT":
        paddings = [[min(lo, d - 1), min(hi, d - 1)] for d, (lo, hi) in zip(shape, paddings)]
    model, _ = pad_model("MIRROR_PAD", shape, paddings, dtype, q, mode=mode,
                         pad_dtype=np.int64 if case % 2 else np.int32)
    check_against_litert(model, seed=case)


def test_mirror_pad_runtime_paddings():
    shape, paddings = MIRROR_CASES[2]
    model, p = pad_model("MIRROR_PAD", shape, paddings, np.int8, (0.1, 0), mode="SYMMETRIC",
                         const_paddings=False)
    x = np.arange(np.prod(shape)).reshape(shape).astype(np.int8)
    check_against_litert(model, inputs=[x, p])


def test_pad_rejects_negative_paddings():
    bad, _ = pad_model("PAD", (3, 4), [[0, -1], [1, 0]], np.int8, None)
    with pytest.raises(RuntimeError, match="paddings must be >= 0"):
        Interpreter(model_content=bad).allocate_tensors()
