"""AVERAGE_POOL_2D, MAX_POOL_2D, MEAN, ARG_MAX and ARG_MIN (exact) in the delegate."""
from __future__ import annotations

import numpy as np
import pytest

from qrun import Interpreter
from qrun.modelbuilder import ModelBuilder
from tests.delegate.util import ISAS, check_delegate, run_delegate
from tests.ops.conv_util import ACTIVATIONS, out_dim
from tests.oracle import assert_same, run_litert

DTYPES = (np.int8, np.uint8)

# (input NHWC, filter HW, strides HW, padding)
GEOMETRIES = [((1, 8, 8, 3), (2, 2), (2, 2), "VALID"), ((2, 7, 9, 17), (3, 3), (2, 2), "SAME"),
              ((1, 5, 5, 70), (5, 5), (1, 1), "VALID"), ((1, 6, 7, 5), (3, 2), (1, 2), "SAME"),
              ((1, 3, 3, 4), (4, 4), (1, 1), "SAME"), ((3, 9, 9, 2), (3, 3), (3, 3), "VALID"),
              # SIMD: whole vectors of 4/8/16 channels and tails, padded windows, 7x7 global
              ((1, 9, 8, 37), (3, 3), (1, 1), "SAME"), ((1, 10, 10, 48), (3, 3), (2, 2), "SAME"),
              ((2, 7, 7, 83), (7, 7), (1, 1), "VALID"), ((1, 11, 9, 21), (5, 5), (2, 1), "SAME")]


def pool_model(op, dtype, geometry, activation, zp):
    shape, (fh, fw), (sh, sw), padding = geometry
    b = ModelBuilder()
    q = dict(scale=0.03, zero_point=zp)
    x = b.add_input(shape, dtype, **q)
    out = (shape[0], out_dim(shape[1], fh, sh, 1, padding), out_dim(shape[2], fw, sw, 1, padding),
           shape[3])
    y = b.add_tensor(out, dtype, **q)
    b.add_op(op, [x], [y], padding=padding, stride_h=sh, stride_w=sw, filter_height=fh,
             filter_width=fw, fused_activation_function=activation)
    b.mark_output(y)
    return b.build()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["AVERAGE_POOL_2D", "MAX_POOL_2D"])
@pytest.mark.parametrize("g", range(len(GEOMETRIES)))
def test_pool(op, dtype, g):
    info = np.iinfo(dtype)
    zp = (info.min, info.max, 0, 5)[g % 4]
    check_delegate(pool_model(op, dtype, GEOMETRIES[g], ACTIVATIONS[g % 4], zp), seed=g, lsb=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["RELU", "RELU6", "RELU_N1_TO_1"])
def test_max_pool_clamps_on_vectors(dtype, activation):
    # a 1x1 window (the max is the input itself), zero point mid-range and a scale that puts
    # the bounds inside the byte range: both clamps cut, on 128 channels (whole byte vectors)
    b = ModelBuilder()
    zp = 0 if dtype == np.int8 else 128
    x = b.add_input((1, 6, 6, 128), dtype, scale=0.02, zero_point=zp)
    y = b.add_tensor((1, 6, 6, 128), dtype, scale=0.02, zero_point=zp)
    b.add_op("MAX_POOL_2D", [x], [y], padding="VALID", stride_h=1, stride_w=1, filter_height=1,
             filter_width=1, fused_activation_function=activation)
    b.mark_output(y)
    check_delegate(b.build(), seed=1, lsb=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axes,keep", [
    ((1, 7, 7, 20), (1, 2), True), ((2, 5, 3, 9), (2, 1), False), ((1, 4, 4, 3), (-3, -2), False),
    ((3, 6, 5), (1,), True), ((2, 10, 3), (0, 1), False),
    ((1, 7, 7, 87), (1, 2), True), ((2, 4, 5, 48), (1, 2), False)])   # SIMD: vectors and tails
