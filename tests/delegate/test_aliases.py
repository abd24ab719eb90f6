"""RESHAPE, SQUEEZE and EXPAND_DIMS as aliases: the output is the input's arena bytes, so
the op has nothing to do (no numpy copy, no C node), where TFLite's arena planner shares
them; results stay those of LiteRT's reference kernels."""
from __future__ import annotations

import numpy as np
import pytest

from qrun import Interpreter, OpResolverType
from qrun.delegate import DelegateStep
from qrun.interpreter import graph as graph_module
from qrun.interpreter.graph import AliasStep
from qrun.interpreter.planner import ALIGNMENT, Allocation, plan_arena
from qrun.modelbuilder import ModelBuilder
from tests.delegate.util import ISAS, model_inputs
from tests.oracle import assert_same, run_litert, run_qrun

Q = dict(scale=0.05, zero_point=-3)
CONV = dict(padding="SAME", stride_h=1, stride_w=1, dilation_h_factor=1, dilation_w_factor=1,
            fused_activation_function="RELU")


def _weights(b, rng, shape):
    return b.add_constant(rng.integers(-8, 9, shape).astype(np.int8), scale=0.01,
                          zero_point=0, quantized_dimension=0)


def _bias(b, rng, n):
    return b.add_constant(rng.integers(-500, 500, n).astype(np.int32), scale=0.0005,
                          zero_point=0)


def fan_out_model() -> bytes:
    """x -> CONV -> t1 -> RESHAPE -> r1 -> FC -> f1 ----------------------------> ADD -> y
                      t1 -> CONV 1x1 -> t2 -> SQUEEZE -> s -> EXPAND_DIMS -> e -> FC -> f2 ->
    t1 is read after its reshape (the shared bytes must outlive both), t2's aliases chain."""
    rng = np.random.default_rng(7)
    b = ModelBuilder()
    x = b.add_input([1, 8, 8, 8], np.int8, **Q)
    t1 = b.add_tensor([1, 8, 8, 16], np.int8, **Q)
    b.add_op("CONV_2D", [x, _weights(b, rng, (16, 3, 3, 8)), _bias(b, rng, 16)], [t1], **CONV)
    r1 = b.add_tensor([1, 1024], np.int8, **Q)
    b.add_op("RESHAPE", [t1, b.add_constant(np.array([1, 1024], np.int32))], [r1],
             new_shape=[1, 1024])
    f1 = b.add_tensor([1, 10], np.int8, scale=0.5, zero_point=2)
    b.add_op("FULLY_CONNECTED", [r1, _weights(b, rng, (10, 1024)), _bias(b, rng, 10)], [f1])
    t2 = b.add_tensor([1, 8, 8, 1], np.int8, **Q)
    b.add_op("CONV_2D", [t1, _weights(b, rng, (1, 1, 1, 16)), _bias(b, rng, 1)], [t2], **CONV)
    s = b.add_tensor([8, 8], np.int8, **Q)
    b.add_op("SQUEEZE", [t2], [s], squeeze_dims=[0, 3])
    e = b.add_tensor([1, 64], np.int8, **Q)
    b.add_op("RESHAPE", [s, b.add_constant(np.array([1, 64], np.int32))], [e], new_shape=[1, 64])
    e3 = b.add_tensor([1, 1, 64], np.int8, **Q)
    b.add_op("EXPAND_DIMS", [e, b.add_constant(np.array([1], np.int32))], [e3])
    f2 = b.add_tensor([1, 10], np.int8, scale=0.5, zero_point=2)
    b.add_op("FULLY_CONNECTED", [e3, _weights(b, rng, (10, 64)), _bias(b, rng, 10)], [f2])
    y = b.add_tensor([1, 10], np.int8, scale=0.5, zero_point=2)
    b.add_op("ADD", [f1, f2], [y])
    b.mark_output(y)
    return b.build()


ALIASED = {"RESHAPE", "SQUEEZE", "EXPAND_DIMS"}


def _prepared(model: bytes, **kw) -> Interpreter:
    it = Interpreter(model_content=model, **kw)
    it.allocate_tensors()
    return it


