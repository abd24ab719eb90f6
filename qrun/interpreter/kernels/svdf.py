"""SVDF: a fully connected layer factored into a feature and a time filter, with state.

The state (input 4) is a variable tensor of shape [batch, num_filters * memory_size]: per
filter, the last `memory_size` feature activations, oldest first. Each invoke shifts it left
by one, writes the new activation into the last slot, then filters over time (TFLite's
reference svdf.h). float32 runs in float; int8 input has int16 weights_time and state, int32
bias, and two fixed-point rescales (input*feature -> state, state*time -> output); float32
input with int8 weights is TFLite's hybrid kernel (input quantized on the fly, float state).
"""
from __future__ import annotations

import numpy as np

from ..quant import apply_activation_float, multiply_by_quantized_multiplier, quantize_multiplier
from ..registry import register
from .operands import float_weights, operand_for


def svdf_output_shape(op):
    x, feature, time = op.inputs[0], op.inputs[1], op.inputs[2]
    if x.dtype == np.float32 and feature.dtype not in (np.float32, np.int8):
        raise ValueError("SVDF with float input and %s weights is not supported" % feature.dtype)
    state, bias = op.inputs[4], op.inputs[3]
    rank = int(op.options.rank)
    if len(x.shape) != 2 or len(feature.shape) != 2 or len(time.shape) != 2:
        raise ValueError("SVDF needs rank-2 input, weights_feature and weights_time")
    batch, num_filters, memory = x.shape[0], feature.shape[0], time.shape[1]
    if rank <= 0 or num_filters % rank:
        raise ValueError("SVDF rank %d does not divide %d filters" % (rank, num_filters))
    if x.shape[1] != feature.shape[1] or time.shape[0] != num_filters:
        raise ValueError("SVDF weights %s / %s do not match input %s"
                         % (list(feature.shape), list(time.shape), list(x.shape)))
    if bias is not None and tuple(bias.shape) != (num_filters // rank,):
        raise ValueError("SVDF bias shape %s, expected [%d]"
                         % (list(bias.shape), num_filters // rank))
    if tuple(state.shape) != (batch, num_filters * memory):
        raise ValueError("SVDF state shape %s, expected [%d, %d]"
                         % (list(state.shape), batch, num_filters * memory))
    return [(batch, num_filters // rank)]


def _shift_state(state: np.ndarray, num_filters: int, memory: int) -> np.ndarray:
    """Shifts the state left by one step in place; returns its [batch, filters, memory] view."""
    view = state.reshape(state.shape[0], num_filters, memory)
    view[:, :, :-1] = view[:, :, 1:].copy()
    return view


def _effective_scale(a: float, b: float, c: float) -> float:
    # Prepare multiplies float scales in float32 before widening to double.
    return float(np.float32(np.float32(a) * np.float32(b)) / np.float32(c))


@register("SVDF", (np.float32, np.int8), shape=svdf_output_shape)
def svdf(op):
    x, feature, time, bias, state_t = op.inputs[:5]
    out_t = op.outputs[0]
    rank = int(op.options.rank)
    num_filters, memory = feature.shape[0], time.shape[1]
    batch, num_units = x.shape[0], num_filters // rank
    view = _shift_state(state_t.data, num_filters, memory)

    if x.dtype == np.float32:
        operand = operand_for(feature, bool(getattr(op.options, "asymmetric_quantize_inputs",
                                                      False)))
        view[:, :, -1] = operand(x.data).accumulate(np.zeros((batch, num_filters), np.float32),
                                                    feature)
        filtered = np.einsum("bfm,fm->bf", view, float_weights(time))
        out = filtered.reshape(batch, num_units, rank).sum(axis=2)
        if bias is not None:
            out = out + bias.data
        return apply_activation_float(out.astype(np.float32),
                                      op.options.fused_activation_function)

    m1, s1 = quantize_multiplier(_effective_scale(x.scale, feature.scale, state_t.scale))
    m2, s2 = quantize_multiplier(_effective_scale(state_t.scale, time.scale, out_t.scale))
    xs = x.data.astype(np.int64) - x.zero_point
    acc = xs @ feature.data.astype(np.int64).T
    view[:, :, -1] = np.clip(multiply_by_quantized_multiplier(acc, m1, s1), -32768, 32767)
    filtered = np.einsum("bfm,fm->bf", view.astype(np.int64), time.data.astype(np.int64))
    acc = filtered.reshape(batch, num_units, rank).sum(axis=2)
    if bias is not None:
        acc = acc + bias.data.astype(np.int64)
    out = multiply_by_quantized_multiplier(acc, m2, s2) + out_t.zero_point
    return np.clip(out, -128, 127).astype(np.int8)
