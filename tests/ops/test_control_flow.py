"""WHILE, IF and CALL_ONCE on multi-subgraph models built with ModelBuilder, against LiteRT
BUILTIN_REF; SignatureRunner on a signature of subgraph 1."""
from __future__ import annotations

import numpy as np
import pytest

from qrun import Interpreter, OpResolverType
from qrun.interpreter.graph import UnsupportedOperatorError
from qrun.modelbuilder import ModelBuilder
from tests.oracle import assert_same, check_against_litert, litert

Q8 = dict(scale=0.05, zero_point=-3)


def _data_tensor(g: ModelBuilder, shape, dtype, zero_point=-3, is_input=False):
    # uint8 zero points are shifted by 128, int16 ones are 0 (the int16x8 spec).
    zero_point = {np.int8: zero_point, np.uint8: zero_point + 128, np.int16: 0}.get(dtype)
    quant = {} if zero_point is None else dict(scale=0.05, zero_point=zero_point)
    return (g.add_input if is_input else g.add_tensor)(shape, dtype, **quant)


def _counter_cond(cond: ModelBuilder, shape, dtype, limit: int, zero_point: int) -> None:
    """cond(i, x): i < limit."""
    i = cond.add_input([], np.int32)
    _data_tensor(cond, shape, dtype, zero_point, is_input=True)
    lim = cond.add_constant(np.array(limit, np.int32))
    flag = cond.add_tensor([], np.bool_)
    cond.add_op("LESS", [i, lim], [flag])
    cond.mark_output(flag)


def _counter_body(body: ModelBuilder, shape, dtype, zero_point: int) -> None:
    """body(i, x): (i + 1, x + x)  (quantized ADD for int8: requantized every iteration)."""
    i = body.add_input([], np.int32)
    x = _data_tensor(body, shape, dtype, zero_point, is_input=True)
    one = body.add_constant(np.array(1, np.int32))
    i2 = body.add_tensor([], np.int32)
    x2 = _data_tensor(body, shape, dtype, zero_point)
    body.add_op("ADD", [i, one], [i2])
    body.add_op("ADD", [x, x], [x2], fused_activation_function="RELU6"
                if dtype == np.float32 else "NONE")
    body.mark_output(i2)
    body.mark_output(x2)


def counter_loop(shape, dtype, limit: int, zero_point: int = -3) -> bytes:
    b = ModelBuilder()
    i = b.add_input([], np.int32)
    x = _data_tensor(b, shape, dtype, zero_point, is_input=True)
    oi = b.add_tensor([], np.int32)
    ox = _data_tensor(b, shape, dtype, zero_point)
    _counter_cond(b.add_subgraph("cond"), shape, dtype, limit, zero_point)
    _counter_body(b.add_subgraph("body"), shape, dtype, zero_point)
    b.add_op("WHILE", [i, x], [oi, ox], cond_subgraph_index=1, body_subgraph_index=2)
    b.mark_output(oi)
    b.mark_output(ox)
    return b.build()


def _random(rng, shape, dtype):
    if dtype == np.float32:
        return rng.uniform(-2, 2, shape).astype(np.float32)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, shape).astype(dtype)


@pytest.mark.parametrize("shape", [(3,), (2, 5, 3), (2, 4, 4, 7)])
@pytest.mark.parametrize("dtype,zero_point", [(np.float32, 0), (np.int8, -128), (np.int8, 127),
                                              (np.int8, -3), (np.uint8, -100), (np.int16, 0)])
@pytest.mark.parametrize("start,limit", [(0, 0), (0, 1), (-2, 4), (5, 3)])
def test_while_counter(shape, dtype, zero_point, start, limit):
    model = counter_loop(shape, dtype, limit, zero_point)
    x = _random(np.random.default_rng(start + limit), shape, dtype)
    check_against_litert(model, inputs=[np.array(start, np.int32), x])


