"""Graph preparation: every missing kernel is reported at once, with index and types."""
from __future__ import annotations

import numpy as np
import pytest

from qrun import Interpreter
from qrun.interpreter import UnsupportedOperatorError
from qrun.modelbuilder import ModelBuilder


def unsupported_model() -> bytes:
    b = ModelBuilder()
    x = b.add_input([4], np.float32)
    y = b.add_tensor([4], np.float32)
    z = b.add_tensor([4], np.float32)
    w = b.add_tensor([4], np.int8, scale=0.5, zero_point=0)
    b.add_op("MyCustomOp", [x], [y])
    b.add_op("RELU", [y], [z])
    b.add_op("DENSIFY", [z, x], [w])
    b.mark_output(w)
    return b.build()


def test_all_missing_ops_are_listed_at_allocate_tensors():
    it = Interpreter(model_content=unsupported_model())   # loading succeeds
    with pytest.raises(UnsupportedOperatorError) as info:
        it.allocate_tensors()
    msg = str(info.value)
    assert isinstance(info.value, RuntimeError)
    assert "2 operators" in msg
    assert "operator 0 MyCustomOp(FLOAT32)" in msg
    assert "operator 2 DENSIFY(FLOAT32,FLOAT32)" in msg
    assert "RELU" not in msg
