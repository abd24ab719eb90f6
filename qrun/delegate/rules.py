"""Checks shared by the support rules: each returns None when satisfied, else the reason."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..interpreter.schema import Activation

QUANTIZED = (np.dtype(np.int8), np.dtype(np.uint8))
CLAMP_ACTIVATIONS = (Activation.NONE, Activation.RELU, Activation.RELU6, Activation.RELU_N1_TO_1)


def per_tensor_activation(t, dtype) -> Optional[str]:
    """A non-constant quantized tensor of `dtype` with one scale and zero point."""
    if t is None:
        return "missing tensor"
    if t.dtype != dtype:
        return "tensor %d is %s, expected %s" % (t.index, t.dtype.name, np.dtype(dtype).name)
    if t.is_constant:
        return "tensor %d is constant" % t.index
    q = t.quantization
    if len(q.scales) != 1 or not np.isfinite(q.scale) or q.scale <= 0:
        return "tensor %d is not quantized per tensor" % t.index
    return None


def static_weights(t, dtype, channels: int, axis: int) -> Optional[str]:
    """Constant weights of `dtype`, per-tensor or per-channel along `axis`, one zero point
    (0 for int8)."""
    if t is None or not t.is_constant:
        return "weights are not constant"
    if t.dtype != dtype:
        return "weights are %s, expected %s" % (t.dtype.name, np.dtype(dtype).name)
    if t.sparsity:
        return "sparse weights"
    if t.constant.size != int(np.prod(t.shape, dtype=np.int64)):
        return "weight data does not match the weight shape"
    q = t.quantization
    if len(q.scales) not in (1, channels):
        return "weights have %d scales for %d channels" % (len(q.scales), channels)
    if len(q.scales) > 1 and q.quantized_dimension != axis:
        return "weights are quantized along axis %d, expected %d" % (q.quantized_dimension, axis)
    if not np.all(np.isfinite(q.scales)) or np.any(q.scales <= 0):
        return "weight scales are not positive"
    if len(set(int(z) for z in q.zero_points)) != 1:
        return "weight zero points differ between channels"
    if dtype == np.int8 and q.zero_point != 0:
        return "int8 weights with a nonzero zero point"
    return None


def static_bias(t, channels: int) -> Optional[str]:
    if t is None:
        return None
    if not t.is_constant or t.dtype != np.int32:
        return "bias is not a constant int32 tensor"
    if t.constant.size != channels:
        return "bias has %d values for %d channels" % (t.constant.size, channels)
    return None


def clamp_activation(op) -> Optional[str]:
    act = getattr(op.options, "fused_activation_function", Activation.NONE)
    if act not in CLAMP_ACTIVATIONS:
        return "fused activation %d" % act
    return None


def first_reason(*reasons) -> Optional[str]:
    for r in reasons:
        if r is not None:
            return r
    return None
