"""Weight packing and indirection buffers, in the layouts qrun_api.h describes."""
from __future__ import annotations

import numpy as np


def _blocks(n: int, width: int) -> int:
    return -(-n // width)


def pack_gemm(w: np.ndarray, bias: np.ndarray, ks: int, nr: int, kr: int) -> np.ndarray:
    """w: [n, ks * kc] int8 values (tap-major), bias: [n] int32 -> bytes: per block of nr
    channels, nr int32 biases then [ks][kc/kr][nr][kr] int8 (channels and kc zero-padded)."""
    n, k = w.shape
    kc = k // ks
    nb, kcp = _blocks(n, nr), _blocks(kc, kr) * kr
    wp = np.zeros((nb * nr, ks, kcp), np.int8)
    wp[:n, :, :kc] = w.reshape(n, ks, kc)
    wp = wp.reshape(nb, nr, ks, kcp // kr, kr).transpose(0, 2, 3, 1, 4).reshape(nb, -1)
    bp = np.zeros(nb * nr, np.int32)
    bp[:n] = bias
    return np.concatenate([bp.reshape(nb, nr).view(np.uint8), wp.view(np.uint8)], axis=1).ravel()


def pack_dwconv(w: np.ndarray, bias: np.ndarray, cr: int) -> np.ndarray:
    """w: [taps, channels] int16, bias: [channels] int32 -> bytes: per block of cr channels,
    cr int32 biases then [taps][cr] int16 (channels zero-padded)."""
    taps, c = w.shape
    nb = _blocks(c, cr)
    wp = np.zeros((taps, nb * cr), np.int16)
    wp[:, :c] = w
    wp = wp.reshape(taps, nb, cr).transpose(1, 0, 2).reshape(nb, -1)
    bp = np.zeros(nb * cr, np.int32)
    bp[:c] = bias
    return np.concatenate([bp.reshape(nb, cr).view(np.uint8), wp.view(np.uint8)], axis=1).ravel()


def window_indirection(batch: int, in_h: int, in_w: int, pixel_bytes: int, out_h: int,
                       out_w: int, k_h: int, k_w: int, stride_h: int, stride_w: int,
                       dil_h: int, dil_w: int, pad_top: int, pad_left: int) -> np.ndarray:
    """[batch * out_h * out_w, k_h * k_w] int64: the byte offset of the input pixel each
    window tap reads (relative to the input tensor), -1 where the tap falls in the padding."""
    # Separable: a row term per (oy, ky) and a column term per (ox, kx), each hugely
    # negative outside the input, so that one add and one clamp give the offsets.
    outside = -(1 << 60)
    iy = np.arange(out_h)[:, None] * stride_h - pad_top + np.arange(k_h)[None, :] * dil_h
    ix = np.arange(out_w)[:, None] * stride_w - pad_left + np.arange(k_w)[None, :] * dil_w
    rows = np.where((iy >= 0) & (iy < in_h), iy.astype(np.int64) * in_w * pixel_bytes, outside)
    cols = np.where((ix >= 0) & (ix < in_w), ix.astype(np.int64) * pixel_bytes, outside)
    ind = np.empty((batch, out_h, out_w, k_h, k_w), np.int64)
    np.add(rows[None, :, None, :, None], cols[None, None, :, None, :], out=ind)
    if batch > 1:
        ind += (np.arange(batch, dtype=np.int64) * in_h * in_w * pixel_bytes)[:, None, None, None,
                                                                             None]
    np.maximum(ind, -1, out=ind)
    return ind.reshape(batch * out_h * out_w, k_h * k_w)
