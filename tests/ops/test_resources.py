"""Resource variables and hash tables against LiteRT, over several invokes of one interpreter.

Variables are compared with BUILTIN_REF. LiteRT's reference resolver has no HASHTABLE kernels,
so hash tables are compared with its builtin resolver (they are not delegated there either).
"""
from __future__ import annotations

import numpy as np
import pytest

from qrun import Interpreter, OpResolverType
from qrun.modelbuilder import ModelBuilder
from tests.oracle import assert_same, litert

RESOURCE = 13   # TensorType.RESOURCE
STRING, INT64 = 5, 4


def run_both(model: bytes, feeds, litert_resolver: str = "BUILTIN_REF", reset_after=None):
    """Invokes qrun and LiteRT once per entry of `feeds` (a list of input lists); compares
    every invoke's outputs. reset_all_variables() runs after invoke `reset_after`."""
    lite = litert()
    interpreters = [
        Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF),
        lite.Interpreter(model_content=model, experimental_op_resolver_type=getattr(
            lite.OpResolverType, litert_resolver))]
    history = []
    for it in interpreters:
        it.allocate_tensors()
        outs = []
        for k, inputs in enumerate(feeds):
            for d, x in zip(it.get_input_details(), inputs):
                it.set_tensor(d["index"], x)
            it.invoke()
            outs.append([it.get_tensor(d["index"]) for d in it.get_output_details()])
            if k == reset_after:
                it.reset_all_variables()
        history.append(outs)
    for k, (ours, theirs) in enumerate(zip(*history)):
        for a, e in zip(ours, theirs):
            if a.dtype == object:
                assert a.shape == e.shape and a.tolist() == e.tolist(), "invoke %d" % k
        assert_same([a for a in ours if a.dtype != object],
                    [e for e in theirs if e.dtype != object], what="invoke %d" % k)
    return history[0]


def _handle(g: ModelBuilder, name: str) -> int:
    h = g.add_tensor([], np.int32, type_code=RESOURCE)
    g.add_op("VAR_HANDLE", [], [h], shared_name=name)
    return h


def _quant(dtype):
    return dict(scale=0.1, zero_point=-5) if dtype == np.int8 else {}


def accumulator(shape, dtype, initial) -> bytes:
    """init (CALL_ONCE): acc = initial; main: out = acc + x; acc = out; also a second,
    independent variable that counts invokes."""
    b = ModelBuilder()
    init = b.add_subgraph("init")
    init.add_op("ASSIGN_VARIABLE", [_handle(init, "acc"), init.add_constant(
        np.asarray(initial, dtype).reshape(shape), **_quant(dtype))], [])
    init.add_op("ASSIGN_VARIABLE", [_handle(init, "count"), init.add_constant(
        np.array([0], np.int32))], [])
    b.add_op("CALL_ONCE", [], [], init_subgraph_index=init.index)
    x = b.add_input(shape, dtype, **_quant(dtype))
    acc = _handle(b, "acc")
    old = b.add_tensor(shape, dtype, **_quant(dtype))
    b.add_op("READ_VARIABLE", [acc], [old])
    new = b.add_tensor(shape, dtype, **_quant(dtype))
    b.add_op("ADD", [old, x], [new])
    b.add_op("ASSIGN_VARIABLE", [acc, new], [])
    count = _handle(b, "count")
    n = b.add_tensor([1], np.int32)
    b.add_op("READ_VARIABLE", [count], [n])
    n2 = b.add_tensor([1], np.int32)
    b.add_op("ADD", [n, b.add_constant(np.array([1], np.int32))], [n2])
    b.add_op("ASSIGN_VARIABLE", [count, n2], [])
    b.mark_output(new)
    b.mark_output(n2)
    return b.build()


def _values(rng, shape, dtype):
    if dtype == np.float32:
        return rng.uniform(-1, 1, shape).astype(np.float32)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -50), min(info.max, 50) + 1, shape).astype(dtype)


