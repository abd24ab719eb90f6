"""CONV_3D and CONV_3D_TRANSPOSE (float32), NDHWC, as reference_ops::Conv3D and
Conv3DTranspose.

Both loop over the filter taps (a small dim) and do one matmul per tap on strided views,
accumulating in float64; padding is ComputePadding3DValues (the floor half of the total
before, as in 2-D). The transpose scatters each tap into a padded output and crops it.
"""
from __future__ import annotations

import itertools

import numpy as np

from ..quant import activation_range_float
from ..registry import register
from .common import constant_input, out_size, pad_before


def _geometry(op):
    o = op.options
    strides = (int(o.stride_d), int(o.stride_h), int(o.stride_w))
    dilations = (int(getattr(o, "dilation_d_factor", 1) or 1),
                 int(getattr(o, "dilation_h_factor", 1) or 1),
                 int(getattr(o, "dilation_w_factor", 1) or 1))
    return strides, dilations


def _activate(op, acc: np.ndarray) -> np.ndarray:
    lo, hi = activation_range_float(getattr(op.options, "fused_activation_function", 0))
    return np.clip(acc, lo, hi).astype(np.float32)


def _bias(op, index: int, channels: int) -> np.ndarray:
    t = op.inputs[index] if len(op.inputs) > index else None
    return np.zeros(channels) if t is None else t.data.astype(np.float64)


# -- CONV_3D -----------------------------------------------------------------------------------

def conv3d_shape(op):
    x, w = tuple(op.inputs[0].shape), tuple(op.inputs[1].shape)
    if len(x) != 5 or len(w) != 5 or x[4] != w[3]:
        raise ValueError("CONV_3D needs input NDHWC and filter [D, H, W, Cin, Cout] with the "
                         "same Cin, got %s and %s" % (list(x), list(w)))
    strides, dilations = _geometry(op)
    spatial = tuple(out_size(op.options.padding, x[1 + i], w[i], strides[i], dilations[i])
                    for i in range(3))
    if min(spatial) <= 0:
        raise ValueError("CONV_3D output %s is empty" % list(spatial))
    bias = op.inputs[2] if len(op.inputs) > 2 else None
    if bias is not None and tuple(bias.shape) != (w[4],):
        raise ValueError("CONV_3D bias must be [%d], got %s" % (w[4], list(bias.shape)))
    return [(x[0],) + spatial + (w[4],)]


@register("CONV_3D", (np.float32,), shape=conv3d_shape)
def conv_3d(op):
    x, w = op.inputs[0].data.astype(np.float64), op.inputs[1].data.astype(np.float64)
    strides, dilations = _geometry(op)
    out_shape = conv3d_shape(op)[0]
    spatial = out_shape[1:4]
    before = [pad_before(strides[i], dilations[i], x.shape[1 + i], w.shape[i], spatial[i])
              for i in range(3)]
    # Enough zeros after for the last window of every dimension.
    after = [max((spatial[i] - 1) * strides[i] + (w.shape[i] - 1) * dilations[i] + 1
                 - before[i] - x.shape[1 + i], 0) for i in range(3)]
    xp = np.pad(x, [(0, 0)] + list(zip(before, after)) + [(0, 0)])
    acc = np.zeros(out_shape)
    for taps in itertools.product(*(range(k) for k in w.shape[:3])):
        window = tuple(slice(t * d, t * d + (n - 1) * s + 1, s)
                       for t, d, s, n in zip(taps, dilations, strides, spatial))
        acc += xp[(slice(None),) + window] @ w[taps]
    return _activate(op, acc + _bias(op, 2, w.shape[4]))


# -- CONV_3D_TRANSPOSE -------------------------------------------------------------------------

def _transpose_output_shape(op, value) -> tuple:
    shape = tuple(int(d) for d in np.asarray(value).reshape(-1))
    x, w = tuple(op.inputs[2].shape), tuple(op.inputs[1].shape)
    if len(shape) != 5 or len(x) != 5 or len(w) != 5 or x[4] != w[4]:
        raise ValueError("CONV_3D_TRANSPOSE needs a 5-value output_shape, input NDHWC and "
                         "filter [D, H, W, Cout, Cin] with the input's Cin")
    bias = op.inputs[3] if len(op.inputs) > 3 else None
    if shape[0] != x[0] or shape[4] != w[3] or (bias is not None
                                                and tuple(bias.shape) != (w[3],)):
        raise ValueError("CONV_3D_TRANSPOSE output_shape %s does not match input %s, "
                         "filter %s and bias" % (list(shape), list(x), list(w)))
    strides, dilations = _geometry(op)
    for i in range(3):
        if out_size(op.options.padding, shape[1 + i], w[i], strides[i], dilations[i]) != x[1 + i]:
            raise ValueError("CONV_3D_TRANSPOSE output_shape %s is not a transpose of input %s"
                             % (list(shape), list(x)))
    return shape


def conv3d_transpose_shape(op):
    if op.inputs[0].is_constant:
        return [_transpose_output_shape(op, constant_input(op, 0, "CONV_3D_TRANSPOSE"))]
    return None


@register("CONV_3D_TRANSPOSE", (np.float32,), shape=conv3d_transpose_shape, dtype_input=2)
def conv_3d_transpose(op):
    shape = _transpose_output_shape(op, op.inputs[0].data)
    w, x = op.inputs[1].data.astype(np.float64), op.inputs[2].data.astype(np.float64)
    strides, dilations = _geometry(op)
    spatial = x.shape[1:4]
    before = [pad_before(strides[i], dilations[i], shape[1 + i], w.shape[i], spatial[i])
              for i in range(3)]
    # The full scatter extent; the output is its window starting at the padding.
    extent = [max((spatial[i] - 1) * strides[i] + (w.shape[i] - 1) * dilations[i] + 1,
                  before[i] + shape[1 + i]) for i in range(3)]
    acc = np.zeros((shape[0],) + tuple(extent) + (w.shape[3],))
    for taps in itertools.product(*(range(k) for k in w.shape[:3])):
        window = tuple(slice(t * d, t * d + (n - 1) * s + 1, s)
                       for t, d, s, n in zip(taps, dilations, strides, spatial))
        acc[(slice(None),) + window] += x @ w[taps].T
    out = acc[:, before[0]:before[0] + shape[1], before[1]:before[1] + shape[2],
              before[2]:before[2] + shape[3]]
    return _activate(op, out + _bias(op, 3, w.shape[3]))
