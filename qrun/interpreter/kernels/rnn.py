"""RNN and UNIDIRECTIONAL_SEQUENCE_RNN: h = activation(bias + W x + R h), float32, or hybrid
(float32 activations quantized on the fly against int8 weights, as kernel_utils' RnnBatchStep).

Inputs: input, weights [units, input_size], recurrent weights [units, units], bias [units]
and the hidden state (a variable tensor [batch, units], updated in place so that it carries
over between invokes). RNN is one step on [batch, input_size]; the sequence op runs over
[batch, time, input_size] (or [time, batch, input_size] when time_major).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..quant import apply_activation_float
from ..registry import register
from .operands import operand_for


def _is_sequence(op) -> bool:
    return op.opname == "UNIDIRECTIONAL_SEQUENCE_RNN"


def rnn_output_shape(op):
    x, w, r, bias, state = op.inputs[:5]
    rank = 3 if _is_sequence(op) else 2
    if len(x.shape) != rank:
        raise ValueError("%s input must be rank %d, got %s" % (op.opname, rank, list(x.shape)))
    units = w.shape[0]
    if tuple(w.shape) != (units, x.shape[-1]) or tuple(r.shape) != (units, units):
        raise ValueError("%s weights %s / recurrent weights %s do not match input %s"
                         % (op.opname, list(w.shape), list(r.shape), list(x.shape)))
    if tuple(bias.shape) != (units,):
        raise ValueError("%s bias shape %s, expected [%d]" % (op.opname, list(bias.shape), units))
    batch = x.shape[1] if rank == 3 and op.options.time_major else x.shape[0]
    if int(np.prod(state.shape)) != batch * units:
        raise ValueError("%s hidden state must hold %d values" % (op.opname, batch * units))
    if w.dtype not in (np.float32, np.int8) or r.dtype != w.dtype:
        raise ValueError("%s with %s / %s weights is not supported"
                         % (op.opname, w.dtype, r.dtype))
    return [tuple(x.shape[:-1]) + (units,)]


def run_rnn(options, weights, recurrent, bias, state, xs: np.ndarray, aux_weights=None,
            aux_xs: Optional[np.ndarray] = None, reverse: bool = False) -> np.ndarray:
    """RnnBatchStep over the steps of xs [time, batch, n_input] (backwards when `reverse`),
    from and back into the hidden state tensor; returns [time, batch, units] in time order."""
    operand = operand_for(weights, bool(getattr(options, "asymmetric_quantize_inputs", False)))
    b = bias.data
    h = state.data.reshape(xs.shape[1], -1)
    outs = [None] * len(xs)
    for t in (reversed(range(len(xs))) if reverse else range(len(xs))):
        acc = operand(xs[t]).accumulate(np.broadcast_to(b, (h.shape[0], len(b))), weights)
        if aux_xs is not None and aux_weights is not None:
            acc = operand(aux_xs[t]).accumulate(acc, aux_weights)
        h = apply_activation_float(operand(h).accumulate(acc, recurrent).astype(np.float32),
                                   options.fused_activation_function)
        outs[t] = h
    state.data[...] = h.reshape(state.data.shape)
    return np.stack(outs)


@register("RNN", (np.float32,), shape=rnn_output_shape)
@register("UNIDIRECTIONAL_SEQUENCE_RNN", (np.float32,), shape=rnn_output_shape)
def rnn(op):
    x = op.inputs[0].data
    batch_major = _is_sequence(op) and not op.options.time_major
    steps = x[None] if not _is_sequence(op) else (x.transpose(1, 0, 2) if batch_major else x)
    out = run_rnn(op.options, *op.inputs[1:5], steps)
    if not _is_sequence(op):
        return out[0]
    return out.transpose(1, 0, 2) if batch_major else out
