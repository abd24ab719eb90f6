"""MEAN, SUM, REDUCE_MAX/MIN/PROD, ARG_MAX/ARG_MIN against LiteRT BUILTIN_REF."""
from __future__ import annotations

import numpy as np
import pytest

from qrun.modelbuilder import ModelBuilder
from tests.oracle import assert_same, check_against_litert, random_inputs, run_litert, run_qrun
from tests.ops.test_pooling import check_ops_in_model

# (input shape, axes, keep_dims)
AXES = [
    ((1, 7, 5, 3), [1, 2], True),      # the global-average-pool form
    ((2, 4, 6, 5), [2, 1], True),
    ((2, 4, 6, 5), [1, 2], False),
    ((2, 4, 6, 5), [-1], False),
    ((2, 4, 6, 5), [0, 3], True),
    ((2, 4, 6, 5), [3, -1, 0], False),  # duplicates
    ((3, 5), [0, 1], False),
    ((3, 5), [1], True),
    ((4, 3, 9), [-2], True),
    ((7,), [0], False),
]
# dtype -> ((in scale, in zp), (out scale, out zp)) pairs
QUANT = {
    np.int8: [((0.05, -3), (0.05, -3)), ((0.05, -128), (0.021, 127)), ((0.1, 20), (0.5, -100))],
    np.uint8: [((0.05, 128), (0.05, 128)), ((0.02, 0), (0.05, 255)), ((0.3, 200), (0.01, 7))],
    np.int16: [((0.001, 0), (0.001, 0)), ((0.002, 0), (0.0007, 0))],
}


def reduce_model(opname, shape, axes, keep_dims, dtype, qin=(None, None), qout=(None, None)):
    from qrun.interpreter.kernels.reduce import _reduced_shape, _resolve_axes
    out_shape = _reduced_shape(shape, _resolve_axes(axes, len(shape), opname), keep_dims)
    b = ModelBuilder()
    x = b.add_input(shape, dtype, scale=qin[0], zero_point=qin[1])
    a = b.add_constant(np.array(axes, np.int32))
    y = b.add_tensor(out_shape, dtype, scale=qout[0], zero_point=qout[1])
    b.add_op(opname, [x, a], [y], keep_dims=keep_dims)
    b.mark_output(y)
    return b.build()


@pytest.mark.parametrize("shape,axes,keep_dims", AXES)
@pytest.mark.parametrize("dtype", list(QUANT))
def test_mean_quantized(shape, axes, keep_dims, dtype):
    for k, (qin, qout) in enumerate(QUANT[dtype]):
        check_against_litert(reduce_model("MEAN", shape, axes, keep_dims, dtype, qin, qout),
                             seed=k)


@pytest.mark.parametrize("shape,axes,keep_dims", AXES)
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
def test_mean_unquantized(shape, axes, keep_dims, dtype):
    check_against_litert(reduce_model("MEAN", shape, axes, keep_dims, dtype))


def test_mean_large_count():
    """Many elements: 1/count folded into the multiplier loses bits to the shift limits."""
    for qin, qout in QUANT[np.int8]:
        check_against_litert(reduce_model("MEAN", (1, 40, 53, 3), [1, 2], True, np.int8, qin,
                                          qout))


@pytest.mark.parametrize("shape,axes,keep_dims", AXES)
def test_sum_uint8(shape, axes, keep_dims):
    for k, (qin, qout) in enumerate(QUANT[np.uint8]):
        check_against_litert(reduce_model("SUM", shape, axes, keep_dims, np.uint8, qin, qout),
                             seed=k)


