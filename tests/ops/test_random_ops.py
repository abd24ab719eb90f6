"""RANDOM_UNIFORM, RANDOM_STANDARD_NORMAL and MULTINOMIAL with fixed seeds against LiteRT
BUILTIN_REF: the same Philox stream, over several invokes (the generator advances) and again
after allocate_tensors (it restarts)."""
from __future__ import annotations

import numpy as np
import pytest

from qrun import Interpreter
from qrun.modelbuilder import ModelBuilder
from tests.oracle import assert_same, litert


def _model(opname, shape, seeds, out_type=np.float32, logits=None):
    b = ModelBuilder()
    if opname == "MULTINOMIAL":
        ins = [b.add_input(logits, np.float32), b.add_constant(np.int32(shape[1]))]
    else:
        ins = [b.add_constant(np.asarray(shape, np.int32))]
    y = b.mark_output(b.add_tensor(shape, out_type))
    b.add_op(opname, ins, [y], options_type="RandomOptions", seed=seeds[0], seed2=seeds[1])
    return b.build()


def _runs(interp, inputs, times):
    interp.allocate_tensors()
    out = []
    for _ in range(times):
        for d, x in zip(interp.get_input_details(), inputs):
            interp.set_tensor(d["index"], x)
        interp.invoke()
        out.append(interp.get_tensor(interp.get_output_details()[0]["index"]))
    return out


def _compare(model, inputs=()):
    lite = litert()
    theirs = lite.Interpreter(model_content=model,
                              experimental_op_resolver_type=lite.OpResolverType.BUILTIN_REF)
    ours = Interpreter(model_content=model)
    a, b = _runs(ours, inputs, 3), _runs(theirs, inputs, 3)
    assert_same(a, b)
    assert not np.array_equal(a[0], a[1])  # the generator advanced
    assert_same(_runs(ours, inputs, 1), b[:1])  # and restarts at allocate_tensors


@pytest.mark.parametrize("opname", ["RANDOM_UNIFORM", "RANDOM_STANDARD_NORMAL"])
@pytest.mark.parametrize("shape", [(7,), (2, 3, 4), (5, 3)])
@pytest.mark.parametrize("seeds", [(1, 2), (87654321, 0), (0, 5), (-3, 1), (7, 1 << 40), (1 << 40, 3)])
def test_random(opname, shape, seeds):
    _compare(_model(opname, shape, seeds))


@pytest.mark.parametrize("batch,classes,samples", [(1, 4, 10), (3, 7, 5), (2, 2, 9)])
@pytest.mark.parametrize("out_type", [np.int64, np.int32])
@pytest.mark.parametrize("seeds", [(1, 2), (12345, 678)])
def test_multinomial(batch, classes, samples, out_type, seeds):
    rng = np.random.default_rng(classes)
    logits = rng.normal(size=(batch, classes)).astype(np.float32)
    logits[0, 0] = -np.inf
    _compare(_model("MULTINOMIAL", (batch, samples), seeds, out_type, (batch, classes)),
             [logits])


def test_random_shape_at_run_time():
    b = ModelBuilder()
    shape = b.add_input((2,), np.int32)
    y = b.mark_output(b.add_tensor((3, 5), np.float32))
    b.add_op("RANDOM_UNIFORM", [shape], [y], options_type="RandomOptions", seed=4, seed2=9)
    _compare(b.build(), [np.array([3, 5], np.int32)])
