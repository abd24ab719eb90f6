"""RNN and UNIDIRECTIONAL_SEQUENCE_RNN (float32 and hybrid) against LiteRT BUILTIN_REF."""
from __future__ import annotations

import numpy as np
import pytest

from qrun.modelbuilder import ModelBuilder
from tests.ops.stateful import check_invokes_against_litert


def rnn_model(sequence, batch=2, time=3, n_input=5, units=4, time_major=False,
              activation="TANH", hybrid=False, asymmetric=False, seed=0):
    """A one-op RNN model; `hybrid`: int8 weights with float32 activations."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder()

    def weights(shape, bound, scale):
        if hybrid:
            return b.add_constant(rng.integers(-127, 128, shape).astype(np.int8), scale=scale,
                                  zero_point=0)
        return b.add_constant(rng.uniform(-bound, bound, shape).astype(np.float32))

    if sequence:
        shape = [time, batch, n_input] if time_major else [batch, time, n_input]
    else:
        shape = [batch, n_input]
    x = b.add_input(shape, np.float32)
    w = weights((units, n_input), 0.7, 0.006)
    r = weights((units, units), 0.5, 0.004)
    bias = b.add_constant(rng.uniform(-0.3, 0.3, units).astype(np.float32))
    state = b.add_tensor([batch, units], np.float32, is_variable=True)
    y = b.add_tensor(shape[:-1] + [units], np.float32)
    options = dict(fused_activation_function=activation)
    if hybrid:
        options["asymmetric_quantize_inputs"] = asymmetric
    if sequence:
        b.add_op("UNIDIRECTIONAL_SEQUENCE_RNN", [x, w, r, bias, state], [y],
                 time_major=time_major, **options)
    else:
        b.add_op("RNN", [x, w, r, bias, state], [y], **options)
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


@pytest.mark.parametrize("sequence,time_major", [(False, False), (True, False), (True, True)])
@pytest.mark.parametrize("asymmetric", [False, True])
@pytest.mark.parametrize("shape", [dict(), dict(batch=1, time=5, n_input=8, units=6)], ids=str)
def test_rnn_hybrid(sequence, time_major, asymmetric, shape):
    model = rnn_model(sequence, time_major=time_major, hybrid=True, asymmetric=asymmetric,
                      **shape)
    check_invokes_against_litert(model, invokes=3)
