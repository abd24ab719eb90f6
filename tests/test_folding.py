"""Constant folding: ops whose inputs are all constant run once at prepare (folding.py)."""
from __future__ import annotations

import numpy as np
import pytest

from qrun import Interpreter
from qrun.modelbuilder import ModelBuilder
from tests.oracle import assert_same, litert, run_litert


def guided_filter_model(shape=(1, 9, 11, 3)) -> bytes:
    """The cartoon GAN's normalisation: a box filter of a constant image of ones (DEPTHWISE_CONV_2D
    on a constant) dequantized twice, and an input divided by it; a constant chain
    (DEQUANTIZE -> MUL) gives a per-channel offset added after."""
    n, h, w, _ = shape
    b = ModelBuilder()
    x = b.add_input(shape, np.float32)
    ones = b.add_constant(np.full((1, h, w, 1), 127, np.int8), scale=1 / 127, zero_point=0)
    box = b.add_constant(np.full((1, 3, 3, 1), 127, np.int8), scale=1 / 127, zero_point=0)
    bias = b.add_constant(np.zeros(1, np.int32), scale=1 / 127 ** 2, zero_point=0)
    count = b.add_tensor((1, h, w, 1), np.int8, scale=9 / 127, zero_point=-128)
    b.add_op("DEPTHWISE_CONV_2D", [ones, box, bias], [count], padding="SAME", stride_h=1,
             stride_w=1, depth_multiplier=1)
    outs = []
    for _ in range(2):
        count_f = b.add_tensor((1, h, w, 1), np.float32)
        b.add_op("DEQUANTIZE", [count], [count_f])
        y = b.add_tensor(shape, np.float32)
        b.add_op("DIV", [x, count_f], [y])
        outs.append(y)
    offset_q = b.add_constant(np.array([-100, 3, 90], np.int8), scale=0.02, zero_point=-7)
    offset = b.add_tensor((3,), np.float32)
    b.add_op("DEQUANTIZE", [offset_q], [offset])
    scaled = b.add_tensor((3,), np.float32)
    b.add_op("MUL", [offset, b.add_constant(np.array([0.5, -2.0, 3.0], np.float32))], [scaled])
    z = b.add_tensor(shape, np.float32)
    b.add_op("ADD", [outs[1], scaled], [z])
    b.mark_output(outs[0])
    b.mark_output(z)
    return b.build()


FOLDED = [0, 1, 3, 5, 6]   # DEPTHWISE_CONV_2D, both DEQUANTIZE of it, the offset chain


def _run(it, x):
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


@pytest.mark.parametrize("resolver", ["AUTO", "BUILTIN_REF"])
def test_constant_chain_is_folded_and_matches_litert(resolver):
    from qrun import OpResolverType
    model = guided_filter_model()
    it = Interpreter(model_content=model,
                     experimental_op_resolver_type=OpResolverType[resolver])
    it.allocate_tensors()
    backends = {d["index"]: d["backend"] for d in it._get_ops_details()}
    assert [i for i, b in backends.items() if b == "constant"] == FOLDED
    executed = [op.index for step in it._graph().steps for op in step.ops]
    assert not set(executed) & set(FOLDED) and set(executed) == {2, 4, 7}
    # The two DEQUANTIZE results are equal: one array holds both.
    t = it._graph().tensors
    deq = [op.outputs[0] for op in it._graph().subgraph.operators if op.index in (1, 3)]
    assert deq[0].index != deq[1].index and t[deq[0].index].constant is t[deq[1].index].constant
    x = np.random.default_rng(0).uniform(-2, 2, (1, 9, 11, 3)).astype(np.float32)
    assert_same(_run(it, x), run_litert(model, [x]), lsb=0)


def test_folding_survives_resize_and_reallocate():
    b = ModelBuilder()
    x = b.add_input((1, 4, 4, 3), np.float32, shape_signature=(-1, -1, -1, 3))
    c = b.add_constant(np.array([10, -20, 30], np.int8), scale=0.05, zero_point=2)
    cf = b.add_tensor((3,), np.float32)
    b.add_op("DEQUANTIZE", [c], [cf])
    y = b.add_tensor((1, 4, 4, 3), np.float32)
    b.add_op("SUB", [x, cf], [y])
    b.mark_output(y)
    model = b.build()
    it = Interpreter(model_content=model)
    it.allocate_tensors()
    rng = np.random.default_rng(1)
    for shape in [(1, 4, 4, 3), (2, 5, 7, 3), (1, 1, 1, 3)]:
        it.resize_tensor_input(0, shape)
        it.allocate_tensors()
        assert it._get_op_details(0)["backend"] == "constant"
        x = rng.uniform(-1, 1, shape).astype(np.float32)
        lite = litert().Interpreter(model_content=model)
        lite.resize_tensor_input(0, shape)
        lite.allocate_tensors()
        assert_same(_run(it, x), _run(lite, x), lsb=0)


def test_random_ops_and_runtime_inputs_are_not_folded():
    b = ModelBuilder()
    x = b.add_input((2, 3), np.float32)
    shape = b.add_constant(np.array([2, 3], np.int32))
    r = b.add_tensor((2, 3), np.float32)
    b.add_op("RANDOM_UNIFORM", [shape], [r], options_type="RandomOptions", seed=4, seed2=9)
    y = b.add_tensor((2, 3), np.float32)
    b.add_op("ADD", [x, r], [y])
    b.mark_output(y)
    it = Interpreter(model_content=b.build())
    it.allocate_tensors()
    assert it._get_op_details(0)["backend"] == "numpy"
    x = np.zeros((2, 3), np.float32)
    first = _run(it, x)[0].copy()
    assert not np.array_equal(first, _run(it, x)[0])   # fresh values at every invoke