def growing_loop(limit: int) -> bytes:
    """while (len(x) < limit) x = concat(x, x[:1] * 2): the loop variable changes shape."""
    b = ModelBuilder()
    x = b.add_input([1, 3], np.float32)
    out = b.add_tensor([1, 3], np.float32)
    cond = b.add_subgraph("cond")
    cx = cond.add_input([1, 3], np.float32)
    shp = cond.add_tensor([2], np.int32)
    cond.add_op("SHAPE", [cx], [shp], out_type=2)
    begin = cond.add_constant(np.array([0], np.int32))
    size = cond.add_constant(np.array([1], np.int32))
    rows = cond.add_tensor([1], np.int32)
    cond.add_op("SLICE", [shp, begin, size], [rows])
    lim = cond.add_constant(np.array([limit], np.int32))
    flag1 = cond.add_tensor([1], np.bool_)
    cond.add_op("LESS", [rows, lim], [flag1])
    cond.mark_output(flag1)
    body = b.add_subgraph("body")
    bx = body.add_input([1, 3], np.float32)
    two = body.add_constant(np.full((1, 3), 2.0, np.float32))
    first = body.add_tensor([1, 3], np.float32)
    body.add_op("SLICE", [bx, body.add_constant(np.array([0, 0], np.int32)),
                          body.add_constant(np.array([1, 3], np.int32))], [first])
    doubled = body.add_tensor([1, 3], np.float32)
    body.add_op("MUL", [first, two], [doubled])
    grown = body.add_tensor([2, 3], np.float32)
    body.add_op("CONCATENATION", [bx, doubled], [grown], axis=0)
    body.mark_output(grown)
    b.add_op("WHILE", [x], [out], cond_subgraph_index=1, body_subgraph_index=2)
    b.mark_output(out)
    return b.build()


@pytest.mark.parametrize("limit", [0, 1, 2, 5])
def test_while_dynamic_shape(limit):
    check_against_litert(growing_loop(limit), seed=limit)


def _branch(g: ModelBuilder, opname: str, shape, dtype, out_shape=None, **opts) -> None:
    a = _data_tensor(g, shape, dtype, is_input=True)
    c = _data_tensor(g, shape, dtype, is_input=True)
    y = _data_tensor(g, out_shape or shape, dtype)
    g.add_op(opname, [a, c], [y], **opts)
    g.mark_output(y)


def if_model(shape, dtype, else_op="MUL", activation="NONE") -> bytes:
    b = ModelBuilder()
    cond = b.add_input([1], np.bool_)
    a = _data_tensor(b, shape, dtype, is_input=True)
    c = _data_tensor(b, shape, dtype, is_input=True)
    y = _data_tensor(b, shape, dtype)
    _branch(b.add_subgraph("then"), "ADD", shape, dtype, fused_activation_function=activation)
    # (MAXIMUM has no fused activation)
    else_opts = {} if else_op == "MAXIMUM" else dict(fused_activation_function=activation)
    _branch(b.add_subgraph("else"), else_op, shape, dtype, **else_opts)
    b.add_op("IF", [cond, a, c], [y], then_subgraph_index=1, else_subgraph_index=2)
    b.mark_output(y)
    return b.build()


@pytest.mark.parametrize("shape", [(5,), (2, 3, 3, 5)])
@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.uint8, np.int16])
@pytest.mark.parametrize("else_op", ["MUL", "SUB", "MAXIMUM"])
@pytest.mark.parametrize("activation", ["NONE", "RELU"])
@pytest.mark.parametrize("take", [True, False])
def test_if(shape, dtype, else_op, activation, take):
    model = if_model(shape, dtype, else_op, activation)
    rng = np.random.default_rng(len(shape))
    data = [_random(rng, shape, dtype) for _ in range(2)]
    check_against_litert(model, inputs=[np.array([take])] + data)


@pytest.mark.parametrize("take", [True, False])
def test_if_branches_of_different_shapes(take):
    """then: x + y of shape [2, 3]; else: concat(x, y) of shape [4, 3] -> run-time sized."""
    b = ModelBuilder()
    cond = b.add_input([1], np.bool_)
    a = b.add_input([2, 3], np.float32)
    c = b.add_input([2, 3], np.float32)
    y = b.add_tensor([2, 3], np.float32)
    _branch(b.add_subgraph("then"), "ADD", (2, 3), np.float32)
    _branch(b.add_subgraph("else"), "CONCATENATION", (2, 3), np.float32, out_shape=(4, 3),
            axis=0)
    b.add_op("IF", [cond, a, c], [y], then_subgraph_index=1, else_subgraph_index=2)
    b.mark_output(y)
    rng = np.random.default_rng(1)
    check_against_litert(b.build(), inputs=[np.array([take]),
                                            rng.standard_normal((2, 3)).astype(np.float32),
                                            rng.standard_normal((2, 3)).astype(np.float32)])


