"""FULLY_CONNECTED and BATCH_MATMUL.

FULLY_CONNECTED follows reference/fully_connected.h (uint8, per-tensor int8: filter zero point
added) and integer_ops/fully_connected.h (per-channel int8, 16x8); float32 activations with
int8 weights take the hybrid path. Float32 products are summed one by one in float32 along
the depth, as the reference kernels do, so float results are LiteRT's bit for bit.
"""
from __future__ import annotations

import numpy as np

from ..registry import register
from ..schema import Activation
from .common import broadcast_shape
from .conv import (exact_int, finish_float, finish_quantized, offset_operand, quant_params,
                   weights_operand)
from .hybrid import hybrid_batch_matmul, hybrid_fully_connected

QUANTIZED = (np.int8, np.uint8, np.int16)


def matmul_float32(lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """(..., M, K) x (..., K, N), batch dimensions broadcast: one float32 total per output,
    adding lhs * rhs over k in order."""
    shape = np.broadcast_shapes(lhs.shape[:-2], rhs.shape[:-2]) + (lhs.shape[-2], rhs.shape[-1])
    acc = np.zeros(shape, np.float32)
    product = np.empty(shape, np.float32)
    for k in range(lhs.shape[-1]):
        np.multiply(lhs[..., :, k, None], rhs[..., k, None, :], out=product)
        acc += product
    return acc


def _bias(op):
    b = op.inputs[2] if len(op.inputs) > 2 else None
    return None if b is None else b.data.reshape(-1)


def fully_connected_shape(op):
    x, w = op.inputs[0], op.inputs[1]
    if len(w.shape) != 2:
        raise ValueError("FULLY_CONNECTED weights must be 2-D, got %s" % list(w.shape))
    if getattr(op.options, "weights_format", 0):
        raise ValueError("FULLY_CONNECTED shuffled weights (weights_format %d) are not supported"
                         % op.options.weights_format)
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
            return hybrid_fully_connected(op, _bias(op))
        acc = matmul_float32(x_t.data.reshape(-1, depth), w_t.data.T)
        activation = getattr(op.options, "fused_activation_function", Activation.NONE)
        return finish_float(acc, _bias(op), activation).reshape(out_t.shape)
    per_channel = w_t.quantization.per_channel
    p = quant_params(op, x_t, w_t, out_t, w_t.shape[0],
                     weight_offset=not per_channel and x_t.dtype != np.int16)
    acc = (offset_operand(x_t, p.input_offset).reshape(-1, depth)
           @ weights_operand(op, w_t, p.filter_offset).T)
    return finish_quantized(exact_int(acc), _bias(op), p, out_t.dtype,
                            single_rounding=True).reshape(out_t.shape)


# -- BATCH_MATMUL --------------------------------------------------------------------------------

def _operands(op):
    """lhs (..., M, K) and rhs (..., K, N) shapes after the adjoint options."""
    lhs, rhs = tuple(op.inputs[0].shape), tuple(op.inputs[1].shape)
    if len(lhs) < 2 or len(rhs) < 2 or len(lhs) > 5 or len(rhs) > 5:
        raise ValueError("BATCH_MATMUL operands must have rank 2 to 5, got %s and %s"
                         % (list(lhs), list(rhs)))
    if getattr(op.options, "adj_x", False):
        lhs = lhs[:-2] + (lhs[-1], lhs[-2])
    if getattr(op.options, "adj_y", False):
        rhs = rhs[:-2] + (rhs[-1], rhs[-2])
    return lhs, rhs


def batch_matmul_shape(op):
    lhs, rhs = _operands(op)
    if lhs[-1] != rhs[-2]:
        raise ValueError("BATCH_MATMUL depths differ: %s x %s" % (list(lhs), list(rhs)))
    return [broadcast_shape(lhs[:-2], rhs[:-2]) + (lhs[-2], rhs[-1])]


def _matrices(op, lhs: np.ndarray, rhs: np.ndarray):
    if getattr(op.options, "adj_x", False):
        lhs = np.swapaxes(lhs, -1, -2)
    if getattr(op.options, "adj_y", False):
        rhs = np.swapaxes(rhs, -1, -2)
    return lhs, rhs


@register("BATCH_MATMUL", (np.int8, np.int16, np.float32), shape=batch_matmul_shape)
def batch_matmul(op):
    """reference/batch_matmul.h: sum of (lhs - lhs_zp) * (rhs - rhs_zp), one per-tensor
    multiplier, no activation."""
    lhs_t, rhs_t, out_t = op.inputs[0], op.inputs[1], op.outputs[0]
    if lhs_t.dtype == np.float32:
        if rhs_t.dtype != np.float32:
            return hybrid_batch_matmul(op, *_matrices(op, lhs_t.data, rhs_t.data))
        return matmul_float32(*_matrices(op, lhs_t.data, rhs_t.data))
    # GetQuantizedConvolutionMultipler: the scale product in float32.
    p = quant_params(op, lhs_t, rhs_t, out_t, 1, weight_offset=True, float_product=True)
    lhs, rhs = _matrices(op, offset_operand(lhs_t, p.input_offset),
                         weights_operand(op, rhs_t, p.filter_offset))
    return finish_quantized(exact_int(lhs @ rhs), None, p, out_t.dtype)