@pytest.mark.parametrize("shape", [(1,), (3, 5), (2, 4, 4, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.int32, np.int64])
@pytest.mark.parametrize("reset_after", [None, 1])
def test_variable_accumulates_across_invokes(shape, dtype, reset_after):
    rng = np.random.default_rng(len(shape))
    model = accumulator(shape, dtype, _values(rng, shape, dtype))
    feeds = [[_values(rng, shape, dtype)] for _ in range(4)]
    history = run_both(model, feeds, reset_after=reset_after)
    # reset_all_variables() leaves resource variables alone, in LiteRT as here.
    assert [int(outs[1][0]) for outs in history] == [1, 2, 3, 4]


@pytest.mark.parametrize("declared", [(), (1, 2)])
def test_variable_changes_shape(declared):
    """out = v; v = concat(out, x): the variable grows by a row per invoke. READ_VARIABLE
    output declared as a scalar takes the variable's shape; a declared shape stays, holding
    the variable's leading elements (TFLite's builtin kernel)."""
    b = ModelBuilder()
    init = b.add_subgraph("init")
    init.add_op("ASSIGN_VARIABLE", [_handle(init, "v"), init.add_constant(
        np.zeros((1, 2), np.float32))], [])
    b.add_op("CALL_ONCE", [], [], init_subgraph_index=init.index)
    x = b.add_input([1, 2], np.float32)
    v = _handle(b, "v")
    old = b.add_tensor(declared, np.float32)
    b.add_op("READ_VARIABLE", [v], [old])
    new = b.add_tensor([2, 2], np.float32)
    b.add_op("CONCATENATION", [old, x], [new], axis=0)
    b.add_op("ASSIGN_VARIABLE", [v, new], [])
    b.mark_output(old)
    b.mark_output(new)
    rng = np.random.default_rng(0)
    history = run_both(b.build(), [[rng.standard_normal((1, 2)).astype(np.float32)]
                                   for _ in range(4)])
    rows = [1, 2, 3, 4] if declared == () else [1, 1, 1, 1]
    assert [outs[0].shape for outs in history] == [(r, 2) for r in rows]


def test_reading_an_unassigned_variable_fails_as_in_litert():
    b = ModelBuilder()
    x = b.add_input([2], np.float32)
    old = b.add_tensor([2], np.float32)
    b.add_op("READ_VARIABLE", [_handle(b, "never")], [old])
    y = b.add_tensor([2], np.float32)
    b.add_op("ADD", [old, x], [y])
    b.mark_output(y)
    model = b.build()
    lite = litert()
    for it in (Interpreter(model_content=model),
               lite.Interpreter(model_content=model,
                                experimental_op_resolver_type=lite.OpResolverType.BUILTIN_REF)):
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], np.ones(2, np.float32))
        with pytest.raises(RuntimeError):
            it.invoke()


def _words(n: int) -> np.ndarray:
    return np.array([("w%d" % k * (k % 3)).encode() for k in range(n)], dtype=object)


def hashtable_model(string_keys: bool, query_shape, import_twice=False, init_once=True) -> bytes:
    """A table of 6 entries imported in a CALL_ONCE init subgraph (as the converter writes
    it) or in the main graph; main: out = find(x, default), size."""
    key_dt, value_dt = (object, np.int64) if string_keys else (np.int64, object)
    codes = dict(key_dtype=STRING if string_keys else INT64,
                 value_dtype=INT64 if string_keys else STRING)
    words, numbers = _words(6), np.array([5, -1, 0, 7, 1 << 40, 3], np.int64)
    keys, values = (words, numbers) if string_keys else (numbers, words)
    b = ModelBuilder()
    g = b.add_subgraph("init") if init_once else b
    h = g.add_tensor([], np.int32, type_code=RESOURCE)
    g.add_op("HASHTABLE", [], [h], table_id=3, **codes)
    g.add_op("HASHTABLE_IMPORT", [h, g.add_constant(keys, dtype=key_dt),
                                  g.add_constant(values, dtype=value_dt)], [])
    if import_twice:   # TFLite ignores a second import into an initialized table
        extra = (np.array([b"nope", words[1]], object) if string_keys
                 else np.array([2, numbers[1]], np.int64))
        g.add_op("HASHTABLE_IMPORT", [h, g.add_constant(extra, dtype=key_dt),
                                      g.add_constant(values[2:4], dtype=value_dt)], [])
    if init_once:
        b.add_op("CALL_ONCE", [], [], init_subgraph_index=g.index)
        h = b.add_tensor([], np.int32, type_code=RESOURCE)
        b.add_op("HASHTABLE", [], [h], table_id=3, **codes)
    x = b.add_input(query_shape, key_dt)
    default = b.add_constant(np.array([-9], np.int64) if string_keys
                             else np.array([b"<unk>"], object), dtype=value_dt)
    found = b.add_tensor(query_shape, value_dt)
    b.add_op("HASHTABLE_FIND", [h, x, default], [found])
    size = b.add_tensor([1], np.int64)
    b.add_op("HASHTABLE_SIZE", [h], [size])
    b.mark_output(found)
    b.mark_output(size)
    return b.build()


