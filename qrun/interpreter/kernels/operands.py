"""Matmul operands of the recurrent kernels (LSTM, SVDF): float32 weights, or int8 weights
with float32 activations (TFLite's hybrid kernels: MatrixBatchVectorMultiplyAccumulate with
per-batch scaling factors after BatchQuantizeFloats).

`operand(v).accumulate(acc, weights_tensor)` returns acc + v W^T as the kernel computes it.
"""
from __future__ import annotations

import numpy as np

from .hybrid import quantize_rows


class FloatOperand:
    """A float32 matmul operand."""

    def __init__(self, v: np.ndarray):
        self.v = v

    def accumulate(self, acc: np.ndarray, w_t) -> np.ndarray:
        return acc + self.v @ w_t.data.T


class HybridOperand:
    """A float32 operand of int8 weights: each batch row quantized to int8 once, exact
    integer dot products scaled back and accumulated in float32."""

    def __init__(self, v: np.ndarray, asymmetric: bool):
        self.q, self.scales, self.zero_points = quantize_rows(v, asymmetric)

    def accumulate(self, acc: np.ndarray, w_t) -> np.ndarray:
        w = w_t.data.astype(np.int64)
        dot = self.q @ w.T - self.zero_points[:, None] * w.sum(axis=1)
        scale = (self.scales * np.float32(w_t.scale)).astype(np.float32)
        return (acc + dot.astype(np.float32) * scale[:, None]).astype(np.float32)


def operand_for(weights_t, asymmetric: bool):
    """The operand type for these weights: float, or hybrid for int8 weights."""
    if weights_t.dtype == np.float32:
        return FloatOperand
    return lambda v: HybridOperand(v, asymmetric)


def float_weights(t) -> np.ndarray:
    """Float weights, or int8 ones dequantized (VectorScalarMultiply) for the hybrid kernels."""
    return t.data if t.dtype == np.float32 else t.data * np.float32(t.scale)
