"""RESHAPE, SQUEEZE, EXPAND_DIMS and SHAPE against LiteRT BUILTIN_REF: the new shape as option,
as constant input and as run-time input (also computed by SHAPE), -1 dims, all dtypes."""
from __future__ import annotations

import numpy as np
import pytest

from qrun import Interpreter
from qrun.modelbuilder import ModelBuilder
from tests.oracle import check_against_litert

TYPES = [(np.int8, (0.05, -128)), (np.uint8, (0.1, 255)), (np.float32, None),
         (np.int16, (0.001, 0)), (np.int32, None), (np.int64, None), (np.bool_, None),
         (np.float16, None)]


def _q(q):
    return {} if q is None else dict(scale=q[0], zero_point=q[1])


def _inputs(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 100, size=shape).astype(dtype)


# (input shape, new shape as written, resolved output shape)
RESHAPES = [
    ((2, 3, 4), [4, 6], (4, 6)),
    ((2, 3, 4), [-1], (24,)),
    ((1, 5, 7, 3), [1, -1, 3], (1, 35, 3)),
    ((2, 6), [2, 3, 2, 1], (2, 3, 2, 1)),
    ((1, 1), [], ()),
    ((3, 1, 5), [-1, 5, 1, 1, 1], (3, 5, 1, 1, 1)),
]


def reshape_model(in_shape, new_shape, out_shape, dtype, q, how):
    b = ModelBuilder()
    x = b.add_input(in_shape, dtype, **_q(q))
    inputs, opts = [x], {}
    s = np.asarray(new_shape, np.int32)
    if how in ("option", "both"):
        opts["new_shape"] = list(new_shape) if how == "option" else [99]
    if how in ("input", "both"):
        inputs.append(b.add_constant(s))
    if how == "runtime":
        inputs.append(b.add_input(s.shape, np.int32))
    y = b.add_tensor(out_shape, dtype, **_q(q))
    b.add_op("RESHAPE", inputs, [y], **opts)
    b.mark_output(y)
    return b.build(), s


# A zero-length constant has no buffer (so it is no constant): scalars go through the option
# or a run-time shape input.
@pytest.mark.parametrize("how, case", [(how, case) for how in ("option", "input", "both", "runtime")
                                       for case in range(len(RESHAPES))
                                       if RESHAPES[case][1] or how in ("option", "runtime")])
@pytest.mark.parametrize("ti", [0, 1, 2, 6])
def test_reshape(how, case, ti):
    in_shape, new_shape, out_shape = RESHAPES[case]
    dtype, q = TYPES[ti]
    if not new_shape and how == "option":
        new_shape = [0]     # the legacy spelling of a scalar in the option
    model, s = reshape_model(in_shape, new_shape, out_shape, dtype, q, how)
    x = _inputs(in_shape, dtype, case)
    check_against_litert(model, inputs=[x, s] if how == "runtime" else [x])


def test_reshape_of_shape_output():
    """RESHAPE whose target comes from SHAPE of another input: sized at run time."""
    b = ModelBuilder()
    x = b.add_input([2, 12], np.int8, scale=0.1, zero_point=3)
    like = b.add_input([4, 3, 2], np.float32)
    s = b.add_tensor([3], np.int32)
    b.add_op("SHAPE", [like], [s], out_type=2)
    y = b.add_tensor([4, 3, 2], np.int8, scale=0.1, zero_point=3)
    b.add_op("RESHAPE", [x, s], [y])
    b.mark_output(y)
    b.mark_output(s)
    check_against_litert(b.build(), seed=3)


def test_reshape_rejects_bad_count():
    model, _ = reshape_model((2, 3), [4, 2], (4, 2), np.int8, None, "option")
    with pytest.raises(RuntimeError, match="cannot reshape"):
        Interpreter(model_content=model).allocate_tensors()


SQUEEZES = [((1, 3, 1, 4), []), ((1, 3, 1, 4), [0]), ((1, 3, 1, 4), [-2, 0]),
            ((2, 1, 1, 1, 5, 1), [1, 3, -1]), ((1,), [])]


@pytest.mark.parametrize("case", range(len(SQUEEZES)))
@pytest.mark.parametrize("ti", range(len(TYPES)))
def test_squeeze(case, ti):
    shape, dims = SQUEEZES[case]
    dtype, q = TYPES[ti]
    axes = {d % len(shape) for d in dims} if dims else {i for i, d in enumerate(shape) if d == 1}
    out = [d for i, d in enumerate(shape) if i not in axes]
    b = ModelBuilder()
    x = b.add_input(shape, dtype, **_q(q))
    y = b.add_tensor(out, dtype, **_q(q))
    b.add_op("SQUEEZE", [x], [y], **({"squeeze_dims": dims} if dims else {}))
    b.mark_output(y)
    check_against_litert(b.build(), inputs=[_inputs(shape, dtype, case)])


@pytest.mark.parametrize("shape, axis", [((3, 4), 0), ((3, 4), 2), ((3, 4), -1), ((3, 4), -3),
                                         ((2, 5, 7, 3), 2), ((), 0)])
@pytest.mark.parametrize("ti", range(len(TYPES)))
@pytest.mark.parametrize("axis_dtype", [np.int32, np.int64])
def test_expand_dims(shape, axis, ti, axis_dtype):
    dtype, q = TYPES[ti]
    a = axis + len(shape) + 1 if axis < 0 else axis
    out = list(shape[:a]) + [1] + list(shape[a:])
    b = ModelBuilder()
    x = b.add_input(shape, dtype, **_q(q))
    ax = b.add_constant(np.asarray([axis], axis_dtype))
    y = b.add_tensor(out, dtype, **_q(q))
    b.add_op("EXPAND_DIMS", [x, ax], [y])
    b.mark_output(y)
    check_against_litert(b.build(), inputs=[_inputs(shape, dtype, a)])


def test_expand_dims_runtime_axis():
    b = ModelBuilder()
    x = b.add_input([3, 4], np.int8, scale=0.5, zero_point=1)
    ax = b.add_input([1], np.int32)
    y = b.add_tensor([3, 4, 1], np.int8, scale=0.5, zero_point=1)
    b.add_op("EXPAND_DIMS", [x, ax], [y])
    b.mark_output(y)
    x0 = _inputs((3, 4), np.int8)
    for axis in (0, 1, -1):
        check_against_litert(b.build(), inputs=[x0, np.asarray([axis], np.int32)])


@pytest.mark.parametrize("shape", [(2, 5, 7, 3), (7,), (1, 0, 3)])
@pytest.mark.parametrize("out_type, out_dtype", [(2, np.int32), (4, np.int64)])
@pytest.mark.parametrize("ti", [0, 2, 6])
def test_shape(shape, out_type, out_dtype, ti):
    dtype, q = TYPES[ti]
    b = ModelBuilder()
    x = b.add_input(shape, dtype, **_q(q))
    y = b.add_tensor([len(shape)], out_dtype)
    b.add_op("SHAPE", [x], [y], out_type=out_type)
    b.mark_output(y)
    check_against_litert(b.build(), inputs=[_inputs(shape, dtype)])
