"""Padding: PAD, PADV2 (a constant border) and MIRROR_PAD (REFLECT, SYMMETRIC)."""
from __future__ import annotations

import numpy as np

from ..registry import register
from .shape_ops import ALL_TYPES, WIDE_TYPES, known



def _paddings(op, value) -> np.ndarray:
    """The [rank, 2] (before, after) amounts, checked as pad.cc does."""
    rank = len(op.inputs[0].shape)
    p = np.asarray(value).astype(np.int64)
    if p.shape != (rank, 2):
        raise ValueError("%s paddings have shape %s, expected [%d, 2]"
                         % (op.opname, list(p.shape), rank))
    if (p < 0).any():
        raise ValueError("%s paddings must be >= 0, got %s" % (op.opname, p.tolist()))
    return p


def _padded_shape(op, p: np.ndarray) -> tuple:
    return tuple(int(d) + int(lo) + int(hi) for d, (lo, hi) in zip(op.inputs[0].shape, p))


def pad_shape(op):
    got = known(op, 1)
    return None if got is None else [_padded_shape(op, _paddings(op, got[0]))]


def _pad_value(op):
    """PADV2's constant (stored in the output's quantization), else the zero point of a
    quantized tensor (pad.cc EvalInt: uint8 always, int8/int16 when quantized), else 0."""
    x = op.inputs[0]
    constant = op.inputs[2] if len(op.inputs) > 2 else None
    if constant is not None:
        if constant.data.size != 1:
            raise ValueError("%s constant_values must hold one value" % op.opname)
        return constant.data.reshape(-1)[0]
    if x.dtype == np.uint8 or (x.dtype in (np.int8, np.int16) and len(x.quantization.scales)):
        return op.outputs[0].zero_point
    return 0


@register("PAD", ALL_TYPES, shape=pad_shape)
@register("PADV2", ALL_TYPES, shape=pad_shape)
def pad(op):
    x = op.inputs[0].data
    p = _paddings(op, op.inputs[1].data)
    out = np.full(_padded_shape(op, p), _pad_value(op), dtype=x.dtype)
    out[tuple(slice(int(lo), int(lo) + d) for d, (lo, _) in zip(x.shape, p))] = x
    return out


def _mirror_paddings(op, value) -> np.ndarray:
    """mirror_pad.cc's limits: REFLECT repeats no edge (pad <= dim - 1), SYMMETRIC does
    (pad <= dim)."""
    p = _paddings(op, value)
    limit = np.asarray(op.inputs[0].shape, np.int64) - (1 if _mirror_mode(op) == "reflect" else 0)
    if (p > limit[:, None]).any():
        raise ValueError("MIRROR_PAD paddings %s too large for shape %s"
                         % (p.tolist(), list(op.inputs[0].shape)))
    return p


def _mirror_mode(op) -> str:
    return "symmetric" if getattr(op.options, "mode", 0) == 1 else "reflect"


def mirror_pad_shape(op):
    got = known(op, 1)
    return None if got is None else [_padded_shape(op, _mirror_paddings(op, got[0]))]


@register("MIRROR_PAD", WIDE_TYPES, shape=mirror_pad_shape)
def mirror_pad(op):
    p = _mirror_paddings(op, op.inputs[1].data)
    return np.pad(op.inputs[0].data, p.tolist(), mode=_mirror_mode(op))
