"""Helpers shared by the kernel families: shape rules, padding, requantization."""
from __future__ import annotations

from typing import List, Tuple

import numpy as np

from ..quant import multiply_by_quantized_multiplier
from ..schema import Padding


def same_as_input(index: int = 0):
    """Shape rule: every output has the shape of input `index`."""
    def rule(op) -> List[Tuple[int, ...]]:
        return [op.inputs[index].shape for _ in op.outputs]
    return rule


def constant_input(op, i: int, what: str) -> np.ndarray:
    """The value of input i, which the shape rule needs to be known before invoke."""
    t = op.inputs[i] if i < len(op.inputs) else None
    if t is None:
        raise ValueError("%s input %d is missing" % (what, i))
    if not t.is_constant:
        raise ValueError("%s input %d (tensor %d) is not constant" % (what, i, t.index))
    return t.constant


def out_size(padding: int, size: int, filter_size: int, stride: int, dilation: int = 1) -> int:
    """ComputeOutSize."""
    effective = (filter_size - 1) * dilation + 1
    if stride <= 0 or dilation <= 0:
        raise ValueError("stride %d and dilation %d must be positive" % (stride, dilation))
    if padding == Padding.SAME:
        return (size + stride - 1) // stride
    if padding == Padding.VALID:
        return (size + stride - effective) // stride
    raise ValueError("unknown padding %d" % padding)


def pad_before(stride: int, dilation: int, in_size: int, filter_size: int, out: int) -> int:
    """ComputePaddingWithOffset: the padding before the first element (TFLite floors it)."""
    effective = (filter_size - 1) * dilation + 1
    total = max((out - 1) * stride + effective - in_size, 0)
    return total // 2


def requantize(acc: np.ndarray, multiplier, shift, zero_point: int, lo: int, hi: int,
               dtype) -> np.ndarray:
    """int32 accumulator -> output integers: fixed-point scale, add zero point, clamp."""
    out = multiply_by_quantized_multiplier(acc, multiplier, shift) + zero_point
    return np.clip(out, lo, hi).astype(dtype)


def broadcast_shape(*shapes) -> Tuple[int, ...]:
    try:
        return tuple(int(d) for d in np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError:
        raise ValueError("shapes %s cannot be broadcast" % " and ".join(
            str(list(s)) for s in shapes)) from None