def nested_model(limit: int) -> bytes:
    """while i < limit: x = (x + y if i % 2 == 0 else x - y)  (an IF inside the WHILE body)."""
    shape, dt = (2, 3), np.int8
    b = ModelBuilder()
    i = b.add_input([], np.int32)
    x = _data_tensor(b, shape, dt, is_input=True)
    yv = _data_tensor(b, shape, dt, is_input=True)
    outs = [b.add_tensor([], np.int32), _data_tensor(b, shape, dt), _data_tensor(b, shape, dt)]
    cond = b.add_subgraph("cond")
    ci = cond.add_input([], np.int32)
    _data_tensor(cond, shape, dt, is_input=True)
    _data_tensor(cond, shape, dt, is_input=True)
    flag = cond.add_tensor([], np.bool_)
    cond.add_op("LESS", [ci, cond.add_constant(np.array(limit, np.int32))], [flag])
    cond.mark_output(flag)
    body = b.add_subgraph("body")
    then, other = b.add_subgraph("then"), b.add_subgraph("else")
    _branch(then, "ADD", shape, dt)
    _branch(other, "SUB", shape, dt)
    bi = body.add_input([], np.int32)
    bx = _data_tensor(body, shape, dt, is_input=True)
    by = _data_tensor(body, shape, dt, is_input=True)
    rem = body.add_tensor([], np.int32)
    body.add_op("FLOOR_MOD", [bi, body.add_constant(np.array(2, np.int32))], [rem])
    even = body.add_tensor([], np.bool_)
    body.add_op("EQUAL", [rem, body.add_constant(np.array(0, np.int32))], [even])
    even1 = body.add_tensor([1], np.bool_)
    body.add_op("RESHAPE", [even, body.add_constant(np.array([1], np.int32))], [even1])
    nx = _data_tensor(body, shape, dt)
    body.add_op("IF", [even1, bx, by], [nx], then_subgraph_index=then.index,
                else_subgraph_index=other.index)
    ni = body.add_tensor([], np.int32)
    body.add_op("ADD", [bi, body.add_constant(np.array(1, np.int32))], [ni])
    for t in (ni, nx, by):
        body.mark_output(t)
    b.add_op("WHILE", [i, x, yv], outs, cond_subgraph_index=cond.index,
             body_subgraph_index=body.index)
    for t in outs:
        b.mark_output(t)
    return b.build()


@pytest.mark.parametrize("limit", [0, 1, 4, 7])
def test_while_with_if_inside(limit):
    rng = np.random.default_rng(limit)
    data = [rng.integers(-128, 128, (2, 3)).astype(np.int8) for _ in range(2)]
    check_against_litert(nested_model(limit), inputs=[np.array(0, np.int32)] + data)


def test_repeated_invokes_and_delegate_keeps_control_flow_on_numpy():
    """The same interpreter over several inputs, with the default (delegating) resolver."""
    model = counter_loop((2, 4, 4, 3), np.int8, 3)
    lite = litert()
    theirs = lite.Interpreter(model_content=model,
                              experimental_op_resolver_type=lite.OpResolverType.BUILTIN_REF)
    ours = Interpreter(model_content=model)
    for it in (theirs, ours):
        it.allocate_tensors()
    rng = np.random.default_rng(0)
    for start in (0, 2, -1):
        x = rng.integers(-128, 128, (2, 4, 4, 3)).astype(np.int8)
        results = []
        for it in (ours, theirs):
            it.set_tensor(0, np.array(start, np.int32))
            it.set_tensor(1, x)
            it.invoke()
            results.append([it.get_tensor(d["index"]) for d in it.get_output_details()])
        assert_same(*results, lsb=1)
    assert [d["backend"] for d in ours._get_ops_details()] == ["numpy"]


def test_call_once_runs_its_subgraph_once_per_interpreter():
    """init: v = 7 (through a resource variable); main: out = v; v = v * 2."""
    b = ModelBuilder()
    init = b.add_subgraph("init")
    h0 = init.add_tensor([], np.int32, type_code=13)
    init.add_op("VAR_HANDLE", [], [h0], shared_name="v")
    init.add_op("ASSIGN_VARIABLE", [h0, init.add_constant(np.array([7], np.int32))], [])
    b.add_op("CALL_ONCE", [], [], init_subgraph_index=init.index)
    x = b.add_input([1], np.int32)
    h = b.add_tensor([], np.int32, type_code=13)
    b.add_op("VAR_HANDLE", [], [h], shared_name="v")
    v = b.add_tensor([1], np.int32)
    b.add_op("READ_VARIABLE", [h], [v])
    v2 = b.add_tensor([1], np.int32)
    b.add_op("MUL", [v, x], [v2])
    b.add_op("ASSIGN_VARIABLE", [h, v2], [])
    b.mark_output(v)
    model = b.build()
    lite = litert()
    for it in (Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.
                           BUILTIN_REF),
               lite.Interpreter(model_content=model,
                                experimental_op_resolver_type=lite.OpResolverType.BUILTIN_REF)):
        it.allocate_tensors()
        seen = []
        for _ in range(4):
            it.set_tensor(0, np.array([2], np.int32))
            it.invoke()
            seen.append(int(it.get_tensor(it.get_output_details()[0]["index"])[0]))
        assert seen == [7, 14, 28, 56], seen


