"""SVDF against LiteRT BUILTIN_REF: float32 and int8 (int16 state), over several invokes."""
from __future__ import annotations

import numpy as np
import pytest

from qrun import Interpreter
from qrun.modelbuilder import ModelBuilder
from tests.ops.stateful import check_invokes_against_litert, extract_op, shared_model_bytes
from tests.oracle import check_against_litert, shared_model

GRID = [  # batch, input_size, num_units, rank, memory, activation
    (1, 8, 4, 1, 3, "NONE"),
    (2, 7, 5, 2, 4, "RELU"),
    (3, 16, 3, 3, 1, "RELU6"),
    (2, 5, 7, 1, 10, "NONE"),
]


def svdf_model(batch, n_input, units, rank, memory, act, dtype, seed, in_zp=0, out_zp=0,
               with_bias=True, hybrid=False, asymmetric=False):
    """A one-op SVDF model; `hybrid`: float32 input and state with int8 weights."""
    rng = np.random.default_rng(seed)
    filters = units * rank
    b = ModelBuilder()
    options = dict(rank=rank, fused_activation_function=act)
    if hybrid:
        x = b.add_input([batch, n_input], np.float32)
        wf = b.add_constant(rng.integers(-127, 128, (filters, n_input)).astype(np.int8),
                            scale=0.01, zero_point=0)
        wt = b.add_constant(rng.integers(-127, 128, (filters, memory)).astype(np.int8),
                            scale=0.008, zero_point=0)
        bias = b.add_constant(rng.uniform(-1, 1, units).astype(np.float32)) if with_bias else -1
        state = b.add_tensor([batch, filters * memory], np.float32, is_variable=True)
        y = b.add_tensor([batch, units], np.float32)
        options["asymmetric_quantize_inputs"] = asymmetric
    elif dtype == np.float32:
        x = b.add_input([batch, n_input], np.float32)
        wf = b.add_constant(rng.uniform(-1, 1, (filters, n_input)).astype(np.float32))
        wt = b.add_constant(rng.uniform(-1, 1, (filters, memory)).astype(np.float32))
        bias = b.add_constant(rng.uniform(-1, 1, units).astype(np.float32)) if with_bias else -1
        state = b.add_tensor([batch, filters * memory], np.float32, is_variable=True)
        y = b.add_tensor([batch, units], np.float32)
    else:
        x = b.add_input([batch, n_input], np.int8, scale=0.05, zero_point=in_zp)
        wf = b.add_constant(rng.integers(-127, 128, (filters, n_input)).astype(np.int8),
                            scale=0.01, zero_point=0)
        wt = b.add_constant(rng.integers(-32767, 32768, (filters, memory)).astype(np.int16),
                            scale=0.003 / memory, zero_point=0)
        bias = (b.add_constant(rng.integers(-20000, 20000, units).astype(np.int32),
                               scale=1e-5, zero_point=0) if with_bias else -1)
        state = b.add_tensor([batch, filters * memory], np.int16, scale=0.004, zero_point=0,
                             is_variable=True)
        y = b.add_tensor([batch, units], np.int8, scale=0.1, zero_point=out_zp)
    b.add_op("SVDF", [x, wf, wt, bias, state], [y], **options)
    b.mark_output(y)
    return b.build()


@pytest.mark.parametrize("params", GRID)
def test_svdf_float(params):
    check_invokes_against_litert(svdf_model(*params, np.float32, seed=1), invokes=5)


@pytest.mark.parametrize("params", GRID)
@pytest.mark.parametrize("zps", [(0, 0), (-128, 127), (127, -128), (5, -3)])
def test_svdf_int8(params, zps):
    # TFLite's integer SVDF requires a fused RELU.
    model = svdf_model(*params[:5], "RELU", np.int8, seed=2, in_zp=zps[0], out_zp=zps[1])
    check_invokes_against_litert(model, invokes=5, seed=3)


@pytest.mark.parametrize("params", GRID)
@pytest.mark.parametrize("asymmetric", [False, True])
def test_svdf_hybrid(params, asymmetric):
    model = svdf_model(*params, np.float32, seed=6, hybrid=True, asymmetric=asymmetric)
    check_invokes_against_litert(model, invokes=5, seed=7)


@pytest.mark.parametrize("dtype", [np.float32, np.int8])
def test_svdf_without_bias(dtype):
    check_invokes_against_litert(svdf_model(2, 6, 3, 2, 4, "RELU", dtype, seed=4,
                                            with_bias=False), invokes=4)


def test_svdf_rank_must_divide_filters():
    b = ModelBuilder()
    x = b.add_input([1, 4], np.float32)
    wf = b.add_constant(np.ones((5, 4), np.float32))
    wt = b.add_constant(np.ones((5, 3), np.float32))
    state = b.add_tensor([1, 15], np.float32, is_variable=True)
    y = b.add_tensor([1, 2], np.float32)
    b.add_op("SVDF", [x, wf, wt, -1, state], [y], rank=2)
    b.mark_output(y)
    it = Interpreter(model_content=b.build())
    with pytest.raises(RuntimeError, match="rank 2 does not divide 5"):
        it.allocate_tensors()


@pytest.mark.parametrize("op_index", [1, 3, 5, 7, 9, 10, 11])
def test_keyword_scrambled_svdf_ops(op_index):
    """Each SVDF of the real model, with its weights and quantization, alone."""
    model = extract_op(shared_model("keyword_scrambled_int16x8.tflite"), op_index)
    check_invokes_against_litert(model, invokes=4)


def test_keyword_scrambled_model():
    model = shared_model_bytes("keyword_scrambled_int16x8.tflite")
    for seed in range(3):
        check_against_litert(model, seed=seed)