@pytest.mark.parametrize("zps", [(None, None), ("min", "max"), ("max", "min")])
# Scales: the output finer than the input (a right shift), equal (quotients of small integers:
# many halves, where rounding shows), and 70x finer (a left shift; most outputs clamp).
@pytest.mark.parametrize("scales", [(0.04, 0.01), (0.02, 0.02), (0.05, 0.0007)])
def test_mean(dtype, shape, axes, keep, zps, scales):
    check_delegate(mean_model(dtype, shape, axes, keep, zps, scales), seed=3, lsb=0)


def mean_model(dtype, shape, axes, keep, zps, scales):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(len(shape) + abs(sum(axes)))
    zp = [int(rng.integers(info.min, info.max + 1)) if z is None else getattr(info, z)
          for z in zps]
    b = ModelBuilder()
    x = b.add_input(shape, dtype, scale=scales[0], zero_point=zp[0])
    ax = b.add_constant(np.array(axes, np.int32))
    rank = len(shape)
    reduced = {a % rank for a in axes}
    out = [1 if i in reduced else d for i, d in enumerate(shape) if keep or i not in reduced]
    y = b.add_tensor(out, dtype, scale=scales[1], zero_point=zp[1])
    b.add_op("MEAN", [x, ax], [y], keep_dims=keep)
    b.mark_output(y)
    return b.build()


def test_mean_whose_shifted_sum_could_wrap_runs_on_numpy():
    # in/out scale 2^24 over 2 values: a left shift of 24, and 2 * 255 << 24 leaves int32
    model = mean_model(np.int8, (1, 2, 16), (1,), False, (None, None), (1.0, 2.0 ** -24))
    it = Interpreter(model_content=model)
    it.allocate_tensors()
    assert [d["backend"] for d in it._get_ops_details()] == ["numpy"]
    assert "requantization shift 24" in it._graphs[0].delegate.why_not(
        it._graphs[0], it._graphs[0].steps[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["ARG_MAX", "ARG_MIN"])
@pytest.mark.parametrize("shape,axis", [((1, 5, 6, 21), 3), ((2, 7, 3), 1), ((4, 9), -2),
                                        ((3, 1, 4), 1)])
@pytest.mark.parametrize("out_type", [np.int32, np.int64])
def test_arg(op, dtype, shape, axis, out_type):
    check_delegate(_arg_model(op, dtype, shape, axis, out_type), seed=len(shape), lsb=0)


def _arg_model(op, dtype, shape, axis, out_type):
    b = ModelBuilder()
    x = b.add_input(shape, dtype, scale=0.1, zero_point=3)
    a = b.add_constant(np.array([axis], np.int32))
    out = tuple(d for i, d in enumerate(shape) if i != axis % len(shape))
    y = b.add_tensor(out, out_type)
    b.add_op(op, [x, a], [y], output_type=2 if out_type == np.int32 else 4)
    b.mark_output(y)
    return b.build()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["ARG_MAX", "ARG_MIN"])
@pytest.mark.parametrize("classes", [1, 3, 15, 16, 17, 19, 21, 31, 32, 33, 63, 64, 65])
def test_arg_last_axis_ties_and_extremes(op, dtype, classes):
    """A short last axis over many pixels (up to 32: the SIMD path, one pixel at a time; the
    last pixels, whose vectors would read past the tensor, scalar): inputs of a few values, the
    range's ends among them, so that most pixels tie; all equal to the extreme at the end."""
    shape = (2, 7, 9, classes)
    info = np.iinfo(dtype)
    model = _arg_model(op, dtype, shape, 3, np.int32 if classes % 2 else np.int64)
    rng = np.random.default_rng(classes)
    x = rng.choice(np.array([info.min, info.min + 1, 0, info.max - 1, info.max], dtype),
                   shape)
    x[1, 6] = info.min if op == "ARG_MAX" else info.max
    x[1, 5, :, -1] = info.max if op == "ARG_MAX" else info.min
    ours = run_delegate(model, [x], "scalar" if ISAS else None)
    assert_same(ours, run_litert(model, [x]), what="delegate vs litert")
    for isa in ISAS[1:]:
        assert_same(run_delegate(model, [x], isa), ours, what="%s vs scalar" % isa)
