"""BIDIRECTIONAL_SEQUENCE_LSTM and BIDIRECTIONAL_SEQUENCE_RNN (float32, hybrid) vs LiteRT."""
from __future__ import annotations

import numpy as np
import pytest

from qrun.modelbuilder import ModelBuilder
from tests.ops.stateful import check_invokes_against_litert


class _Weights:
    def __init__(self, b: ModelBuilder, rng, hybrid: bool):
        self.b, self.rng, self.hybrid = b, rng, hybrid

    def matrix(self, shape, bound=0.6):
        if self.hybrid:
            return self.b.add_constant(self.rng.integers(-127, 128, shape).astype(np.int8),
                                       scale=bound / 100, zero_point=0)
        return self.b.add_constant(self.rng.uniform(-bound, bound, shape).astype(np.float32))

    def bias(self, n):
        return self.b.add_constant(self.rng.uniform(-0.4, 0.4, n).astype(np.float32))


def _sequence_input(b, batch, time, n, time_major):
    return b.add_input([time, batch, n] if time_major else [batch, time, n], np.float32)


def _outputs(b, batch, time, time_major, units_fw, units_bw, merge):
    lead = [time, batch] if time_major else [batch, time]
    shapes = [units_fw + units_bw] if merge else [units_fw, units_bw]
    outs = [b.add_tensor(lead + [u], np.float32) for u in shapes]
    for t in outs:
        b.mark_output(t)
    return outs


def bilstm_model(batch=2, time=4, n_input=5, n_cell=4, time_major=False, merge=False,
                 cifg=False, peephole=False, projection=False, aux=None, hybrid=False,
                 asymmetric=False, seed=0):
    """aux: None, "cross" (auxiliary input with weights) or "stacked" (no aux weights: the
    backward cell reads the auxiliary input). TFLite wants both cells of one size."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    w = _Weights(b, rng, hybrid)
    x = _sequence_input(b, batch, time, n_input, time_major)
    n_aux = n_input if aux == "stacked" else 3
    aux_in = _sequence_input(b, batch, time, n_aux, time_major) if aux else -1
    n_out = n_cell - 1 if projection else n_cell
    ins, states = [x], []
    for _ in range(2):
        ins += [-1 if (cifg and k == 0) else w.matrix([n_cell, n_input]) for k in range(4)]
        ins += [-1 if (cifg and k == 0) else w.matrix([n_cell, n_out], 0.5) for k in range(4)]
        ins += [w.matrix([n_cell], 0.3) if peephole and not (cifg and k == 0) else -1
                for k in range(3)]
        ins += [-1 if (cifg and k == 0) else w.bias(n_cell) for k in range(4)]
        ins += [w.matrix([n_out, n_cell], 0.5), w.bias(n_out)] if projection else [-1, -1]
        states += [b.add_tensor([batch, n_out], np.float32, is_variable=True),
                   b.add_tensor([batch, n_cell], np.float32, is_variable=True)]
    ins += states + [aux_in]
    for _ in range(2):
        ins += [w.matrix([n_cell, n_aux]) if aux == "cross" and not (cifg and k == 0) else -1
                for k in range(4)]
    outs = _outputs(b, batch, time, time_major, n_out, n_out, merge)
    options = dict(fused_activation_function="TANH", cell_clip=0.0, proj_clip=0.0,
                   merge_outputs=merge, time_major=time_major)
    if hybrid:
        options["asymmetric_quantize_inputs"] = asymmetric
    b.add_op("BIDIRECTIONAL_SEQUENCE_LSTM", ins, outs, **options)
    return b.build()


def birnn_model(batch=2, time=4, n_input=5, units=(4, 3), time_major=False, merge=False,
                aux=None, n_aux=None, activation="TANH", hybrid=False, asymmetric=False,
                seed=0):
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    w = _Weights(b, rng, hybrid)
    x = _sequence_input(b, batch, time, n_input, time_major)
    n_aux = n_aux or n_input
    aux_in = _sequence_input(b, batch, time, n_aux, time_major) if aux else -1
    ins = [x]
    for u in units:
        ins += [w.matrix([u, n_input]), w.matrix([u, u], 0.5), w.bias(u),
                b.add_tensor([batch, u], np.float32, is_variable=True)]
    ins += [aux_in] + [w.matrix([u, n_aux]) if aux == "cross" else -1 for u in units]
    outs = _outputs(b, batch, time, time_major, units[0], units[1], merge)
    options = dict(fused_activation_function=activation, merge_outputs=merge,
                   time_major=time_major)
    if hybrid:
        options["asymmetric_quantize_inputs"] = asymmetric
    b.add_op("BIDIRECTIONAL_SEQUENCE_RNN", ins, outs,
             options_type="BidirectionalSequenceRNNOptions", **options)
    return b.build()


# Merged outputs are compared time-major or with one batch: LiteRT's batch-major merged LSTM
# with several batches is not well defined (see kernels/bidirectional.py).
LSTM_VARIANTS = [
    dict(), dict(merge=True, time_major=True), dict(merge=True, batch=1),
    dict(time_major=True, batch=3), dict(cifg=True, peephole=True),
    dict(projection=True, merge=True, time_major=True), dict(aux="cross"),
    dict(aux="stacked"), dict(aux="stacked", merge=True, time_major=True),
    dict(aux="cross", cifg=True, time_major=True), dict(batch=1, time=1, n_cell=2),
]
RNN_VARIANTS = [
    dict(), dict(merge=True), dict(time_major=True, batch=3), dict(aux="cross"),
    dict(aux="cross", time_major=True), dict(aux="stacked", merge=True),
    dict(aux="stacked", time_major=True), dict(activation="RELU"), dict(batch=1, time=1),
]


def _ids(v):
    return ",".join("%s=%s" % kv for kv in sorted(v.items())) or "default"


@pytest.mark.parametrize("variant", LSTM_VARIANTS, ids=_ids)
@pytest.mark.parametrize("mode", ["float", "hybrid", "hybrid_asymmetric"])
def test_bidirectional_lstm(variant, mode):
    model = bilstm_model(hybrid=mode != "float", asymmetric=mode == "hybrid_asymmetric",
                         **variant)
    check_invokes_against_litert(model, invokes=2)


@pytest.mark.parametrize("variant", RNN_VARIANTS, ids=_ids)
@pytest.mark.parametrize("mode", ["float", "hybrid", "hybrid_asymmetric"])
def test_bidirectional_rnn(variant, mode):
    model = birnn_model(hybrid=mode != "float", asymmetric=mode == "hybrid_asymmetric",
                        **variant)
    check_invokes_against_litert(model, invokes=2)


def test_bidirectional_rnn_narrow_aux_input():
    """Cross-linked auxiliary input narrower than the input: float batch-major only (TFLite
    steps through it with the input's row size elsewhere)."""
    check_invokes_against_litert(birnn_model(aux="cross", n_aux=3), invokes=2)
    from qrun import Interpreter
    model = birnn_model(aux="cross", n_aux=3, hybrid=True)
    with pytest.raises(RuntimeError, match="auxiliary input of 3 features"):
        Interpreter(model_content=model).allocate_tensors()