@pytest.mark.parametrize("shape,axes,keep_dims", AXES)
def test_sum_int8(shape, axes, keep_dims):
    """BUILTIN_REF's int8 SUM reads the int8 data as uint8 (reduce.cc casts the reference
    call to uint8_t), so qrun runs the reference algorithm on the true int8 values instead.
    It is bit-exact with BUILTIN_REF's uint8 SUM on the same values shifted by 128, and within
    1 LSB of LiteRT's optimized int8 SUM."""
    for k, (qin, qout) in enumerate(QUANT[np.int8]):
        model = reduce_model("SUM", shape, axes, keep_dims, np.int8, qin, qout)
        (x,) = random_inputs([{"shape": shape, "dtype": np.int8}], seed=k)
        ours = run_qrun(model, [x])[0]
        shifted = reduce_model("SUM", shape, axes, keep_dims, np.uint8, (qin[0], qin[1] + 128),
                               (qout[0], qout[1] + 128))
        reference = run_litert(shifted, [(x.astype(np.int16) + 128).astype(np.uint8)])[0]
        assert_same([(ours.astype(np.int16) + 128).astype(np.uint8)], [reference])
        optimized = run_litert(model, [x], resolver="BUILTIN_WITHOUT_DEFAULT_DELEGATES")
        assert_same([ours], optimized, lsb=1)


@pytest.mark.parametrize("shape,axes,keep_dims", AXES)
def test_sum_int16(shape, axes, keep_dims):
    """BUILTIN_REF's int16 SUM also goes through the uint8_t cast and writes only the low
    bytes of its output; LiteRT's optimized int16 SUM is the oracle, within 1 LSB."""
    for k, (qin, qout) in enumerate(QUANT[np.int16]):
        model = reduce_model("SUM", shape, axes, keep_dims, np.int16, qin, qout)
        (x,) = random_inputs([{"shape": shape, "dtype": np.int16}], seed=k)
        optimized = run_litert(model, [x], resolver="BUILTIN_WITHOUT_DEFAULT_DELEGATES")
        assert_same(run_qrun(model, [x]), optimized, lsb=1)


@pytest.mark.parametrize("opname", ["SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD"])
@pytest.mark.parametrize("shape,axes,keep_dims", AXES)
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
def test_reduce_unquantized(opname, shape, axes, keep_dims, dtype):
    check_against_litert(reduce_model(opname, shape, axes, keep_dims, dtype))


@pytest.mark.parametrize("opname", ["REDUCE_MAX", "REDUCE_MIN"])
@pytest.mark.parametrize("dtype", list(QUANT))
@pytest.mark.parametrize("shape,axes,keep_dims", AXES)
def test_reduce_max_min_quantized(opname, dtype, shape, axes, keep_dims):
    q = QUANT[dtype][0][0]
    check_against_litert(reduce_model(opname, shape, axes, keep_dims, dtype, q, q))


# (input shape, axes, keep_dims) with short reductions: products of many terms saturate.
PROD_AXES = [((2, 3, 4), [1], False), ((2, 3, 4), [0, 2], True), ((5, 2), [-1], False),
             ((1, 3, 2, 3), [1, 3], True), ((4,), [0], False)]


@pytest.mark.parametrize("shape,axes,keep_dims", PROD_AXES)
@pytest.mark.parametrize("dtype,qin,qout", [
    (np.int8, (0.02, 0), (0.05, 0)), (np.int8, (0.1, -7), (0.3, 12)),
    (np.int8, (0.01, 100), (0.05, 0)), (np.int16, (0.001, 0), (0.0005, 0)),
    (np.int16, (0.0002, 0), (0.00002, 0))])
def test_reduce_prod_quantized(shape, axes, keep_dims, dtype, qin, qout):
    for seed in range(3):
        check_against_litert(reduce_model("REDUCE_PROD", shape, axes, keep_dims, dtype, qin,
                                          qout), seed=seed)


@pytest.mark.parametrize("opname", ["REDUCE_ANY", "REDUCE_ALL"])
@pytest.mark.parametrize("shape,axes,keep_dims", AXES)
def test_reduce_any_all(opname, shape, axes, keep_dims):
    model = reduce_model(opname, shape, axes, keep_dims, np.bool_)
    rng = np.random.default_rng(0)
    for p in (0.1, 0.5, 0.9):
        check_against_litert(model, inputs=[rng.random(shape) < p])