def _queries(rng, string_keys: bool, shape):
    if string_keys:
        pool = np.concatenate([_words(6), np.array([b"nope", b"W1", b""], object)])
    else:
        pool = np.array([5, -1, 0, 7, 1 << 40, 3, 2, -5, 1 << 41], np.int64)
    return pool[rng.integers(0, len(pool), shape)]


@pytest.mark.parametrize("string_keys", [False, True])
@pytest.mark.parametrize("query_shape", [(1,), (7,), (2, 3)])
@pytest.mark.parametrize("import_twice", [False, True])
@pytest.mark.parametrize("init_once", [True, False])
def test_hashtable(string_keys, query_shape, import_twice, init_once):
    rng = np.random.default_rng(len(query_shape))
    model = hashtable_model(string_keys, query_shape, import_twice, init_once)
    feeds = [[_queries(rng, string_keys, query_shape)] for _ in range(3)]
    history = run_both(model, feeds, litert_resolver="BUILTIN")
    # _words(6) repeats b"" (a duplicate key: the first value stays, in both)
    assert all(int(outs[1][0]) == (5 if string_keys else 6) for outs in history)


def test_string_inputs_accept_str_and_bytes_arrays():
    model = hashtable_model(True, (3,))
    it = Interpreter(model_content=model)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    assert d["dtype"] is np.bytes_
    out = it.get_output_details()[0]["index"]
    for x in (np.array(["w1", "nope", "w2w2"]), np.array([b"w1", b"nope", b"w2w2"])):
        it.set_tensor(d["index"], x)
        it.invoke()
        assert it.get_tensor(out).tolist() == [-1, -9, 0]


def test_hashtable_rejects_unsupported_types():
    b = ModelBuilder()
    h = b.add_tensor([], np.int32, type_code=RESOURCE)
    b.add_op("HASHTABLE", [], [h], table_id=1, key_dtype=INT64, value_dtype=INT64)
    x = b.add_input([2], np.int64)
    y = b.add_tensor([2], np.int64)
    b.add_op("HASHTABLE_FIND", [h, x, b.add_constant(np.array([0], np.int64))], [y])
    b.mark_output(y)
    with pytest.raises(RuntimeError, match="int64 -> string and string -> int64"):
        Interpreter(model_content=b.build()).allocate_tensors()


def test_signatures_share_variables():
    """Signature "add" (subgraph 0): v += x, returns v; "get" (subgraph 1): returns v * 2.
    Both start with CALL_ONCE of the init subgraph (as the converter writes them)."""
    b = ModelBuilder()
    get = b.add_subgraph("get")
    init = b.add_subgraph("init")
    init.add_op("ASSIGN_VARIABLE", [_handle(init, "v"), init.add_constant(
        np.array([1, -2, 3], np.int32))], [])
    for g in (b, get):
        g.add_op("CALL_ONCE", [], [], init_subgraph_index=init.index)
    x = b.add_input([3], np.int32)
    v = _handle(b, "v")
    old = b.add_tensor([3], np.int32)
    b.add_op("READ_VARIABLE", [v], [old])
    new = b.add_tensor([3], np.int32)
    b.add_op("ADD", [old, x], [new])
    b.add_op("ASSIGN_VARIABLE", [v, new], [])
    b.mark_output(new)
    cur = get.add_tensor([3], np.int32)
    get.add_op("READ_VARIABLE", [_handle(get, "v")], [cur])
    twice = get.add_tensor([3], np.int32)
    get.add_op("ADD", [cur, cur], [twice])
    get.mark_output(twice)
    b.add_signature("add", {"x": x}, {"v": new}, subgraph_index=0)
    b.add_signature("get", {}, {"twice": twice}, subgraph_index=get.index)
    model = b.build()
    lite = litert()
    seen = []
    for it in (Interpreter(model_content=model),
               lite.Interpreter(model_content=model,
                                experimental_op_resolver_type=lite.OpResolverType.BUILTIN_REF)):
        add, read = it.get_signature_runner("add"), it.get_signature_runner("get")
        calls = [read(), add(x=np.array([1, 1, 1], np.int32)), read(),
                 add(x=np.array([5, 0, -5], np.int32)), read()]
        seen.append([sorted((k, v.tolist()) for k, v in c.items()) for c in calls])
    assert seen[0] == seen[1]
    assert seen[0][-1] == [("twice", [14, -2, -2])]
