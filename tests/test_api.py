"""The Interpreter API side by side with LiteRT (BUILTIN_REF): the same calls, the same answers.

Details are compared field by field (keys, value types, dtypes, values) for every model in
../shared/models before allocate_tensors, so they need no kernels; calls that invoke use
builder models of RESHAPE and SQUEEZE.
"""
from __future__ import annotations

import numpy as np
import pytest

import qrun
import qrun.interpreter
from qrun import Interpreter, OpResolverType
from qrun.modelbuilder import ModelBuilder

from .oracle import SHARED_MODELS, litert

lite = litert()
SHARED = sorted(SHARED_MODELS.glob("*.tflite"))
QRUN_ONLY_OP_KEYS = {"backend", "isa"}


def assert_same_value(ours, theirs, where: str = "") -> None:
    """Recursive equality that also requires the same types, dict keys and array dtypes."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), "%s: %r is not a dict" % (where, ours)
        assert set(ours) == set(theirs), "%s: keys %s != %s" % (where, sorted(ours),
                                                                 sorted(theirs))
        for k in theirs:
            assert_same_value(ours[k], theirs[k], "%s[%r]" % (where, k))
    elif isinstance(theirs, np.ndarray):
        assert isinstance(ours, np.ndarray), "%s: %r is not an ndarray" % (where, ours)
        assert ours.dtype == theirs.dtype, "%s: dtype %s != %s" % (where, ours.dtype,
                                                                    theirs.dtype)
        assert ours.shape == theirs.shape and np.array_equal(ours, theirs), (
            "%s: %r != %r" % (where, ours, theirs))
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), (
            "%s: %r != %r" % (where, ours, theirs))
        for k, (a, b) in enumerate(zip(ours, theirs)):
            assert_same_value(a, b, "%s[%d]" % (where, k))
    else:
        assert type(ours) is type(theirs), "%s: type %s != %s (%r vs %r)" % (
            where, type(ours).__name__, type(theirs).__name__, ours, theirs)
        assert ours == theirs, "%s: %r != %r" % (where, ours, theirs)


def both(**kw):
    """(qrun, LiteRT) interpreters built with the same arguments, numpy / reference kernels."""
    ours = Interpreter(experimental_op_resolver_type=OpResolverType.BUILTIN_REF, **kw)
    theirs = lite.Interpreter(experimental_op_resolver_type=lite.OpResolverType.BUILTIN_REF, **kw)
    return ours, theirs


def ops_details_without_qrun_keys(it) -> list:
    details = it._get_ops_details()
    for d in details:
        assert QRUN_ONLY_OP_KEYS <= set(d), "qrun op details lack %s" % QRUN_ONLY_OP_KEYS
    return [{k: v for k, v in d.items() if k not in QRUN_ONLY_OP_KEYS} for d in details]


def assert_same_details(ours, theirs) -> None:
    assert_same_value(ours.get_input_details(), theirs.get_input_details(), "inputs")
    assert_same_value(ours.get_output_details(), theirs.get_output_details(), "outputs")
    assert_same_value(ours.get_tensor_details(), theirs.get_tensor_details(), "tensors")
    assert_same_value(ops_details_without_qrun_keys(ours), theirs._get_ops_details(), "ops")
    assert_same_value(ours.get_signature_list(), theirs.get_signature_list(), "signatures")
    assert ours.num_subgraphs() == theirs.num_subgraphs()


# -- every shared model: details before allocate_tensors ---------------------------------------

def test_shared_models_exist():
    assert len(SHARED) >= 40, "expected the shared models in %s" % SHARED_MODELS


@pytest.mark.parametrize("path", SHARED, ids=[p.stem for p in SHARED])
def test_details_match_litert(path):
    ours, theirs = both(model_path=str(path))
    assert_same_details(ours, theirs)
    for key in theirs.get_signature_list():
        assert_same_value(ours.get_signature_runner(key).get_input_details(),
                          theirs.get_signature_runner(key).get_input_details(), key + " inputs")
        assert_same_value(ours.get_signature_runner(key).get_output_details(),
                          theirs.get_signature_runner(key).get_output_details(),
                          key + " outputs")


def test_details_from_content_equal_details_from_path():
    path = SHARED_MODELS / "mobilenet_v2_1.0_224_quant.tflite"
    assert_same_value(Interpreter(model_content=path.read_bytes()).get_tensor_details(),
                      Interpreter(model_path=str(path)).get_tensor_details())


# -- builder models whose ops exist: invoke-level API -------------------------------------------

def reshape_model(signature: bool = True) -> bytes:
    """x[-1,4,6] int8 -RESHAPE-> y[-1,1,24] -SQUEEZE-> z[-1,24] (batch dimension resizable)."""
    b = ModelBuilder()
    x = b.add_input([1, 4, 6], np.int8, scale=0.5, zero_point=3, shape_signature=[-1, 4, 6],
                    name="x")
    shape = b.add_constant(np.array([-1, 1, 24], np.int32), name="shape")
    y = b.add_tensor([1, 1, 24], np.int8, scale=0.5, zero_point=3, shape_signature=[-1, 1, 24],
                     name="y")
    z = b.add_tensor([1, 24], np.int8, scale=0.5, zero_point=3, shape_signature=[-1, 24],
                     name="z")
    b.add_op("RESHAPE", [x, shape], [y], new_shape=[-1, 1, 24])
    b.add_op("SQUEEZE", [y], [z], squeeze_dims=[1])
    b.mark_output(z)
    if signature:
        b.set_signature("serving_default", {"inp": x}, {"out": z})
    return b.build()


def two_input_model() -> bytes:
    """Two float inputs, each reshaped to an output, with a signature naming both."""
    b = ModelBuilder()
    a = b.add_input([2, 3], np.float32, name="a")
    c = b.add_input([6], np.float32, name="c")
    ya = b.add_tensor([6], np.float32, name="ya")
    yc = b.add_tensor([3, 2], np.float32, name="yc")
    b.add_op("RESHAPE", [a], [ya], new_shape=[6])
    b.add_op("RESHAPE", [c], [yc], new_shape=[3, 2])
    b.mark_output(ya)
    b.mark_output(yc)
    b.set_signature("run", {"first": a, "second": c}, {"one": ya, "two": yc})
    return b.build()


MODEL = reshape_model()
X = np.arange(-12, 12, dtype=np.int8).reshape(1, 4, 6)


def allocated(model: bytes = MODEL, **kw):
    ours, theirs = both(model_content=model, **kw)
    ours.allocate_tensors()
    theirs.allocate_tensors()
    return ours, theirs


def run_both(ours, theirs, x=X):
    for it in (ours, theirs):
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
    index = theirs.get_output_details()[0]["index"]
    return ours.get_tensor(index), theirs.get_tensor(index)


def test_invoke_matches_litert():
    ours, theirs = allocated()
    assert_same_details(ours, theirs)
    a, b = run_both(ours, theirs)
    assert_same_value(a, b, "output")
    np.testing.assert_array_equal(a, X.reshape(1, 24))


def test_get_tensor_returns_a_copy():
    ours, theirs = allocated()
    a, _ = run_both(ours, theirs)
    a[...] = 0
    assert_same_value(ours.get_tensor(3), theirs.get_tensor(3))


def test_invoke_twice_with_new_input():
    ours, theirs = allocated()
    run_both(ours, theirs)
    a, b = run_both(ours, theirs, -X)
    assert_same_value(a, b)


def test_preserve_all_tensors_keeps_intermediates():
    ours, theirs = allocated(experimental_preserve_all_tensors=True)
    run_both(ours, theirs)
    assert_same_value(ours.get_tensor(2), theirs.get_tensor(2), "intermediate y")


def test_ops_details_after_allocate():
    ours, theirs = allocated()
    assert_same_value(ops_details_without_qrun_keys(ours), theirs._get_ops_details())
    for d in ours._get_ops_details():
        assert d["backend"] == "numpy"


@pytest.mark.parametrize("batch", [1, 2, 5])
@pytest.mark.parametrize("strict", [False, True])
def test_resize_tensor_input(batch, strict):
    ours, theirs = both(model_content=MODEL)
    x = np.arange(batch * 24).astype(np.int8).reshape(batch, 4, 6)
    for it in (ours, theirs):
        it.resize_tensor_input(0, [batch, 4, 6], strict=strict)
        it.allocate_tensors()
    assert_same_details(ours, theirs)
    a, b = run_both(ours, theirs, x)
    assert_same_value(a, b)
    assert a.shape == (batch, 24)


def test_resize_then_resize_back():
    ours, theirs = allocated()
    for shape in ([3, 4, 6], [1, 4, 6]):
        for it in (ours, theirs):
            it.resize_tensor_input(0, shape)
            it.allocate_tensors()
        assert_same_details(ours, theirs)
        x = np.ones(shape, np.int8)
        assert_same_value(*run_both(ours, theirs, x))


def test_signature_runner_matches_litert():
    ours, theirs = both(model_content=MODEL)
    assert_same_value(ours.get_signature_list(), theirs.get_signature_list())
    assert_same_value(ours._get_full_signature_list(), theirs._get_full_signature_list())
    r_ours, r_theirs = ours.get_signature_runner(), theirs.get_signature_runner("serving_default")
    assert isinstance(r_ours, qrun.SignatureRunner)
    assert_same_value(r_ours.get_input_details(), r_theirs.get_input_details())
    x = np.arange(48).astype(np.int8).reshape(2, 4, 6)
    out_ours, out_theirs = r_ours(inp=x), r_theirs(inp=x)
    assert_same_value(out_ours, out_theirs)
    assert_same_value(r_ours.get_output_details(), r_theirs.get_output_details())


def test_signature_runner_with_two_inputs():
    ours, theirs = both(model_content=two_input_model())
    kw = dict(first=np.arange(6, dtype=np.float32).reshape(2, 3),
              second=-np.arange(6, dtype=np.float32))
    assert_same_value(ours.get_signature_runner("run")(**kw),
                      theirs.get_signature_runner("run")(**kw))


def test_model_without_signature():
    ours, theirs = both(model_content=reshape_model(signature=False))
    assert_same_value(ours.get_signature_list(), theirs.get_signature_list())
    assert ours.get_signature_list() == {}


def test_reset_all_variables():
    ours, theirs = allocated()
    assert ours.reset_all_variables() is None and theirs.reset_all_variables() is None
    assert_same_value(*run_both(ours, theirs))


def test_tensor_view_reads_and_writes_the_arena():
    ours, theirs = allocated()
    for it in (ours, theirs):
        it.tensor(0)()[...] = X
        it.invoke()
    assert_same_value(ours.get_tensor(3), theirs.get_tensor(3))
    np.testing.assert_array_equal(ours.get_tensor(3), X.reshape(1, 24))


def test_public_names():
    assert qrun.Interpreter is qrun.interpreter.Interpreter
    assert qrun.OpResolverType is qrun.interpreter.OpResolverType
    assert [(m.name, m.value) for m in OpResolverType] == [
        (m.name, m.value) for m in lite.OpResolverType]
    assert issubclass(qrun.interpreter.ModelError, ValueError)


def test_litert_resolver_enum_is_accepted():
    it = Interpreter(model_content=MODEL,
                     experimental_op_resolver_type=lite.OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    it.invoke()


def test_qrun_prints_nothing(capfd):
    it = Interpreter(model_content=MODEL)
    it.allocate_tensors()
    it.set_tensor(0, X)
    it.invoke()
    it.get_tensor(3)
    assert capfd.readouterr() == ("", "")


def test_arena_bytes():
    it = Interpreter(model_content=MODEL)
    assert it.arena_bytes == 0
    it.allocate_tensors()
    assert it.arena_bytes >= 2 * X.nbytes


# -- errors: the same exception types (and messages where LiteRT's are informative) -----------

def raised(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001  (the test compares whatever both raise)
        return exc
    raise AssertionError("no exception raised")


def assert_same_error(call, same_message: bool = True):
    """`call(interpreter_pair_member)` raises the same exception type on qrun and on LiteRT."""
    ours, theirs = allocated()
    e_ours, e_theirs = raised(lambda: call(ours)), raised(lambda: call(theirs))
    assert type(e_ours) is type(e_theirs), "qrun raised %r, LiteRT %r" % (e_ours, e_theirs)
    if same_message:
        assert str(e_ours) == str(e_theirs)
    return e_ours


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.int16])
def test_set_tensor_wrong_dtype(dtype):
    e = assert_same_error(lambda it: it.set_tensor(0, np.zeros((1, 4, 6), dtype)))
    assert isinstance(e, ValueError) and "expected type INT8" in str(e)


@pytest.mark.parametrize("shape", [(4, 6), (1, 4, 5), (2, 4, 6), (1, 1, 4, 6)])
def test_set_tensor_wrong_shape(shape):
    e = assert_same_error(lambda it: it.set_tensor(0, np.zeros(shape, np.int8)))
    assert isinstance(e, ValueError) and "Dimension mismatch" in str(e)


@pytest.mark.parametrize("index", [4, 100, -1])
def test_set_tensor_bad_index(index):
    e = assert_same_error(lambda it: it.set_tensor(index, X))
    assert isinstance(e, ValueError) and "Invalid tensor index" in str(e)


@pytest.mark.parametrize("index", [4, 100, -1])
def test_get_tensor_bad_index(index):
    e = assert_same_error(lambda it: it.get_tensor(index))
    assert isinstance(e, ValueError)


def test_tensor_bad_index_raises_valueerror():
    # qrun checks the index when the accessor is made; LiteRT only when it is called.
    it = Interpreter(model_content=MODEL)
    with pytest.raises(ValueError, match="Invalid tensor index"):
        it.tensor(4)


def test_calls_before_allocate_tensors():
    ours, theirs = both(model_content=MODEL)
    for call in (lambda it: it.invoke(), lambda it: it.get_tensor(0),
                 lambda it: it.set_tensor(0, X)):
        e_ours, e_theirs = raised(lambda: call(ours)), raised(lambda: call(theirs))
        assert type(e_ours) is type(e_theirs) and str(e_ours) == str(e_theirs)
    assert isinstance(raised(ours.invoke), RuntimeError)


@pytest.mark.parametrize("method", ["invoke", "allocate_tensors"])
def test_tensor_view_held(method):
    def hold(it):
        view = it.tensor(0)()
        try:
            getattr(it, method)()
        finally:
            del view
    e = assert_same_error(hold)
    assert isinstance(e, RuntimeError)
    ours, theirs = allocated()
    ours.tensor(0)()[...] = X   # a view that is not held does not block
    getattr(ours, method)()


def test_tensor_view_released_allows_invoke():
    ours, _ = allocated()
    view = ours.tensor(0)()
    with pytest.raises(RuntimeError):
        ours.invoke()
    del view
    ours.invoke()


@pytest.mark.parametrize("index,shape,strict", [
    (0, [1, 4, 7], True),      # a fixed dimension, strictly
    (0, [1, 24], True),        # a different rank, strictly
    (9, [1, 4, 6], False),     # no such tensor
    (0, [-1, 4, 6], False),    # a negative dimension
], ids=["strict-fixed-dim", "strict-rank", "bad-index", "negative-dim"])
def test_resize_errors(index, shape, strict):
    e = assert_same_error(lambda it: it.resize_tensor_input(index, shape, strict=strict),
                          same_message=False)
    assert isinstance(e, RuntimeError)
    if strict and len(shape) == 3:
        assert "ResizeInputTensorStrict only allows mutating unknown dimensions" in str(e)


def test_resize_to_incompatible_shape_fails_at_allocate():
    def resize_and_allocate(it):
        it.resize_tensor_input(0, [2, 4, 7])
        it.allocate_tensors()
    e = assert_same_error(resize_and_allocate, same_message=False)
    assert isinstance(e, RuntimeError) and "RESHAPE" in str(e)


@pytest.mark.parametrize("value", [0, -2, "2", 2.0])
def test_num_threads_validation(value):
    e_ours = raised(lambda: Interpreter(model_content=MODEL, num_threads=value))
    e_theirs = raised(lambda: lite.Interpreter(model_content=MODEL, num_threads=value))
    assert type(e_ours) is type(e_theirs) is ValueError
    assert str(e_ours).startswith(str(e_theirs))


@pytest.mark.parametrize("value", [1, 2, None])
def test_num_threads_accepted(value):
    Interpreter(model_content=MODEL, num_threads=value).allocate_tensors()


@pytest.mark.parametrize("kw", [dict(), dict(model_path="model.tflite", model_content=MODEL)],
                         ids=["neither", "both"])
def test_model_path_and_content(kw):
    e_ours, e_theirs = raised(lambda: Interpreter(**kw)), raised(lambda: lite.Interpreter(**kw))
    assert type(e_ours) is type(e_theirs) is ValueError
    assert str(e_ours) == str(e_theirs)


def test_missing_model_file(tmp_path):
    path = str(tmp_path / "missing.tflite")
    e_ours, e_theirs = raised(lambda: Interpreter(path)), raised(lambda: lite.Interpreter(path))
    assert type(e_ours) is type(e_theirs) is ValueError
    assert "Could not open" in str(e_ours) and path in str(e_ours)


def test_bad_resolver_type():
    e_ours = raised(lambda: Interpreter(model_content=MODEL, experimental_op_resolver_type=5))
    e_theirs = raised(lambda: lite.Interpreter(model_content=MODEL,
                                               experimental_op_resolver_type=5))
    assert type(e_ours) is type(e_theirs) is ValueError
    assert str(e_ours) == str(e_theirs)


@pytest.mark.parametrize("call", [
    lambda it: it.get_signature_runner("nope"),
    lambda it: it.get_signature_runner()(x=X),
    lambda it: it.get_signature_runner()(),
    lambda it: it.get_signature_runner()(inp=X, other=X),
], ids=["bad-key", "bad-input-name", "no-inputs", "extra-input"])
def test_signature_runner_errors(call):
    e = assert_same_error(call)
    assert isinstance(e, ValueError)


def test_signature_key_none_with_several_signatures_is_an_error():
    path = SHARED_MODELS / "mobilenet_v2_1.0_224_quant.tflite"
    ours, theirs = both(model_path=str(path))
    e_ours = raised(ours.get_signature_runner)
    e_theirs = raised(theirs.get_signature_runner)
    assert type(e_ours) is type(e_theirs) is ValueError
    assert str(e_ours) == str(e_theirs)
