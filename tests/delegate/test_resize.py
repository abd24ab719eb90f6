"""resize_tensor_input rebuilds only what depends on shape: the packed weights of the first
plan are reused (not packed again), indirection buffers and arena offsets are rebuilt, and
the results equal a fresh Interpreter's at the new shape."""
from __future__ import annotations

import numpy as np
import pytest

from qrun import Interpreter, OpResolverType
from qrun.delegate import DelegateStep
from qrun.delegate import conv as delegate_conv
from qrun.modelbuilder import ModelBuilder
from tests.delegate.util import ISAS
from tests.oracle import assert_same

pytestmark = pytest.mark.skipif(not ISAS, reason="qrun's C kernels are not built")

Q = dict(scale=0.05, zero_point=-3)
CONV = dict(padding="SAME", stride_h=2, stride_w=2, dilation_h_factor=1, dilation_w_factor=1,
            fused_activation_function="RELU")
SMALL, LARGE = [1, 6, 6, 3], [2, 11, 9, 3]


def resizable_model() -> bytes:
    """x[b, h, w, 3] -> CONV 3x3 /2 -> DEPTHWISE 3x3 -> CONV 1x1 -> MEAN(H, W) -> SQUEEZE
    -> FULLY_CONNECTED -> [b, 10]: every shape follows the input's."""
    rng = np.random.default_rng(5)
    b = ModelBuilder()

    def weights(shape, axis):
        return b.add_constant(rng.integers(-20, 21, shape).astype(np.int8),
                              scale=rng.uniform(0.005, 0.02, shape[axis]).astype(np.float32),
                              zero_point=np.zeros(shape[axis], np.int64),
                              quantized_dimension=axis)

    def bias(n):
        return b.add_constant(rng.integers(-500, 500, n).astype(np.int32), scale=0.0005,
                              zero_point=0)
    x = b.add_input([1, 6, 6, 3], np.int8, **Q)
    t1 = b.add_tensor([1, 3, 3, 8], np.int8, **Q)
    b.add_op("CONV_2D", [x, weights((8, 3, 3, 3), 0), bias(8)], [t1], **CONV)
    t2 = b.add_tensor([1, 3, 3, 8], np.int8, **Q)
    b.add_op("DEPTHWISE_CONV_2D", [t1, weights((1, 3, 3, 8), 3), bias(8)], [t2],
             depth_multiplier=1, **dict(CONV, stride_h=1, stride_w=1))
    t3 = b.add_tensor([1, 3, 3, 16], np.int8, **Q)
    b.add_op("CONV_2D", [t2, weights((16, 1, 1, 8), 0), bias(16)], [t3],
             **dict(CONV, stride_h=1, stride_w=1))
    m = b.add_tensor([1, 1, 1, 16], np.int8, **Q)
    b.add_op("MEAN", [t3, b.add_constant(np.array([1, 2], np.int32))], [m], keep_dims=True)
    s = b.add_tensor([1, 16], np.int8, **Q)
    b.add_op("SQUEEZE", [m], [s], squeeze_dims=[1, 2])
    y = b.add_tensor([1, 10], np.int8, scale=0.1, zero_point=4)
    b.add_op("FULLY_CONNECTED", [s, weights((10, 16), 0), bias(10)], [y])
    b.mark_output(y)
    return b.build()


MODEL = resizable_model()


def _input(shape, seed):
    return np.random.default_rng(seed).integers(-128, 128, shape).astype(np.int8)


def _run(it, x):
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


def _allocated(shape=None, **kw):
    it = Interpreter(model_content=MODEL, **kw)
    if shape is not None:
        it.resize_tensor_input(it.get_input_details()[0]["index"], shape)
    it.allocate_tensors()
    return it


def _plan_pointers(it):
    """{op index: (packed weights address, tap or indirection address or 0)} of the delegated
    convolutions and fully connected ops, read back from the C plan."""
    (step,) = it._graphs[0].steps
    assert isinstance(step, DelegateStep)
    ffi, lib = step._ctx.ffi, step._ctx.backend.lib
    types = {lib.QRUN_OP_GEMM: "qrun_gemm_params *", lib.QRUN_OP_IGEMM: "qrun_gemm_params *",
             lib.QRUN_OP_DWCONV: "qrun_dwconv_params *"}
    nodes = [step._plan.nodes[i] for i in range(step._plan.num_nodes)]
    nodes = [n for n in nodes if n.kind in types]
    ops = [op for op in step.ops if op.opname in ("CONV_2D", "DEPTHWISE_CONV_2D",
                                                  "FULLY_CONNECTED")]
    assert len(nodes) == len(ops) == 4
    out = {}
    for op, n in zip(ops, nodes):
        p = ffi.cast(types[n.kind], n.params)
        ind = (ffi.NULL if n.kind == lib.QRUN_OP_GEMM else p.tap_rows
               if n.kind == lib.QRUN_OP_IGEMM else p.indirection)
        out[op.index] = (int(ffi.cast("uintptr_t", p.packed_w)),
                         int(ffi.cast("uintptr_t", ind)))
    return out


@pytest.fixture
def pack_calls(monkeypatch):
    """Counts the weight packings of the convolution module."""
    calls = []
    for name in ("pack_gemm", "pack_dwconv"):
        real = getattr(delegate_conv, name)

        def counted(*args, _real=real, _name=name):
            calls.append(_name)
            return _real(*args)
        monkeypatch.setattr(delegate_conv, name, counted)
    return calls


def test_resize_reuses_the_packed_weights(pack_calls):
    it = _allocated()
    assert sorted(pack_calls) == ["pack_dwconv", "pack_gemm", "pack_gemm", "pack_gemm"]
    before = _plan_pointers(it)
    index = it.get_input_details()[0]["index"]
    it.resize_tensor_input(index, LARGE)
    it.allocate_tensors()
    assert len(pack_calls) == 4, "weights packed again: %s" % pack_calls
    after = _plan_pointers(it)
    for op in before:
        assert after[op][0] == before[op][0], "op %d: packed weights not reused" % op
    # The windowed ops' indirection buffers follow the new input size.
    for op, (_, ind) in before.items():
        if ind:
            assert after[op][1] != ind, "op %d: indirection buffer not rebuilt" % op
    it.resize_tensor_input(index, SMALL)
    it.allocate_tensors()
    assert len(pack_calls) == 4
    assert {op: p[0] for op, p in _plan_pointers(it).items()} == {
        op: p[0] for op, p in before.items()}


@pytest.mark.parametrize("shapes", [[LARGE], [LARGE, SMALL], [[3, 4, 5, 3], LARGE]])
def test_results_after_resize_equal_a_fresh_interpreter(shapes):
    it = _allocated()
    first = _run(it, _input(SMALL, 0))
    for k, shape in enumerate(shapes):
        it.resize_tensor_input(it.get_input_details()[0]["index"], shape)
        it.allocate_tensors()
        x = _input(shape, k + 1)
        ours = _run(it, x)
        assert_same(ours, _run(_allocated(shape), x), what="resized vs fresh at %s" % shape)
        reference = _run(_allocated(shape, experimental_op_resolver_type=
                                    OpResolverType.BUILTIN_REF), x)
        assert_same(ours, reference, lsb=3, what="resized vs numpy at %s" % shape)
        assert ours[0].shape == (shape[0], 10)
    if shapes[-1] == SMALL:
        assert_same(_run(it, _input(SMALL, 0)), first)
