"""ISA selection, the fallback without compiled modules, and the partitioner's decisions."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import qrun.delegate as delegate
from qrun import Interpreter, OpResolverType
from qrun.delegate import backend
from qrun.modelbuilder import ModelBuilder
from tests.delegate.test_conv import GEOMETRIES, conv_model
from tests.delegate.util import ISAS, forced_isa, model_inputs, run_delegate
from tests.oracle import assert_same, run_qrun

pytestmark = pytest.mark.skipif(not ISAS, reason="qrun's C kernels are not built")


def test_scalar_build_is_present_and_runnable():
    assert ISAS[0] == "scalar"


def test_default_isa_is_the_best_built():
    with forced_isa(None):
        it = Interpreter(model_content=conv_model("int8", GEOMETRIES[0], "NONE", seed=0))
        it.allocate_tensors()
    assert it._get_ops_details()[0]["isa"] == ISAS[-1]


@pytest.mark.parametrize("isa", ISAS)
def test_forced_isa_is_used(isa):
    model = conv_model("int8pc", GEOMETRIES[1], "RELU", seed=1)
    run_delegate(model, model_inputs(model, 1), isa)


def test_unknown_isa_is_an_error():
    with forced_isa("neon"):
        it = Interpreter(model_content=conv_model("int8", GEOMETRIES[0], "NONE", seed=0))
        with pytest.raises(backend.BackendError, match="QRUN_ISA=neon is not one of"):
            it.allocate_tensors()


def test_isa_the_cpu_lacks_is_an_error(monkeypatch):
    monkeypatch.setattr(backend, "cpu_isas", lambda: ["scalar"])
    with pytest.raises(backend.BackendError, match="this CPU does not support it"):
        backend.load_backend.__wrapped__("avx2")


def test_without_compiled_modules_numpy_runs_and_warns_once(monkeypatch):
    monkeypatch.setattr(backend, "_import", lambda isa: None)
    monkeypatch.setattr(backend, "load_backend", backend.load_backend.__wrapped__)
    monkeypatch.setattr(delegate, "_warned", False)
    model = conv_model("int8", GEOMETRIES[0], "NONE", seed=0)
    inputs = model_inputs(model, 0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = run_delegate(model, inputs, expect_backend="numpy")
        run_delegate(model, inputs, expect_backend="numpy")
    assert [str(w.message) for w in caught if "not built" in str(w.message)] == [
        "qrun's C kernels are not built; every op runs on the numpy reference kernels "
        "(pip install qrun from source to compile them)"]
    assert_same(ours, run_qrun(model, inputs))


def test_reference_resolver_does_not_delegate():
    model = conv_model("int8", GEOMETRIES[0], "NONE", seed=0)
    it = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    assert [d["backend"] for d in it._get_ops_details()] == ["numpy"]


def _chain_model(middle: str):
    """conv -> depthwise -> `middle` -> conv -> fully connected, int8; `middle` "float RELU"
    is DEQUANTIZE -> RELU on float32 (not delegated) -> QUANTIZE."""
    rng = np.random.default_rng(0)
    b = ModelBuilder()
    q = dict(scale=0.05, zero_point=-3)

    def act(shape, dtype=np.int8):
        return b.add_tensor(shape, dtype, **q) if dtype != np.float32 else b.add_tensor(
            shape, dtype)

    def weights(shape, axis):
        return b.add_constant(rng.integers(-8, 9, shape).astype(np.int8), scale=0.01,
                              zero_point=0, quantized_dimension=axis)

    def bias(n):
        return b.add_constant(rng.integers(-500, 500, n).astype(np.int32), scale=0.0005,
                              zero_point=0)

    conv = dict(padding="SAME", stride_h=1, stride_w=1, dilation_h_factor=1,
                dilation_w_factor=1, fused_activation_function="RELU")
    x = b.add_input([1, 6, 6, 3], np.int8, **q)
    t1 = act([1, 6, 6, 8])
    b.add_op("CONV_2D", [x, weights((8, 3, 3, 3), 0), bias(8)], [t1], **conv)
    t2 = act([1, 6, 6, 8])
    b.add_op("DEPTHWISE_CONV_2D", [t1, weights((1, 3, 3, 8), 3), bias(8)], [t2],
             depth_multiplier=1, **conv)
    if middle == "float RELU":
        f = act([1, 6, 6, 8], np.float32)
        b.add_op("DEQUANTIZE", [t2], [f])
        g = act([1, 6, 6, 8], np.float32)
        b.add_op("RELU", [f], [g])
        t3 = act([1, 6, 6, 8])
        b.add_op("QUANTIZE", [g], [t3])
    else:
        t3 = t2
    t4 = act([1, 6, 6, 4])
    b.add_op("CONV_2D", [t3, weights((4, 1, 1, 8), 0), bias(4)], [t4], **conv)
    y = act([1, 10])
    b.add_op("FULLY_CONNECTED", [t4, weights((10, 144), 0), bias(10)], [y])
    b.mark_output(y)
    return b.build()


def _steps(model):
    it = Interpreter(model_content=model)
    it.allocate_tensors()
    return it, it._graphs[0].steps


def test_a_run_of_supported_ops_is_one_partition():
    it, steps = _steps(_chain_model("none"))
    assert len(steps) == 1 and isinstance(steps[0], delegate.DelegateStep)
    assert [d["backend"] for d in it._get_ops_details()] == ["c"] * 4


def test_unsupported_ops_split_partitions():
    it, steps = _steps(_chain_model("float RELU"))
    details = it._get_ops_details()
    assert [d["op_name"] for d in details] == [
        "CONV_2D", "DEPTHWISE_CONV_2D", "DEQUANTIZE", "RELU", "QUANTIZE", "CONV_2D",
        "FULLY_CONNECTED"]
    expected = ["c", "c", "c", "numpy", "c", "c", "c"]
    assert [d["backend"] for d in details] == expected
    assert [len(s.ops) for s in steps] == [3, 1, 3]
    assert all(d["isa"] == ISAS[-1] for d, e in zip(details, expected) if e == "c")


def test_partitions_and_numpy_share_the_arena():
    # Each op is within 1 LSB of the reference; through four ops the output moves by a few.
    model = _chain_model("float RELU")
    inputs = model_inputs(model, 3)
    it = Interpreter(model_content=model)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], inputs[0])
    it.invoke()
    ours = it.get_tensor(it.get_output_details()[0]["index"])
    ref = run_qrun(model, inputs)[0]
    assert len(np.unique(ref)) > 3
    assert np.abs(ours.astype(int) - ref).max() <= 4
    assert np.abs(ours.astype(int) - ref).mean() < 0.5


def test_resize_rebuilds_the_plan():
    model = conv_model("int8pc", GEOMETRIES[2], "RELU6", seed=2)
    it = Interpreter(model_content=model)
    it.allocate_tensors()
    index = it.get_input_details()[0]["index"]
    it.resize_tensor_input(index, [3, 9, 9, 4])
    it.allocate_tensors()
    assert [d["backend"] for d in it._get_ops_details()] == ["c"]
    x = np.random.default_rng(0).integers(-128, 128, (3, 9, 9, 4)).astype(np.int8)
    it.set_tensor(index, x)
    it.invoke()
    ours = it.get_tensor(it.get_output_details()[0]["index"])
    ref = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    ref.resize_tensor_input(index, [3, 9, 9, 4])
    ref.allocate_tensors()
    ref.set_tensor(index, x)
    ref.invoke()
    theirs = ref.get_tensor(ref.get_output_details()[0]["index"])
    assert ours.shape == (3, 5, 5, 3)
    assert np.abs(ours.astype(int) - theirs).max() <= 1


def test_interpreters_invoke_from_threads():
    # cffi releases the GIL during qrun_execute; two interpreters run side by side.
    import threading
    model = conv_model("uint8", GEOMETRIES[10], "NONE", seed=4)
    inputs = model_inputs(model, 4)
    expected = run_delegate(model, inputs)
    results = {}

    def work(k):
        results[k] = [run_delegate(model, inputs) for _ in range(5)]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for runs in results.values():
        for out in runs:
            assert_same(out, expected)


def test_plan_errors_keep_the_op_on_numpy(monkeypatch):
    from qrun.delegate import table
    from qrun.delegate.plan import PlanError

    def refuse(op, ctx):
        raise PlanError("refused for the test")
    entry = table.OPS["DEPTHWISE_CONV_2D"]
    monkeypatch.setitem(table.OPS, "DEPTHWISE_CONV_2D",
                        table.DelegateOp(entry.name, entry.rule, refuse, entry.summary))
    it, steps = _steps(_chain_model("none"))
    assert [d["backend"] for d in it._get_ops_details()] == ["c", "numpy", "c", "c"]
    assert it._graphs[0].delegate.rejected == {1: "refused for the test"}


def test_plan_context_checks_arena_ranges():
    from qrun.delegate.plan import PlanContext, PlanError
    it, steps = _steps(_chain_model("none"))
    g = it._graphs[0]
    ctx = PlanContext(g.delegate.backend, g)
    x = g.tensors[it.get_input_details()[0]["index"]]
    assert ctx.offset(x) == g.arena_offsets[x.index]
    with pytest.raises(PlanError, match="exceed"):
        ctx.offset(x, x.nbytes + 1)
    weights = g.subgraph.operators[0].inputs[1]
    with pytest.raises(PlanError, match="not in the arena"):
        ctx.offset(weights)


def test_a_deleted_interpreter_frees_its_arena_at_once():
    import gc
    import weakref
    gc.disable()
    try:
        it, steps = _steps(_chain_model("none"))
        owner = weakref.ref(it._graphs[0].arena_owner)
        del it, steps
        assert owner() is None
    finally:
        gc.enable()


def test_ops_on_dynamic_tensors_stay_on_numpy():
    # RESHAPE to a shape given at run time: its output (and what reads it) is sized during
    # invoke, so neither can be planned in C.
    q = dict(scale=0.05, zero_point=-3)
    b = ModelBuilder()
    x = b.add_input([2, 6], np.int8, **q)
    shape = b.add_input([2], np.int32)
    r = b.add_tensor([3, 4], np.int8, **q)
    b.add_op("RESHAPE", [x, shape], [r])
    y = b.add_tensor([3, 4], np.int8, scale=0.05, zero_point=-3)
    b.add_op("RELU", [r], [y])
    b.mark_output(y)
    it = Interpreter(model_content=b.build())
    it.allocate_tensors()
    assert [d["backend"] for d in it._get_ops_details()] == ["numpy", "numpy"]
    it.set_tensor(it.get_input_details()[0]["index"], np.arange(12, dtype=np.int8).reshape(2, 6))
    it.set_tensor(it.get_input_details()[1]["index"], np.array([3, 4], np.int32))
    it.invoke()
    assert it.get_tensor(it.get_output_details()[0]["index"]).shape == (3, 4)
