"""The StableHLO ops LiteRT's builtin resolver runs without subgraphs: STABLEHLO_ADD,
STABLEHLO_MULTIPLY, STABLEHLO_MAXIMUM, STABLEHLO_MINIMUM (same-shape elementwise, integers
wrap) and STABLEHLO_PAD (edge padding, negative to crop, and interior padding).
"""
from __future__ import annotations

import numpy as np

from ..registry import register

TYPES = (np.float32, np.float16, np.int8, np.int16, np.int32, np.int64, np.uint8)


def elementwise_shape(op):
    a, b = op.inputs[0], op.inputs[1]
    if a.dtype != b.dtype or tuple(a.shape) != tuple(b.shape):
        raise ValueError("%s needs operands of one type and shape, got %s %s and %s %s"
                         % (op.opname, a.dtype, list(a.shape), b.dtype, list(b.shape)))
    return [tuple(a.shape)]


def _elementwise(fn):
    def kernel(op):
        return fn(op.inputs[0].data, op.inputs[1].data).astype(op.outputs[0].dtype)
    return kernel


for _name, _fn in (("STABLEHLO_ADD", np.add), ("STABLEHLO_MULTIPLY", np.multiply),
                   ("STABLEHLO_MAXIMUM", np.maximum), ("STABLEHLO_MINIMUM", np.minimum)):
    register(_name, TYPES, shape=elementwise_shape)(_elementwise(_fn))


def _pad_params(op):
    rank = len(op.inputs[0].shape)
    params = [np.asarray(getattr(op.options, name, ()), np.int64).reshape(-1)
              for name in ("edge_padding_low", "edge_padding_high", "interior_padding")]
    if any(len(p) != rank for p in params) or np.any(params[2] < 0):
        raise ValueError("STABLEHLO_PAD needs %d low, high and non-negative interior paddings"
                         % rank)
    return params


def pad_shape(op):
    if tuple(op.inputs[1].shape) not in ((), (1,)):
        raise ValueError("STABLEHLO_PAD padding value must be a scalar")
    low, high, interior = _pad_params(op)
    shape = []
    for n, lo, hi, gap in zip(op.inputs[0].shape, low, high, interior):
        size = lo + hi + (n + (n - 1) * gap if n else 0)
        if size < 0:
            raise ValueError("STABLEHLO_PAD crops dimension of %d below 0" % n)
        shape.append(int(size))
    return [tuple(shape)]


@register("STABLEHLO_PAD", TYPES, shape=pad_shape)
def stablehlo_pad(op):
    x = op.inputs[0].data
    value = np.asarray(op.inputs[1].data).reshape(-1)[0]
    low, high, interior = _pad_params(op)
    # Interior padding first (a dilation), then the edges: padded where positive, cropped
    # where negative.
    spread = tuple(n + (n - 1) * g if n else 0 for n, g in zip(x.shape, interior))
    full = np.full(tuple(s + max(lo, 0) + max(hi, 0) for s, lo, hi in zip(spread, low, high)),
                   value, x.dtype)
    full[tuple(slice(max(lo, 0), max(lo, 0) + s, g + 1)
               for lo, s, g in zip(low, spread, interior))] = x
    return full[tuple(slice(max(-lo, 0), n - max(-hi, 0))
                      for lo, hi, n in zip(low, high, full.shape))]