@pytest.mark.parametrize("opname", ["ARG_MAX", "ARG_MIN"])
@pytest.mark.parametrize("dtype", [np.float32, np.uint8, np.int8, np.int32, np.bool_])
@pytest.mark.parametrize("out_type", [np.int32, np.int64])
@pytest.mark.parametrize("axis_type", [np.int32, np.int64])
@pytest.mark.parametrize("shape,axis", [((2, 5, 7, 3), 3), ((2, 5, 7, 3), -3), ((4, 9), 0),
                                        ((11,), 0), ((3, 1, 4), 1)])
def test_arg_min_max(opname, dtype, out_type, axis_type, shape, axis):
    b = ModelBuilder()
    x = b.add_input(shape, dtype)
    a = b.add_constant(np.array([axis], axis_type))
    out_shape = [d for i, d in enumerate(shape) if i != axis % len(shape)]
    y = b.add_tensor(out_shape, out_type)
    b.add_op(opname, [x, a], [y], output_type={np.int32: 2, np.int64: 4}[out_type])
    b.mark_output(y)
    model = b.build()
    check_against_litert(model)
    # Ties: small integer ranges repeat the extreme value; the first index wins.
    rng = np.random.default_rng(1)
    ties = rng.integers(0, 3, size=shape).astype(dtype)
    check_against_litert(model, inputs=[ties])


@pytest.mark.parametrize("name,expected", [
    ("efficientnet_lite0_int8.tflite", {"MEAN"}),
    ("tf2_mobilenet_v2_1.0_224_ptq.tflite", {"MEAN"}),
    ("mobilenet_v3_small_int8_floatio.tflite", {"MEAN"}),
    ("osnet_x1_0_quant.tflite", {"MEAN"}),
    ("edgetpu_deeplab_slim_257_os16_full_integer_quant.tflite", {"ARG_MAX"}),
    ("deeplabv3_mnv2_dm05_pascal_quant.tflite", {"ARG_MAX"}),
])
def test_real_model_ops(name, expected):
    assert check_ops_in_model(name, expected) == expected


@pytest.mark.parametrize("axes,keep_dims", [([1, 2], True), ([-1, 0], False), ([3], True)])
def test_mean_and_arg_max_runtime_axis(axes, keep_dims):
    """Axes fed at run time: output shapes are computed when the kernel runs."""
    shape = (2, 4, 6, 5)
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, shape).astype(np.int8)
    b = ModelBuilder()
    xi = b.add_input(shape, np.int8, scale=0.05, zero_point=-3)
    ai = b.add_input((len(axes),), np.int32)
    y = b.add_tensor((1,), np.int8, scale=0.02, zero_point=1)
    b.add_op("MEAN", [xi, ai], [y], keep_dims=keep_dims)
    b.mark_output(y)
    check_against_litert(b.build(), inputs=[x, np.array(axes, np.int32)])
    b = ModelBuilder()
    xi = b.add_input(shape, np.int8)
    ai = b.add_input((1,), np.int32)
    y = b.add_tensor((1,), np.int64)
    b.add_op("ARG_MAX", [xi, ai], [y], output_type=4)
    b.mark_output(y)
    check_against_litert(b.build(), inputs=[x, np.array(axes[:1], np.int32)])


@pytest.mark.parametrize("opname,dtype,qin,qout", [
    ("REDUCE_MAX", np.int8, (0.05, 0), (0.05, 1)), ("REDUCE_MIN", np.uint8, (0.05, 0), (0.1, 0)),
    ("MEAN", np.int16, (0.001, 2), (0.001, 0)), ("SUM", np.int16, (0.001, 0), (0.001, -1)),
])
def test_reduce_rejects_what_litert_rejects(opname, dtype, qin, qout):
    from qrun import Interpreter
    model = reduce_model(opname, (2, 3), [1], False, dtype, qin, qout)
    with pytest.raises(RuntimeError, match=opname):
        Interpreter(model_content=model).allocate_tensors()
