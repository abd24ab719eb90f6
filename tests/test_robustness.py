"""Misuse of the API and hostile sizes: each case raises a clear exception (type and message
asserted) or behaves as LiteRT does. Cases already in tests/test_api.py are not repeated."""
from __future__ import annotations

import numpy as np
import pytest

from qrun import Interpreter, OpResolverType
from qrun.interpreter import graph
from qrun.modelbuilder import ModelBuilder

from .oracle import litert, run_litert, run_qrun


def add_model(shape=(1, 8, 8, 4), signature=None):
    """int8 ADD of an input and itself: runs in the C delegate."""
    b = ModelBuilder()
    x = b.add_input(shape, np.int8, scale=0.05, zero_point=3, shape_signature=signature)
    y = b.add_tensor(shape, np.int8, scale=0.1, zero_point=-2, shape_signature=signature)
    b.add_op("ADD", [x, x], [y])
    b.mark_output(y)
    return b.build()


def quantize_model(shape):
    b = ModelBuilder()
    x = b.add_input(shape, np.float32)
    y = b.add_tensor(shape, np.int8, scale=0.1, zero_point=-5)
    b.add_op("QUANTIZE", [x], [y])
    b.mark_output(y)
    return b.build()


def allocated(model=None, **kw):
    it = Interpreter(model_content=model or add_model(), **kw)
    it.allocate_tensors()
    return it


