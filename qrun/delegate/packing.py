"""Weight packing and indirection buffers, in the layouts qrun_api.h describes."""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from .plan import PlanError


def _blocks(n: int, width: int) -> int:
    return -(-n // width)


def gemm_block_width(n: int, step: int, widest: int) -> int:
    """Channels per GEMM weight block for n output channels: among the multiples of `step` up
    to `widest`, the one that pads n the least, the widest of those (fewer, longer blocks)."""
    return min(range(step, widest + 1, step), key=lambda nr: (_blocks(n, nr) * nr, -nr))


def unsigned_weights_pay(ks: int, kc: int, blocks: int) -> bool:
    """For int8 A on a u8 x s8 dot product, per row: XOR A to unsigned in the loop (a cost of
    1 per 4 bytes of K, per tap and channel block), or pack the weights + 128 and take the row
    sum of A once per row (13 per 64 bytes, 3 per tap, 8 per row: fitted to the AVX-512 VNNI
    kernels' timings on MobileNet layer shapes). True when the row sum is cheaper."""
    xor_cost = ks * -(-kc // 4) * blocks
    row_sum_cost = ks * (13 * -(-kc // 64) + 3) + 8
    return row_sum_cost < xor_cost


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
    packed = aligned_bytes(nb * (nr * 4 + wp.shape[1]))
    packed.reshape(nb, -1)[:] = np.concatenate([bp.reshape(nb, nr).view(np.uint8),
                                                wp.view(np.uint8)], axis=1)
    return packed


def aligned_bytes(size: int, alignment: int = 64) -> np.ndarray:
    """A zeroed uint8 array whose data starts on an `alignment`-byte boundary: the SIMD
    kernels' full-vector weight loads then never straddle two cache lines."""
    raw = np.zeros(size + alignment, np.uint8)
    start = -raw.ctypes.data % alignment
    return raw[start:start + size]


def dwconv_positions(cr: int, group: int) -> np.ndarray:
    """Where channel j of a depthwise block sits: the order in which the SIMD kernels' unpacks
    produce channels. Pairs (group 2, cr a multiple of 8): per 8 channels, the low 4 in the
    first accumulator vector, the high 4 in the second. Quads (group 4, cr 64 or 32):
    channel 16 L + 4 k + i in accumulator k, 128-bit lane L."""
    j = np.arange(cr)
    if group == 2:
        return (j % 8) // 4 * (cr // 2) + j // 8 * 4 + j % 4
    return (j % 16) // 4 * (cr // 4) + j // 16 * 4 + j % 4


def pack_dwconv(w: np.ndarray, bias: np.ndarray, scale: np.ndarray, cr: int,
                group: int) -> np.ndarray:
    """w: [taps, channels] (int16 for pairs, int8 for quads), bias: [channels] int32, scale:
    [channels] float32 -> bytes: per block of cr channels, cr int32 biases, cr float32 scales,
    then for each group of `group` taps, cr groups of weights (w[t], ..., w[t + group - 1])
    (taps padded with 0); within a block, channel j at dwconv_positions(cr, group)[j]
    (channels zero-padded)."""
    taps, c = w.shape
    nb, groups = _blocks(c, cr), _blocks(taps, group)
    pos = dwconv_positions(cr, group)
    wp = np.zeros((groups * group, nb, cr), w.dtype)
    wp[:taps, :, pos] = np.pad(w, ((0, 0), (0, nb * cr - c))).reshape(taps, nb, cr)
    wp = wp.reshape(groups, group, nb, cr).transpose(2, 0, 3, 1).reshape(nb, -1)
    bp = np.zeros((nb, cr), np.int32)
    sp = np.zeros((nb, cr), np.float32)
    bp[:, pos] = np.pad(bias, (0, nb * cr - c)).reshape(nb, cr)
    sp[:, pos] = np.pad(scale, (0, nb * cr - c)).reshape(nb, cr)
    return np.concatenate([bp.view(np.uint8), sp.view(np.uint8), wp.view(np.uint8)],
                          axis=1).ravel()


def dwconv_quad_channels(c: int) -> int:
    """The channels the quad layout holds: 64-channel blocks, the last one 32 wide when at
    most 32 channels are left over."""
    return -(-c // 32) * 32 if c % 64 <= 32 else -(-c // 64) * 64


def pack_dwconv_quads(w: np.ndarray, bias: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """pack_dwconv(..., group 4) in 64-channel blocks, the last one 32 wide when at most 32
    channels are left over (the AVX-512 VNNI build's 512- and 256-bit tiles); w int8, or raw
    uint8 (the kernel takes the zero point's term)."""
    c = w.shape[1]
    wide = 64 * (-(-c // 64) if c % 64 > 32 else c // 64)
    parts = [pack_dwconv(w[:, :wide], bias[:wide], scale[:wide], 64, 4)] if wide else []
    if wide < c:
        parts.append(pack_dwconv(w[:, wide:], bias[wide:], scale[wide:], 32, 4))
    return np.concatenate(parts)


def _separable_indirection(batch: int, in_h: int, in_w: int, pixel_bytes: int,
                           iy: np.ndarray, iy_ok: np.ndarray, ix: np.ndarray,
                           ix_ok: np.ndarray) -> np.ndarray:
    """[batch * out_h * out_w, k_h * k_w] byte offsets of input pixels from the row index
    iy[oy, ky] and column index ix[ox, kx] each tap reads (-1 where not *_ok): a row term
    and a column term, hugely negative where invalid, so one add and one clamp do it."""
    outside = -(1 << 60)
    rows = np.where(iy_ok, iy.astype(np.int64) * in_w * pixel_bytes, outside)
    cols = np.where(ix_ok, ix.astype(np.int64) * pixel_bytes, outside)
    (out_h, k_h), (out_w, k_w) = rows.shape, cols.shape
    ind = np.empty((batch, out_h, out_w, k_h, k_w), np.int64)
    np.add(rows[None, :, None, :, None], cols[None, None, :, None, :], out=ind)
    if batch > 1:
        ind += (np.arange(batch, dtype=np.int64) * in_h * in_w * pixel_bytes)[:, None, None, None,
                                                                             None]
    np.maximum(ind, -1, out=ind)
    return ind.reshape(batch * out_h * out_w, k_h * k_w)


def window_indirection(batch: int, in_h: int, in_w: int, pixel_bytes: int, out_h: int,
                       out_w: int, k_h: int, k_w: int, stride_h: int, stride_w: int,
                       dil_h: int, dil_w: int, pad_top: int, pad_left: int) -> np.ndarray:
    """Convolution and pooling windows: [batch * out_h * out_w, k_h * k_w] int64, the byte
    offset of the input pixel each window tap reads (relative to the input tensor), -1 where
    the tap falls in the padding."""
    iy = np.arange(out_h)[:, None] * stride_h - pad_top + np.arange(k_h)[None, :] * dil_h
    ix = np.arange(out_w)[:, None] * stride_w - pad_left + np.arange(k_w)[None, :] * dil_w
    return _separable_indirection(batch, in_h, in_w, pixel_bytes, iy, (iy >= 0) & (iy < in_h),
                                  ix, (ix >= 0) & (ix < in_w))


def deconv_indirection(batch: int, in_h: int, in_w: int, pixel_bytes: int, out_h: int,
                       out_w: int, k_h: int, k_w: int, stride_h: int, stride_w: int,
                       pad_top: int, pad_left: int) -> np.ndarray:
    """Transpose convolution as a gather: output (oy, ox) takes tap (ky, kx) from the input
    pixel that scatters there, iy = (oy + pad_top - ky) / stride_h when that divides; -1
    where no input pixel does."""
    ty = np.arange(out_h)[:, None] + pad_top - np.arange(k_h)[None, :]
    tx = np.arange(out_w)[:, None] + pad_left - np.arange(k_w)[None, :]
    iy, ix = ty // stride_h, tx // stride_w
    return _separable_indirection(
        batch, in_h, in_w, pixel_bytes, iy, (ty % stride_h == 0) & (iy >= 0) & (iy < in_h),
        ix, (tx % stride_w == 0) & (ix >= 0) & (ix < in_w))


def indirection_buffer(ctx, make: Callable[..., np.ndarray], args: tuple, input_nbytes: int,
                       check: Optional[Callable[[np.ndarray], None]] = None):
    """The plan buffer of make(*args) (args start with batch, in_h, in_w, pixel_bytes), one
    per geometry for all the ops of a graph, checked to read whole pixels inside the input
    (and by `check`)."""
    def build() -> np.ndarray:
        ind = make(*args)
        if ind.max(initial=-1) + args[3] > input_nbytes:
            raise PlanError("indirection reaches past the input")
        if check is not None:
            check(ind)
        return ind
    return ctx.shared_buffer((make.__name__, input_nbytes) + tuple(args), build, "int64_t")
