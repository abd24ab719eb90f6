"""Byte -> byte chains fused into one table node (qrun/delegate/fusion.py): SiLU
(LOGISTIC + MUL by its input) and chains of table ops equal the numpy reference exactly and
LiteRT BUILTIN_REF, on every ISA; near misses stay separate nodes; every op is still listed."""
from __future__ import annotations

import numpy as np
import pytest

from qrun import Interpreter, OpResolverType
from qrun.delegate.partition import DelegateStep
from qrun.modelbuilder import ModelBuilder
from tests.delegate.util import ISAS, check_delegate, forced_isa, model_inputs, run_delegate
from tests.oracle import assert_same, run_qrun

DTYPES = (np.int8, np.uint8)
SHAPE = (2, 9, 7, 13)


def _sigmoid_q(dtype):
    return dict(scale=1 / 256, zero_point=-128 if dtype == np.int8 else 0)


def _extreme_q(dtype, k):
    info = np.iinfo(dtype)
    return dict(scale=(0.05, 0.011, 0.3)[k % 3],
                zero_point=(int(info.min), int(info.max), 3)[k % 3])


def _silu(b, x, dtype, k, logistic_first=True):
    s = b.add_tensor(SHAPE, dtype, **_sigmoid_q(dtype))
    b.add_op("LOGISTIC", [x], [s])
    y = b.add_tensor(SHAPE, dtype, **_extreme_q(dtype, k + 1))
    b.add_op("MUL", [x, s] if logistic_first else [s, x], [y], fused_activation_function="NONE")
    return s, y


def _nodes(model: bytes, **kw) -> int:
    it = Interpreter(model_content=model, **kw)
    it.allocate_tensors()
    for d in it._get_ops_details():
        assert d["backend"] == "c", d
    return sum(len(s.node_ops) for s in it._graphs[0].steps if isinstance(s, DelegateStep))


def _check(model: bytes, nodes: int, seed: int = 0) -> None:
    """Delegate == LiteRT BUILTIN_REF == numpy reference on every ISA, with `nodes` nodes."""
    assert _nodes(model) == nodes
    ours = check_delegate(model, seed=seed, lsb=0)
    assert_same(ours, run_qrun(model, model_inputs(model, seed)), what="delegate vs numpy")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [0, 1, 2])
def test_silu_is_one_table(dtype, k):
    b = ModelBuilder()
    x = b.add_input(SHAPE, dtype, **_extreme_q(dtype, k))
    _, y = _silu(b, x, dtype, k, logistic_first=k != 1)
    b.mark_output(y)
    _check(b.build(), nodes=1, seed=k)


@pytest.mark.parametrize("dtype", DTYPES)
def test_chain_of_table_ops_and_silus(dtype):
    """QUANTIZE (requantize) -> SiLU -> SiLU -> TANH: one table; then a MUL reading the
    chain's input and output (the input must survive until the chain's node runs)."""
    b = ModelBuilder()
    x = b.add_input(SHAPE, dtype, **_extreme_q(dtype, 0))
    q = b.add_tensor(SHAPE, dtype, **_extreme_q(dtype, 1))
    b.add_op("QUANTIZE", [x], [q])
    _, h = _silu(b, q, dtype, 1)
    _, h = _silu(b, h, dtype, 2)
    t = b.add_tensor(SHAPE, dtype, scale=1 / 128, zero_point=0 if dtype == np.int8 else 128)
    b.add_op("TANH", [h], [t])
    y = b.add_tensor(SHAPE, dtype, **_extreme_q(dtype, 2))
    b.add_op("MUL", [x, t], [y], fused_activation_function="NONE")
    b.mark_output(y)
    _check(b.build(), nodes=2, seed=3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_near_misses_stay_separate(dtype):
    """MUL of the sigmoid by another tensor; a sigmoid also read by an ADD; a sigmoid that is
    a graph output: no fusion (each op its own node)."""
    b = ModelBuilder()
    x = b.add_input(SHAPE, dtype, **_extreme_q(dtype, 0))
    other = b.add_input(SHAPE, dtype, **_extreme_q(dtype, 1))
    s = b.add_tensor(SHAPE, dtype, **_sigmoid_q(dtype))
    b.add_op("LOGISTIC", [x], [s])
    y1 = b.add_tensor(SHAPE, dtype, **_extreme_q(dtype, 2))
    b.add_op("MUL", [other, s], [y1], fused_activation_function="NONE")
    s2, y2 = _silu(b, y1, dtype, 0)
    z = b.add_tensor(SHAPE, dtype, **_extreme_q(dtype, 1))
    b.add_op("ADD", [s2, y2], [z], fused_activation_function="NONE")
    s3, y3 = _silu(b, z, dtype, 1)
    b.mark_output(y3)
    b.mark_output(s3)
    _check(b.build(), nodes=7, seed=4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_preserved_tensors_are_not_fused(dtype):
    """experimental_preserve_all_tensors: the sigmoid stays readable, equal to the
    reference's."""
    b = ModelBuilder()
    x = b.add_input(SHAPE, dtype, **_extreme_q(dtype, 0))
    s, y = _silu(b, x, dtype, 0)
    b.mark_output(y)
    model = b.build()
    assert _nodes(model) == 1
    assert _nodes(model, experimental_preserve_all_tensors=True) == 2
    inputs = model_inputs(model, 5)
    reference = Interpreter(model_content=model, experimental_preserve_all_tensors=True,
                            experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    reference.allocate_tensors()
    reference.set_tensor(reference.get_input_details()[0]["index"], inputs[0])
    reference.invoke()
    for isa in ISAS or [None]:
        with forced_isa(isa):
            it = Interpreter(model_content=model, experimental_preserve_all_tensors=True)
            it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], inputs[0])
        it.invoke()
        np.testing.assert_array_equal(it.get_tensor(s), reference.get_tensor(s))
        assert_same(run_delegate(model, inputs, isa), [reference.get_tensor(y)])
