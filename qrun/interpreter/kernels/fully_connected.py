"""FULLY_CONNECTED and BATCH_MATMUL.

FULLY_CONNECTED follows reference/fully_connected.h (uint8, per-tensor int8: filter zero point
added) and integer_ops/fully_connected.h (per-channel int8, 16x8); float32 activations with
int8 weights take the hybrid path.
"""
from __future__ import annotations

import numpy as np

from ..registry import register
from ..schema import Activation
from .conv import exact_int, finish_float, finish_quantized, offset_operand, quant_params

QUANTIZED = (np.int8, np.uint8, np.int16)


def _bias(op):
    b = op.inputs[2] if len(op.inputs) > 2 else None
    return None if b is None else b.data.reshape(-1)


def fully_connected_shape(op):
    x, w = op.inputs[0], op.inputs[1]
    if len(w.shape) != 2:
        raise ValueError("FULLY_CONNECTED weights must be 2-D, got %s" % list(w.shape))
    units, depth = w.shape
    n = int(np.prod(x.shape, dtype=np.int64))
    if depth == 0 or n % depth:
        raise ValueError("FULLY_CONNECTED input %s does not hold rows of %d"
                         % (list(x.shape), depth))
    b = op.inputs[2] if len(op.inputs) > 2 else None
    if b is not None and int(np.prod(b.shape)) != units:
        raise ValueError("FULLY_CONNECTED bias has %d elements, expected %d"
                         % (int(np.prod(b.shape)), units))
    if getattr(op.options, "keep_num_dims", False):
        if x.shape[-1] != depth:
            raise ValueError("FULLY_CONNECTED keep_num_dims needs input depth %d, got %s"
                             % (depth, list(x.shape)))
        return [tuple(x.shape[:-1]) + (units,)]
    return [(n // depth, units)]


@register("FULLY_CONNECTED", QUANTIZED + (np.float32,), shape=fully_connected_shape)
def fully_connected(op):
    x_t, w_t, out_t = op.inputs[0], op.inputs[1], op.outputs[0]
    depth = w_t.shape[1]
    if x_t.dtype == np.float32:
        if w_t.dtype != np.float32:
            from .hybrid import hybrid_fully_connected
            return hybrid_fully_connected(op)
        acc = x_t.data.reshape(-1, depth).astype(np.float64) @ w_t.data.astype(np.float64).T
        activation = getattr(op.options, "fused_activation_function", Activation.NONE)
        return finish_float(acc, _bias(op), activation).reshape(out_t.shape)
    per_channel = w_t.quantization.per_channel
    p = quant_params(op, x_t, w_t, out_t, w_t.shape[0],
                     weight_offset=not per_channel and x_t.dtype != np.int16)
    acc = (offset_operand(x_t, p.input_offset).reshape(-1, depth)
           @ offset_operand(w_t, p.filter_offset).T)
    return finish_quantized(exact_int(acc), _bias(op), p, out_t.dtype,
                            single_rounding=True).reshape(out_t.shape)