def test_missing_op_in_a_subgraph_is_reported_at_allocate():
    b = ModelBuilder()
    x = b.add_input([3], np.float32)
    y = b.add_tensor([3], np.float32)
    then, other = b.add_subgraph("then"), b.add_subgraph("else")
    for g, opname in ((then, "ABS"), (other, "NO_SUCH_CUSTOM_OP")):
        a = g.add_input([3], np.float32)
        r = g.add_tensor([3], np.float32)
        g.add_op(opname, [a], [r])
        g.mark_output(r)
    flag = b.add_input([1], np.bool_)
    b.add_op("IF", [flag, x], [y], then_subgraph_index=1, else_subgraph_index=2)
    b.mark_output(y)
    it = Interpreter(model_content=b.build(), experimental_op_resolver_type=OpResolverType.
                     BUILTIN_REF)
    with pytest.raises(RuntimeError, match="NO_SUCH_CUSTOM_OP"):
        it.allocate_tensors()
    assert issubclass(UnsupportedOperatorError, RuntimeError)


@pytest.mark.parametrize("dtype", [np.float32, np.int8])
def test_signature_runner_on_subgraph_1(dtype):
    """Two signatures' worth of graphs; the signature names subgraph 1 (a plain ADD)."""
    b = ModelBuilder()
    x = _data_tensor(b, (2, 3), dtype, is_input=True)
    y = _data_tensor(b, (2, 3), dtype)
    b.add_op("ABS" if dtype == np.float32 else "RELU", [x], [y])
    b.mark_output(y)
    sub = b.add_subgraph("add")
    p = _data_tensor(sub, (2, 3), dtype, is_input=True)
    q = _data_tensor(sub, (2, 3), dtype, is_input=True)
    r = _data_tensor(sub, (2, 3), dtype)
    sub.add_op("ADD", [p, q], [r])
    sub.mark_output(r)
    b.set_signature("add", {"lhs": p, "rhs": q}, {"sum": r}, subgraph_index=sub.index)
    model = b.build()
    rng = np.random.default_rng(3)
    kwargs = {k: (rng.uniform(-1, 1, (2, 3)).astype(np.float32) if dtype == np.float32
                  else rng.integers(-128, 128, (2, 3)).astype(np.int8)) for k in ("lhs", "rhs")}
    lite = litert()
    theirs = lite.Interpreter(model_content=model,
                              experimental_op_resolver_type=lite.OpResolverType.BUILTIN_REF)
    ours = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.
                       BUILTIN_REF)
    a = ours.get_signature_runner("add")(**kwargs)
    e = theirs.get_signature_runner("add")(**kwargs)
    assert set(a) == set(e) == {"sum"}
    assert_same([a["sum"]], [e["sum"]])
    out = ours.get_signature_runner("add").get_output_details()["sum"]
    assert out["dtype"] == np.dtype(dtype).type and list(out["shape"]) == [2, 3]


@pytest.mark.parametrize("opname", ["WHILE", "CALL_ONCE"])
def test_recursive_subgraph_is_an_error(opname):
    """A subgraph that runs itself (TFLite rejects CALL_ONCE of its own subgraph)."""
    b = ModelBuilder()
    x = b.add_input([2], np.float32)
    y = b.add_tensor([2], np.float32)
    b.add_op("ABS", [x], [y])
    b.mark_output(y)
    sub = b.add_subgraph("self")
    if opname == "WHILE":
        a = sub.add_input([2], np.float32)
        r = sub.add_tensor([2], np.float32)
        sub.add_op("WHILE", [a], [r], cond_subgraph_index=1, body_subgraph_index=1)
        sub.mark_output(r)
        b.ops.clear()
        b.add_op("WHILE", [x], [y], cond_subgraph_index=1, body_subgraph_index=1)
    else:
        sub.add_op("CALL_ONCE", [], [], init_subgraph_index=1)
        b.add_op("CALL_ONCE", [], [], init_subgraph_index=1)
    it = Interpreter(model_content=b.build(), experimental_op_resolver_type=OpResolverType.
                     BUILTIN_REF)
    with pytest.raises(RuntimeError, match="calls itself"):
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], np.ones(2, np.float32))
        it.invoke()
