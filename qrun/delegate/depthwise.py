"""Depthwise convolution's row kernel layout (qrun_dwconv_params.row_lanes): few channels,
multiplier 1, horizontal stride 1; an output row is a 1-D convolution over its bytes, with
the int16 pairs' vector or the quads' 64 lanes."""
from __future__ import annotations

import numpy as np

from .plan import PlanError


def row_kernel_lanes(row_cr: int, channels: int, multiplier: int, stride_w: int, k_h: int,
                     span_w: int) -> int:
    """Output bytes per vector step of the row kernel (a multiple of the channels), or 0 where
    the per-pixel kernels are as good (their channel blocks already fill half a vector) or the
    window is too large for the kernel's copies of the row ends on the stack (k_h rows of
    about twice the window's width span_w = (k_w - 1) * dilation_w + 1 pixels)."""
    if (row_cr == 0 or multiplier != 1 or stride_w != 1 or 2 * channels > row_cr
            or k_h > 16 or span_w * channels > 1024):
        return 0
    return row_cr // channels * channels


def row_channels(lanes: int, channels: int) -> np.ndarray:
    """The channel of each of the row kernel's `lanes` lanes (a multiple of the channels): its
    weights, biases and scales are the channels' repeated."""
    return np.arange(lanes) % channels


def row_indirection(batch: int, in_h: int, row_bytes: int, out_h: int, k_h: int,
                    stride_h: int, dil_h: int, pad_top: int) -> np.ndarray:
    """[batch * out_h, k_h] int64: the byte offset of the input row each kernel row reads for
    each output row (relative to the input tensor), -1 in the padding."""
    iy = np.arange(out_h)[:, None] * stride_h - pad_top + np.arange(k_h)[None, :] * dil_h
    ok = (iy >= 0) & (iy < in_h)
    rows = (np.arange(batch)[:, None, None] * in_h + iy[None]) * row_bytes
    ind = np.where(ok[None], rows, -1).astype(np.int64).reshape(batch * out_h, k_h)
    if ind.max(initial=-1) + row_bytes > batch * in_h * row_bytes:
        raise PlanError("row indirection reaches past the input")
    return ind
