"""RNN and UNIDIRECTIONAL_SEQUENCE_RNN (float32) against LiteRT BUILTIN_REF."""
from __future__ import annotations

import numpy as np
import pytest

from qrun.modelbuilder import ModelBuilder
from tests.ops.stateful import check_invokes_against_litert


def rnn_model(sequence, batch=2, time=3, n_input=5, units=4, time_major=False,
              activation="TANH", seed=0):
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    if sequence:
        shape = [time, batch, n_input] if time_major else [batch, time, n_input]
    else:
        shape = [batch, n_input]
    x = b.add_input(shape, np.float32)
    w = b.add_constant(rng.uniform(-0.7, 0.7, (units, n_input)).astype(np.float32))
    r = b.add_constant(rng.uniform(-0.5, 0.5, (units, units)).astype(np.float32))
    bias = b.add_constant(rng.uniform(-0.3, 0.3, units).astype(np.float32))
    state = b.add_tensor([batch, units], np.float32, is_variable=True)
    y = b.add_tensor(shape[:-1] + [units], np.float32)
    if sequence:
        b.add_op("UNIDIRECTIONAL_SEQUENCE_RNN", [x, w, r, bias, state], [y],
                 time_major=time_major, fused_activation_function=activation)
    else:
        b.add_op("RNN", [x, w, r, bias, state], [y], fused_activation_function=activation)
    b.mark_output(y)
    return b.build()


@pytest.mark.parametrize("activation", ["TANH", "RELU", "RELU6", "NONE", "RELU_N1_TO_1"])
@pytest.mark.parametrize("shape", [dict(), dict(batch=1, n_input=7, units=9),
                                   dict(batch=3, n_input=1, units=2)], ids=str)
def test_rnn(activation, shape):
    check_invokes_against_litert(rnn_model(False, activation=activation, **shape), invokes=4)


@pytest.mark.parametrize("time_major", [False, True])
@pytest.mark.parametrize("shape", [dict(), dict(batch=1, time=6, n_input=7, units=9),
                                   dict(batch=3, time=1, units=2)], ids=str)
@pytest.mark.parametrize("activation", ["TANH", "RELU"])
def test_sequence_rnn(time_major, shape, activation):
    check_invokes_against_litert(rnn_model(True, time_major=time_major, activation=activation,
                                           **shape), invokes=3)