def reference_output(x):
    it = allocated(experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.set_tensor(0, np.ascontiguousarray(x))
    it.invoke()
    return it.get_tensor(1)


# -- set_tensor with arrays of every memory layout ------------------------------------------

def _layouts():
    rng = np.random.default_rng(0)
    base = rng.integers(-128, 128, (1, 8, 8, 4), dtype=np.int8)
    wide = np.zeros((1, 8, 16, 4), np.int8)
    wide[:, :, ::2] = base
    readonly = base.copy()
    readonly.flags.writeable = False
    return base, {
        "non-contiguous": wide[:, :, ::2],
        "fortran-order": np.asfortranarray(base),
        "read-only": readonly,
        "negative-strides": base[:, ::-1].copy()[:, ::-1],
        "broadcast-view": np.broadcast_to(base[:, :1], base.shape),
    }


@pytest.mark.parametrize("layout", list(_layouts()[1]))
def test_set_tensor_any_memory_layout(layout):
    base, arrays = _layouts()
    x = arrays[layout]
    it = allocated()
    it.set_tensor(0, x)
    it.invoke()
    np.testing.assert_array_equal(it.get_tensor(1), reference_output(np.array(x)))
    # The caller's array is not modified and stays usable.
    assert x.flags.writeable == (layout not in ("read-only", "broadcast-view"))


def test_set_tensor_copies_the_value():
    it = allocated()
    x = np.ones((1, 8, 8, 4), np.int8)
    it.set_tensor(0, x)
    x[...] = 100
    it.invoke()
    np.testing.assert_array_equal(it.get_tensor(1), reference_output(np.ones_like(x)))


@pytest.mark.parametrize("value,message", [
    ([[1, 2]], "Got value of type INT64 but expected type INT8"),   # a list
    (np.zeros((1, 8, 8, 4), np.float32), "expected type INT8"),
    (np.zeros((1, 8, 8, 4), object), "expected type INT8"),
    (np.int8(3), "Dimension mismatch"),                     # a scalar
], ids=["list", "float32", "object", "scalar"])
def test_set_tensor_rejects(value, message):
    it = allocated()
    with pytest.raises(ValueError, match=message):
        it.set_tensor(0, value)


def test_set_tensor_on_output_then_invoke_overwrites_it():
    it = allocated()
    it.set_tensor(1, np.full((1, 8, 8, 4), 7, np.int8))
    it.set_tensor(0, np.zeros((1, 8, 8, 4), np.int8))
    it.invoke()
    np.testing.assert_array_equal(it.get_tensor(1),
                                  reference_output(np.zeros((1, 8, 8, 4), np.int8)))


@pytest.mark.parametrize("index", [2, 2**40, -2**40, "0x", None],
                         ids=["past-end", "huge", "huge-negative", "string", "none"])
def test_get_tensor_bad_index_message(index):
    it = allocated()
    with pytest.raises(ValueError, match="[Ii]nvalid tensor index"):
        it.get_tensor(index)


def test_subgraph_index_out_of_range():
    it = allocated()
    with pytest.raises(ValueError, match="subgraph_index is out of range"):
        it.get_tensor(0, subgraph_index=1)


# -- tensor() views across allocate_tensors ----------------------------------------------

def test_tensor_accessor_follows_reallocation():
    """The function tensor() returns stays valid across allocate_tensors (as LiteRT's): called
    again it gives a view of the new arena, never of freed memory."""
    it = allocated()
    accessor = it.tensor(0)
    accessor()[...] = 1
    it.resize_tensor_input(0, (2, 8, 8, 4))
    it.allocate_tensors()
    view = accessor()
    assert view.shape == (2, 8, 8, 4)
    view[...] = 2
    del view
    it.invoke()
    np.testing.assert_array_equal(it.get_tensor(1)[1],
                                  reference_output(np.full((1, 8, 8, 4), 2, np.int8))[0])


def test_view_held_across_allocate_tensors_keeps_the_old_arena_alive():
    it = allocated()
    view = it.tensor(0)()
    with pytest.raises(RuntimeError, match="reference to internal data"):
        it.allocate_tensors()
    view[...] = 5        # still writable memory: the arena was not replaced
    assert int(view.sum()) == 5 * view.size
    del view
    it.allocate_tensors()


# -- resizing --------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(0, 8, 8, 4), (1, 0, 8, 4)], ids=["zero-batch", "zero-rows"])
def test_resize_to_zero_dimension_runs_empty(shape):
    """As in LiteRT: an empty input gives an empty output, in the delegate too."""
    it = allocated()
    it.resize_tensor_input(0, shape)
    it.allocate_tensors()
    it.set_tensor(0, np.zeros(shape, np.int8))
    it.invoke()
    out = it.get_tensor(1)
    assert out.shape == shape and out.size == 0
    lite = litert().Interpreter(model_content=add_model())
    lite.resize_tensor_input(0, shape)
    lite.allocate_tensors()
    lite.invoke()
    assert lite.get_tensor(lite.get_output_details()[0]["index"]).shape == shape


@pytest.mark.parametrize("shape,exc,message", [
    ((1, -3, 8, 4), RuntimeError, "dimensions must be >= 0"),
    ((1, 2**62, 8, 4), ValueError, r"input 0 \(.*\) to \[1, %d, 8, 4\]: %d bytes, over the "
     "17179869184-byte cap" % (2**62, 2**62 * 8 * 4 * 4)),   # wraps int64; refused at resize
    ((1, 8, 8, "x"), ValueError, "tensor_size must be a list of integers"),
], ids=["negative", "huge", "not-integer"])
def test_resize_rejects(shape, exc, message):
    it = allocated(quantize_model((1, 8, 8, 4)))
    with pytest.raises(exc, match=message):
        it.resize_tensor_input(0, shape)
        it.allocate_tensors()


# -- allocation bounds -----------------------------------------------------------------------

def test_byte_size_overflowing_int64_is_rejected_before_allocation():
    dims = (2**31 - 1, 2**31 - 1, 2**31 - 1, 4)   # 2^95 bytes: wraps int64 to a small number
    it = Interpreter(model_content=quantize_model(dims))
    with pytest.raises(RuntimeError, match=r"needs %d bytes, over the \d+-byte limit"
                       % (np.prod(dims, dtype=object) * 4)):
        it.allocate_tensors()


def test_derived_limit_rejects_growth_the_model_does_not_declare(monkeypatch):
    """A model declaring a small input whose ops produce a huge tensor is refused at allocate
    (the limit derived from its declared sizes), with a message saying how to raise it."""
    monkeypatch.delenv(graph.CAP_ENV, raising=False)
    b = ModelBuilder()
    x = b.add_input((1, 4), np.int8, scale=0.1, zero_point=0)
    multiples = b.add_constant(np.array([1, 2**27], np.int32))
    y = b.add_tensor((1, 4), np.int8, scale=0.1, zero_point=0)   # declared small
    b.add_op("TILE", [x, multiples], [y])
    b.mark_output(y)
    it = Interpreter(model_content=b.build())
    with pytest.raises(RuntimeError, match="limit derived from the model.*QRUN_MAX_ARENA_BYTES"):
        it.allocate_tensors()
    monkeypatch.setenv(graph.CAP_ENV, str(4 << 30))
    it = Interpreter(model_content=b.build())
    assert it._graph(0).arena_limit() == 4 << 30


def test_derived_limit_follows_resized_inputs(monkeypatch):
    monkeypatch.delenv(graph.CAP_ENV, raising=False)
    it = allocated()
    g = it._graph(0)
    small = g.arena_limit()
    assert small == graph.MIN_DERIVED_LIMIT
    batch = 2 * graph.MIN_DERIVED_LIMIT // (8 * 8 * 4)
    it.resize_tensor_input(0, (batch, 8, 8, 4))
    assert g.arena_limit() >= graph.DERIVED_LIMIT_FACTOR * batch * 8 * 8 * 4


def test_user_cap_rejects_a_model_that_fits_the_derived_limit(monkeypatch):
    monkeypatch.setenv(graph.CAP_ENV, "100")
    it = Interpreter(model_content=add_model())
    with pytest.raises(RuntimeError, match="over the 100-byte limit: the user cap"):
        it.allocate_tensors()


@pytest.mark.parametrize("value", ["lots", "-5", "0"])
def test_bad_user_cap(monkeypatch, value):
    monkeypatch.setenv(graph.CAP_ENV, value)
    with pytest.raises(ValueError, match=graph.CAP_ENV):
        Interpreter(model_content=add_model()).allocate_tensors()


@pytest.mark.parametrize("value", ["lots", -5, 0, 1.5e9, True])
def test_bad_max_arena_bytes(value):
    with pytest.raises(ValueError, match="max_arena_bytes"):
        Interpreter(model_content=add_model(), max_arena_bytes=value)


def _cap_interpreter(how, cap, monkeypatch):
    """An interpreter of add_model() capped at `cap` bytes by the keyword or the env var."""
    if how == "keyword":
        monkeypatch.setenv(graph.CAP_ENV, "1")   # the keyword wins over the env var
        return Interpreter(model_content=add_model(), max_arena_bytes=cap)
    monkeypatch.setenv(graph.CAP_ENV, str(cap))
    return Interpreter(model_content=add_model())


@pytest.mark.parametrize("how", ["keyword", "env"])
def test_user_cap_rejects_resize_beyond_it(how, monkeypatch):
    """The input [1, 8, 8, 4] int8 is 256 bytes, its output as many: the arena is 512 (plus
    alignment) and fits a 4096-byte cap; an input of 4097 bytes does not even fit alone."""
    it = _cap_interpreter(how, 4096, monkeypatch)
    it.allocate_tensors()
    with pytest.raises(ValueError, match=r"input 0 \(.*\) to \[1, 8, 8, 65\]: 4160 bytes, over "
                       r"the 4096-byte cap"):
        it.resize_tensor_input(0, (1, 8, 8, 65))
    it.resize_tensor_input(0, (1, 8, 8, 12))   # 768 bytes: fits, and runs
    it.allocate_tensors()
    x = np.arange(768, dtype=np.int64).astype(np.int8).reshape(1, 8, 8, 12)
    it.set_tensor(0, x)
    it.invoke()
    ref = Interpreter(model_content=add_model(), max_arena_bytes=1 << 20,
                      experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    ref.resize_tensor_input(0, (1, 8, 8, 12))
    ref.allocate_tensors()
    ref.set_tensor(0, x)
    ref.invoke()
    np.testing.assert_array_equal(it.get_tensor(1), ref.get_tensor(1))
    # Both tensors fit the cap alone but not together: allocate_tensors() refuses the arena.
    it.resize_tensor_input(0, (1, 8, 8, 48))   # 3072 bytes in, 3072 out
    with pytest.raises(RuntimeError, match="over the 4096-byte limit: the user cap"):
        it.allocate_tensors()


def test_max_arena_bytes_keeps_litert_positional_arguments():
    """LiteRT's arguments keep their positions (max_arena_bytes is keyword only)."""
    it = Interpreter(None, add_model(), None, 2, OpResolverType.BUILTIN_REF, True,
                     max_arena_bytes=1 << 20)
    it.allocate_tensors()
    assert it._get_ops_details()[0]["backend"] == "numpy"
    assert it._graph(0).arena_limit() == 1 << 20
    with pytest.raises(TypeError):
        Interpreter(None, add_model(), None, 2, OpResolverType.AUTO, False, False, False, False,
                    False, False, 1 << 20)


# -- QUANTIZE of non-finite floats in the C delegate ------------------------------------------

def test_quantize_nan_inf_in_the_delegate_saturates_as_litert():
    x = np.array([np.nan, np.inf, -np.inf, 1e30, -1e30, 3e9, -3e9, 0.0, 12.7, -12.9] * 7,
                 np.float32)
    model = quantize_model(x.shape)
    ours = run_qrun(model, [x], resolver=OpResolverType.AUTO)
    it = Interpreter(model_content=model)
    it.allocate_tensors()
    assert it._get_op_details(0)["backend"] == "c"
    np.testing.assert_array_equal(ours[0], run_litert(model, [x])[0])