def _run(it: Interpreter, inputs) -> list:
    for d, x in zip(it.get_input_details(), inputs):
        it.set_tensor(d["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


def test_aliased_tensors_are_one_allocation_over_both_lifetimes():
    # a (written at 0) is reshaped into b at 1, b is read at 5; c lives 2..3 in between.
    allocs = [Allocation(0, 256, 0, 1), Allocation(1, 256, 1, 5), Allocation(2, 256, 2, 3)]
    offsets, total = plan_arena(allocs, aliases=[(0, 1)])
    assert offsets[0] == offsets[1]
    assert abs(offsets[2] - offsets[0]) >= 256 and total == 512
    offsets, total = plan_arena(allocs)
    assert offsets[0] == offsets[2] != offsets[1]


def test_chained_aliases_share_one_offset():
    allocs = [Allocation(i, 64 * (i + 1), i - 1, i) for i in range(4)]
    offsets, total = plan_arena(allocs, aliases=[(1, 2), (2, 3)])
    assert offsets[1] == offsets[2] == offsets[3] != offsets[0]
    assert total == ALIGNMENT + 4 * 64


@pytest.mark.parametrize("resolver", [OpResolverType.BUILTIN_REF, OpResolverType.AUTO])
def test_aliased_ops_share_bytes_and_results_are_unchanged(resolver):
    model = fan_out_model()
    inputs = model_inputs(model, 3)
    it = _prepared(model, experimental_op_resolver_type=resolver)
    g = it._graphs[0]
    ops = g.subgraph.operators
    assert sorted(ops[i].opname for i in g.aliases) == ["EXPAND_DIMS", "RESHAPE", "RESHAPE",
                                                         "SQUEEZE"]
    for x, y in g.aliases.values():
        assert g.arena_offsets[x] == g.arena_offsets[y]
    ours = _run(it, inputs)
    for x, y in g.aliases.values():
        assert np.shares_memory(g.tensors[x].data, g.tensors[y].data)
    reference = run_litert(model, inputs)
    if resolver == OpResolverType.BUILTIN_REF:
        assert_same(ours, reference)
        assert all(isinstance(s, AliasStep) for s in g.steps if s.ops[0].opname in ALIASED)
    else:
        assert_same(ours, reference, lsb=2)   # through CONV and FC, each within 1 LSB


@pytest.mark.skipif(not ISAS, reason="qrun's C kernels are not built")
def test_the_delegate_plan_has_no_node_for_an_aliased_op():
    it = _prepared(fan_out_model())
    steps = it._graphs[0].steps
    assert len(steps) == 1 and isinstance(steps[0], DelegateStep)
    assert sum(op.opname in ALIASED for op in steps[0].ops) == 4
    # CONV, FC, CONV, FC, ADD: one node each, none for the four aliases.
    assert steps[0]._plan.num_nodes == 5
    assert [d["backend"] for d in it._get_ops_details()] == ["c"] * 9


def test_aliases_make_the_arena_smaller_and_change_no_result(monkeypatch):
    model = fan_out_model()
    inputs = model_inputs(model, 4)
    shared = _prepared(model)
    shared_out = _run(shared, inputs)
    monkeypatch.setattr(graph_module, "find_aliases", lambda subgraph, dynamic: {})
    copied = _prepared(model)
    assert copied._graphs[0].aliases == {}
    assert shared.arena_bytes < copied.arena_bytes
    assert_same(shared_out, _run(copied, inputs))


def _reshape_model(middle: bool) -> bytes:
    """x -> RESHAPE -> y, with a RELU before and after it when `middle`."""
    b = ModelBuilder()
    x = b.add_input([2, 3, 4], np.int8, **Q)
    src = x
    if middle:
        src = b.add_tensor([2, 3, 4], np.int8, **Q)
        b.add_op("RELU", [x], [src])
    y = b.add_tensor([6, 4], np.int8, **Q)
    b.add_op("RESHAPE", [src, b.add_constant(np.array([6, 4], np.int32))], [y],
             new_shape=[6, 4])
    if middle:
        out = b.add_tensor([6, 4], np.int8, **Q)
        b.add_op("RELU", [y], [out])
        y = out
    b.mark_output(y)
    return b.build()


@pytest.mark.parametrize("resolver", [OpResolverType.BUILTIN_REF, OpResolverType.AUTO])
def test_graph_inputs_and_outputs_keep_their_own_bytes(resolver):
    # The caller writes a graph input's bytes and reads a graph output's: LiteRT shares
    # neither, and the reshape copies.
    model = _reshape_model(middle=False)
    it = _prepared(model, experimental_op_resolver_type=resolver)
    g = it._graphs[0]
    assert g.aliases == {}
    assert not isinstance(g.steps[0], AliasStep)
    if resolver == OpResolverType.AUTO and ISAS:
        assert g.steps[0]._plan.num_nodes == 1
    inputs = model_inputs(model, 1)
    assert_same(_run(it, inputs), run_litert(model, inputs))


def test_preserved_tensors_are_not_aliased():
    model = _reshape_model(middle=True)
    inputs = model_inputs(model, 2)
    it = _prepared(model, experimental_preserve_all_tensors=True)
    g = it._graphs[0]
    assert g.aliases == {}
    assert len(set(g.arena_offsets.values())) == len(g.arena_offsets)
    assert_same(_run(it, inputs), run_litert(model, inputs))
    shared = _prepared(model)
    assert len(shared._graphs[0].aliases) == 1
    assert_same(_run(shared, inputs), run_qrun(model, inputs))


def test_run_time_sized_tensors_are_not_aliased():
    # RESHAPE to a shape given at run time: its output is sized during invoke.
    b = ModelBuilder()
    x = b.add_input([2, 6], np.int8, **Q)
    shape = b.add_input([2], np.int32)
    t = b.add_tensor([2, 6], np.int8, **Q)
    b.add_op("RELU", [x], [t])
    r = b.add_tensor([3, 4], np.int8, **Q)
    b.add_op("RESHAPE", [t, shape], [r])
    y = b.add_tensor([3, 4], np.int8, **Q)
    b.add_op("RELU", [r], [y])
    b.mark_output(y)
    it = _prepared(b.build())
    assert it._graphs[0].aliases == {}
    it.set_tensor(it.get_input_details()[0]["index"], np.arange(12, dtype=np.int8).reshape(2, 6))
    it.set_tensor(it.get_input_details()[1]["index"], np.array([3, 4], np.int32))
    it.invoke()
    out = it.get_tensor(it.get_output_details()[0]["index"])
    np.testing.assert_array_equal(out, np.maximum(np.arange(12).reshape(3, 4), -3))
