"""BIDIRECTIONAL_SEQUENCE_LSTM and BIDIRECTIONAL_SEQUENCE_RNN (float32 and hybrid).

A forward cell runs over the sequence and a backward cell over it in reverse, each with its
own weights and state tensors; their outputs are two tensors, or one concatenated along the
features when merge_outputs. The optional auxiliary input follows bidirectional_sequence_*.cc:
with auxiliary weights both cells add W_aux aux_input to their gates ("cross links"); without
them the backward cell reads the auxiliary input instead of the input (stacked layers).

LiteRT's batch-major LSTM with merge_outputs and more than one batch offsets its states by
the merged width (out of bounds), so those results are not comparable; the RNN's quirks that
are well defined are reproduced (see _birnn_inputs and bidirectional_sequence_rnn).
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np

from ..registry import register
from .lstm import float_cell, run_float_cell
from .rnn import run_rnn

LSTM_FW_BLOCK, LSTM_BW_BLOCK = 1, 18
LSTM_FW_STATES, LSTM_BW_STATES = 35, 37
LSTM_AUX_INPUT, LSTM_FW_AUX, LSTM_BW_AUX = 39, 40, 44
RNN_AUX_INPUT, RNN_FW_AUX, RNN_BW_AUX = 9, 10, 11


def _opt(op, i):
    return op.inputs[i] if i < len(op.inputs) else None


def _inputs(op, aux_index: int, fw_aux_weights) -> Tuple[object, object, Optional[object]]:
    """(forward input, backward input, auxiliary input used with aux weights)."""
    x, aux = op.inputs[0], _opt(op, aux_index)
    if aux is not None and fw_aux_weights is None:
        return x, aux, None
    return x, x, aux


def _steps(op, t) -> Optional[np.ndarray]:
    """[time, batch, features] view of a sequence tensor."""
    if t is None:
        return None
    return t.data if op.options.time_major else t.data.transpose(1, 0, 2)


def _outputs(op, fw: np.ndarray, bw: np.ndarray) -> List[np.ndarray]:
    if not op.options.time_major:
        fw, bw = fw.transpose(1, 0, 2), bw.transpose(1, 0, 2)
    if op.options.merge_outputs:
        return [np.concatenate([fw, bw], axis=2)]
    return [fw, bw]


def _output_shapes(op, fw_units: int, bw_units: int, fw_in, bw_in, n_in: Tuple[int, int]):
    for t, n in zip((fw_in, bw_in), n_in):
        if len(t.shape) != 3:
            raise ValueError("%s inputs must be rank 3, got %s" % (op.opname, list(t.shape)))
        if t.shape[2] != n:
            raise ValueError("%s: input %s does not match weights of input size %d"
                             % (op.opname, list(t.shape), n))
    lead = tuple(fw_in.shape[:2])
    if tuple(bw_in.shape[:2]) != lead:
        raise ValueError("%s: auxiliary input %s does not match input %s"
                         % (op.opname, list(bw_in.shape), list(fw_in.shape)))
    if op.options.merge_outputs:
        return [lead + (fw_units + bw_units,)]
    return [lead + (fw_units,), lead + (bw_units,)]


def _check_float_or_hybrid(op, weights) -> None:
    if op.inputs[0].dtype != np.float32 or weights.dtype not in (np.float32, np.int8):
        raise ValueError("%s with %s input and %s weights is not supported"
                         % (op.opname, op.inputs[0].dtype, weights.dtype))


def bilstm_output_shapes(op):
    if len(op.inputs) != 48:
        raise ValueError("BIDIRECTIONAL_SEQUENCE_LSTM expects 48 inputs, got %d"
                         % len(op.inputs))
    fw_w, bw_w = op.inputs[LSTM_FW_BLOCK + 3], op.inputs[LSTM_BW_BLOCK + 3]
    _check_float_or_hybrid(op, fw_w)
    fw_in, bw_in, _ = _inputs(op, LSTM_AUX_INPUT, op.inputs[LSTM_FW_AUX + 1])
    fw_units = op.inputs[LSTM_FW_BLOCK + 7].shape[1]
    bw_units = op.inputs[LSTM_BW_BLOCK + 7].shape[1]
    return _output_shapes(op, fw_units, bw_units, fw_in, bw_in, (fw_w.shape[1], bw_w.shape[1]))


@register("BIDIRECTIONAL_SEQUENCE_LSTM", (np.float32,), shape=bilstm_output_shapes)
def bidirectional_sequence_lstm(op):
    fw_cell = float_cell(op, LSTM_FW_BLOCK, LSTM_FW_STATES, aux=LSTM_FW_AUX)
    bw_cell = float_cell(op, LSTM_BW_BLOCK, LSTM_BW_STATES, aux=LSTM_BW_AUX)
    fw_in, bw_in, aux = _inputs(op, LSTM_AUX_INPUT, fw_cell.aux_weights[1])
    aux_steps = _steps(op, aux)
    fw = run_float_cell(fw_cell, op.options, _steps(op, fw_in), aux_steps)
    bw = run_float_cell(bw_cell, op.options, _steps(op, bw_in), aux_steps, reverse=True)
    return _outputs(op, fw, bw)


def _birnn_inputs(op):
    """bidirectional_sequence_rnn.cc's inputs, quirks included: batch-major sequences feed
    the backward cell `input` even when the auxiliary input should replace it."""
    fw_in, bw_in, aux = _inputs(op, RNN_AUX_INPUT, _opt(op, RNN_FW_AUX))
    return fw_in, (bw_in if op.options.time_major else fw_in), aux


def birnn_output_shapes(op):
    fw_w, bw_w = op.inputs[1], op.inputs[5]
    _check_float_or_hybrid(op, fw_w)
    fw_in, bw_in, aux = _birnn_inputs(op)
    hybrid = fw_w.dtype == np.int8
    if aux is not None and (hybrid or op.options.time_major) and aux.shape[2] != fw_in.shape[2]:
        # TFLite steps through the auxiliary input with the input's row size here.
        raise ValueError("%s: an auxiliary input of %d features (input: %d) is only supported "
                         "float and batch-major" % (op.opname, aux.shape[2], fw_in.shape[2]))
    return _output_shapes(op, fw_w.shape[0], bw_w.shape[0], fw_in, bw_in,
                          (fw_w.shape[1], bw_w.shape[1]))


@register("BIDIRECTIONAL_SEQUENCE_RNN", (np.float32,), shape=birnn_output_shapes)
def bidirectional_sequence_rnn(op):
    fw_in, bw_in, aux = _birnn_inputs(op)
    aux_steps = _steps(op, aux)
    # The hybrid time-major kernel runs both passes once per time step (a loop nested in a
    # loop over time); the states carry over and the last passes give the outputs.
    passes = len(aux_steps if aux_steps is not None else _steps(op, fw_in)) if (
        op.options.time_major and op.inputs[1].dtype == np.int8) else 1
    for _ in range(passes):
        fw = run_rnn(op.options, *op.inputs[1:5], _steps(op, fw_in), _opt(op, RNN_FW_AUX),
                     aux_steps)
        bw = run_rnn(op.options, *op.inputs[5:9], _steps(op, bw_in), _opt(op, RNN_BW_AUX),
                     aux_steps, reverse=True)
    return _outputs(op, fw, bw)
