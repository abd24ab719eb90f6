"""Dynamic-range ("hybrid") arithmetic: float32 activations with int8 weights.

As TFLite does (tensor_utils' Symmetric/AsymmetricQuantizeFloats, then integer accumulation
and float scaling): the float input is quantized on the fly to int8, one scale (and, when
asymmetric, one zero point) per batch row, accumulated against the int8 weights, and the
int32 sums are scaled back to float32 with the weight scales. Used by the CONV_2D,
DEPTHWISE_CONV_2D, FULLY_CONNECTED and BATCH_MATMUL float kernels when the weights are int8.
"""
from __future__ import annotations

import numpy as np

from ..quant import apply_activation_float
from ..schema import Activation


def _round(x: np.ndarray) -> np.ndarray:
    """std::round (halves away from zero), exact on float64."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def symmetric_quantize_rows(rows: np.ndarray):
    """SymmetricQuantizeFloats per row: scale = max|x| / 127, values in [-127, 127]."""
    rows = rows.astype(np.float32)
    bound = np.max(np.abs(rows), axis=1)
    empty = bound == 0
    bound = np.where(empty, np.float32(1), bound)
    scale = bound / np.float32(127)
    inv = np.float32(127) / bound
    q = np.clip(_round((rows * inv[:, None]).astype(np.float64)), -127, 127)
    q[empty] = 0
    return q.astype(np.int64), np.where(empty, np.float32(1), scale), np.zeros(len(rows),
                                                                              np.int64)


def asymmetric_quantize_rows(rows: np.ndarray):
    """AsymmetricQuantizeFloats per row: the [min(0, x), max(0, x)] range over [-128, 127],
    with the zero point nudged as TFLite does. The range is a float32 difference, divided
    in double (LiteRT's scales match this, not an all-double range)."""
    rows = rows.astype(np.float32)
    rmin = np.minimum(np.min(rows, axis=1), np.float32(0))
    rmax = np.maximum(np.max(rows, axis=1), np.float32(0))
    empty = rmin == rmax
    scale = np.where(empty, 1.0, (rmax - rmin).astype(np.float64) / 255.0)
    rmin, rmax = rmin.astype(np.float64), rmax.astype(np.float64)
    from_min = -128.0 - rmin / scale
    from_max = 127.0 - rmax / scale
    zero_point = np.where(128.0 + np.abs(rmin / scale) < 127.0 + np.abs(rmax / scale),
                          from_min, from_max)
    offset = np.clip(_round(zero_point), -128, 127)
    offset = np.where(empty, 0, offset).astype(np.int64)
    scale32 = scale.astype(np.float32)
    inv = np.float32(1) / scale32
    q = np.clip(_round((offset[:, None].astype(np.float32) + rows * inv[:, None])
                       .astype(np.float64)), -128, 127).astype(np.int64)
    q[empty] = 0
    return q, np.where(empty, np.float32(1), scale32), offset


def quantize_rows(rows: np.ndarray, asymmetric: bool):
    """(int values, float32 scale per row, int zero point per row)."""
    if asymmetric:
        return asymmetric_quantize_rows(rows)
    return symmetric_quantize_rows(rows)


def _finish(out: np.ndarray, bias, op) -> np.ndarray:
    if bias is not None:
        out = out + bias.astype(np.float32)
    activation = getattr(op.options, "fused_activation_function", Activation.NONE)
    return apply_activation_float(out.astype(np.float32), activation)


def _per_batch(v: np.ndarray, ndim: int) -> np.ndarray:
    return v.reshape((-1,) + (1,) * (ndim - 1))


def _weight_scales(t) -> np.ndarray:
    return np.asarray(t.quantization.scales, np.float32)


def hybrid_conv(op, accumulate, bias) -> np.ndarray:
    """conv.cc EvalHybrid (weights with one scale: symmetric inputs) or EvalHybridPerChannel
    (distinct channel scales: asymmetric inputs)."""
    x_t, w_t = op.inputs[0], op.inputs[1]
    x = x_t.data
    scales = _weight_scales(w_t)
    per_channel = bool(np.any(scales != scales[0]))
    q, sf, off = quantize_rows(x.reshape(x.shape[0], -1), asymmetric=per_channel)
    xq = (q - off[:, None]).reshape(x.shape).astype(np.float64)
    acc = accumulate(op, xq, w_t.data.astype(np.float64)).astype(np.float32)
    if per_channel:
        out = acc * scales * _per_batch(sf, acc.ndim)
    else:
        out = acc * _per_batch(sf * scales[0], acc.ndim)
    return _finish(out, bias, op)


def hybrid_depthwise(op, accumulate, bias) -> np.ndarray:
    """depthwise_conv.cc EvalHybridPerChannel: asymmetric inputs, per-channel scales."""
    x_t, w_t = op.inputs[0], op.inputs[1]
    x = x_t.data
    q, sf, off = asymmetric_quantize_rows(x.reshape(x.shape[0], -1))
    xq = (q - off[:, None]).reshape(x.shape).astype(np.float64)
    acc = accumulate(op, xq, w_t.data.astype(np.float64)).astype(np.float32)
    scales = np.broadcast_to(_weight_scales(w_t), (acc.shape[-1],))
    return _finish(acc * (scales * _per_batch(sf, acc.ndim)), bias, op)


def hybrid_fully_connected(op, bias) -> np.ndarray:
    """fully_connected.cc EvalHybrid: each input row quantized on its own."""
    x_t, w_t, out_t = op.inputs[0], op.inputs[1], op.outputs[0]
    w = w_t.data.astype(np.int64)
    rows = x_t.data.reshape(-1, w.shape[1])
    q, sf, off = quantize_rows(rows, bool(getattr(op.options, "asymmetric_quantize_inputs",
                                                   False)))
    dot = np.rint(q.astype(np.float64) @ w.T.astype(np.float64)).astype(np.int64)
    dot -= off[:, None] * w.sum(axis=1)[None, :]
    scales = _weight_scales(w_t)
    scale = sf[:, None] * scales[None, :] if len(scales) > 1 else (sf * scales[0])[:, None]
    return _finish(dot.astype(np.float32) * scale, bias, op).reshape(out_t.shape)


def hybrid_batch_matmul(op, lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """batch_matmul.cc EvalHybrid: each lhs row (..., m, :) quantized on its own, one
    weight scale; `lhs` (..., M, K) float and `rhs` (..., K, N) int8 after the adjoints.

    reference_ops::BatchMatMul (hybrid) finds the scale, zero point and weight column sums
    of output batch (b0, b1, b2) at index b0 + b1 + b2 (each counted only where that operand
    is not broadcast) rather than at the flat batch index; with more than one batch dimension
    above 1 that picks other rows' factors, and LiteRT's results follow it, so this does too.
    """
    m, k = lhs.shape[-2:]
    n = rhs.shape[-1]
    lhs5 = lhs.reshape((1,) * (5 - lhs.ndim) + lhs.shape)
    rhs5 = rhs.reshape((1,) * (5 - rhs.ndim) + rhs.shape).astype(np.int64)
    q, sf, off = quantize_rows(lhs5.reshape(-1, k), bool(
        getattr(op.options, "asymmetric_quantize_inputs", False)))
    dot = np.rint(q.reshape(lhs5.shape).astype(np.float64) @ rhs5.astype(np.float64))
    batch = dot.shape[:3]
    b = np.indices(batch)
    row = sum(b[i] * (lhs5.shape[i] > 1) for i in range(3))
    col = sum(b[i] * (rhs5.shape[i] > 1) for i in range(3))
    col_sums = rhs5.sum(axis=-2).reshape(-1, n)
    sf = (sf * np.float32(op.inputs[1].scale)).reshape(-1, m)
    total = dot.astype(np.int64) - off.reshape(-1, m)[row][..., None] * col_sums[col][..., None, :]
    out = sf[row][..., None] * total.astype(np.float32)
    return out.reshape(np.broadcast_shapes(lhs.shape[:-2], rhs.shape[:-2]) + (m, n))
