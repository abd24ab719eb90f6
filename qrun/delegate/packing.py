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


def k_major_pays(n: int, ks: int, kc: int, n_max: int) -> bool:
    """The K-major kernels (vectors along K, for n <= n_max channels) when cheaper per row:
    per tap, a 64-byte step (load, XOR, n dot products) per 64 bytes of K, then a horizontal
    sum and a scalar requantization per channel (~40, as timed on 3x3 convolutions with 1-4
    output channels); the channel blocks: a step (broadcast, XOR, a dot product per 16
    channels) per 4 bytes of K, then ~8 per 16 channels."""
    vectors = _blocks(n, 16)
    k_major = ks * _blocks(kc, 64) * (2 + n) + 40 * n
    blocks = ks * _blocks(kc, 4) * (2 + vectors) + 8 * vectors
    return n <= n_max and k_major < blocks


def pack_gemm_k_major(w: np.ndarray, bias: np.ndarray, ks: int) -> np.ndarray:
    """w: [n, ks * kc] int8 values (tap-major, n <= 16), bias: [n] int32 -> bytes: 64 bytes
    holding the n biases, then [ks][n][kc rounded up to 64] int8 (K zero-padded)."""
    n, k = w.shape
    kc = k // ks
    wp = np.zeros((ks, n, _blocks(kc, 64) * 64), np.int8)
    wp[:, :, :kc] = w.reshape(n, ks, kc).transpose(1, 0, 2)
    packed = aligned_bytes(64 + wp.size)
    packed[:4 * n] = np.asarray(bias, np.int32).view(np.uint8)
    packed[64:] = wp.view(np.uint8).ravel()
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


def pack_dwconv(w: np.ndarray, bias: np.ndarray, scale: np.ndarray, multiplier: np.ndarray,
                shift: np.ndarray, cr: int, group: int) -> np.ndarray:
    """w: [taps, channels] (int16 for pairs, int8 for quads), bias: [channels] int32, scale:
    [channels] float32, multiplier and shift: [channels] int32 (qrun_requant's) -> bytes: per
    block of cr channels, cr int32 biases, cr float32 scales, cr int32 multipliers, cr int32
    shifts, then for each group of `group` taps, cr groups of weights (w[t], ...,
    w[t + group - 1]) (taps padded with 0); within a block, channel j at
    dwconv_positions(cr, group)[j] (channels zero-padded)."""
    taps, c = w.shape
    nb, groups = _blocks(c, cr), _blocks(taps, group)
    pos = dwconv_positions(cr, group)
    wp = np.zeros((groups * group, nb, cr), w.dtype)
    wp[:taps, :, pos] = np.pad(w, ((0, 0), (0, nb * cr - c))).reshape(taps, nb, cr)
    wp = wp.reshape(groups, group, nb, cr).transpose(2, 0, 3, 1).reshape(nb, -1)
    header = []
    for values, dtype in ((bias, np.int32), (scale, np.float32), (multiplier, np.int32),
                          (shift, np.int32)):
        block = np.zeros((nb, cr), dtype)
        block[:, pos] = np.pad(np.asarray(values, dtype), (0, nb * cr - c)).reshape(nb, cr)
        header.append(block.view(np.uint8))
    return np.concatenate(header + [wp.view(np.uint8)], axis=1).ravel()


def dwconv_quad_channels(c: int) -> int:
    """The channels the quad layout holds: 64-channel blocks, the last one 32 wide when at
    most 32 channels are left over."""
    return -(-c // 32) * 32 if c % 64 <= 32 else -(-c // 64) * 64


def pack_dwconv_quads(w: np.ndarray, *channel_values: np.ndarray) -> np.ndarray:
    """pack_dwconv(w, *channel_values, ..., group 4) (bias, scale, multiplier, shift) in
    64-channel blocks, the last one 32 wide when at most 32 channels are left over (the
    AVX-512 VNNI build's 512- and 256-bit tiles); w int8, or raw uint8 (the kernel takes the
    zero point's term)."""
    c = w.shape[1]
    wide = 64 * (-(-c // 64) if c % 64 > 32 else c // 64)
    parts = [pack_dwconv(w[:, :wide], *(a[:wide] for a in channel_values), 64, 4)] if wide else []
    if wide < c:
        parts.append(pack_dwconv(w[:, wide:], *(a[wide:] for a in channel_values), 32, 4))
    return np.concatenate(parts)


OUTSIDE = -(1 << 60)   # a tap term outside the input: any sum with it stays negative


def _separable_terms(batch: int, in_h: int, in_w: int, pixel_bytes: int, iy: np.ndarray,
                     iy_ok: np.ndarray, ix: np.ndarray, ix_ok: np.ndarray) -> tuple:
    """The byte offsets of the input pixels each window tap reads, as a row term
    [batch * out_h, k_h] (batch included) and a column term [out_w, k_w], from the row index
    iy[oy, ky] and column index ix[ox, kx] (OUTSIDE where not *_ok)."""
    image = np.arange(batch, dtype=np.int64)[:, None, None] * in_h * in_w * pixel_bytes
    rows = np.where(iy_ok[None], image + iy.astype(np.int64) * in_w * pixel_bytes, OUTSIDE)
    return (rows.reshape(-1, iy.shape[1]),
            np.where(ix_ok, ix.astype(np.int64) * pixel_bytes, OUTSIDE))


def _separable_indirection(batch: int, in_h: int, in_w: int, pixel_bytes: int,
                           iy: np.ndarray, iy_ok: np.ndarray, ix: np.ndarray,
                           ix_ok: np.ndarray) -> np.ndarray:
    """[batch * out_h * out_w, k_h * k_w] byte offsets of input pixels (-1 where not *_ok):
    the sum of the row and column terms, clamped."""
    rows, cols = _separable_terms(batch, in_h, in_w, pixel_bytes, iy, iy_ok, ix, ix_ok)
    (q, k_h), (out_w, k_w) = rows.shape, cols.shape
    ind = np.empty((q, out_w, k_h, k_w), np.int64)
    np.add(rows[:, None, :, None], cols[None, :, None, :], out=ind)
    np.maximum(ind, -1, out=ind)
    return ind.reshape(q * out_w, k_h * k_w)


def _window_indices(out_h: int, out_w: int, k_h: int, k_w: int, stride_h: int, stride_w: int,
                    dil_h: int, dil_w: int, pad_top: int, pad_left: int) -> tuple:
    iy = np.arange(out_h)[:, None] * stride_h - pad_top + np.arange(k_h)[None, :] * dil_h
    ix = np.arange(out_w)[:, None] * stride_w - pad_left + np.arange(k_w)[None, :] * dil_w
    return iy, ix


def window_indirection(batch: int, in_h: int, in_w: int, pixel_bytes: int, out_h: int,
                       out_w: int, k_h: int, k_w: int, stride_h: int, stride_w: int,
                       dil_h: int, dil_w: int, pad_top: int, pad_left: int) -> np.ndarray:
    """Convolution and pooling windows: [batch * out_h * out_w, k_h * k_w] int64, the byte
    offset of the input pixel each window tap reads (relative to the input tensor), -1 where
    the tap falls in the padding."""
    iy, ix = _window_indices(out_h, out_w, k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top,
                             pad_left)
    return _separable_indirection(batch, in_h, in_w, pixel_bytes, iy, (iy >= 0) & (iy < in_h),
                                  ix, (ix >= 0) & (ix < in_w))


def _deconv_args(batch, in_h, in_w, pixel_bytes, out_h, out_w, k_h, k_w, stride_h, stride_w,
                 pad_top, pad_left) -> tuple:
    ty = np.arange(out_h)[:, None] + pad_top - np.arange(k_h)[None, :]
    tx = np.arange(out_w)[:, None] + pad_left - np.arange(k_w)[None, :]
    iy, ix = ty // stride_h, tx // stride_w
    return (batch, in_h, in_w, pixel_bytes, iy, (ty % stride_h == 0) & (iy >= 0) & (iy < in_h),
            ix, (tx % stride_w == 0) & (ix >= 0) & (ix < in_w))


def window_taps(batch: int, in_h: int, in_w: int, pixel_bytes: int, out_h: int, out_w: int,
                k_h: int, k_w: int, stride_h: int, stride_w: int, dil_h: int, dil_w: int,
                pad_top: int, pad_left: int) -> tuple:
    """The IGEMM's convolution taps (qrun_gemm_params.tap_rows, tap_cols): byte offsets of
    the input rows [batch * out_h, k_h] and columns [out_w, k_w] each tap reads, OUTSIDE in
    the padding. Kilobytes where window_indirection holds out_h * out_w * k_h * k_w."""
    iy, ix = _window_indices(out_h, out_w, k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top,
                             pad_left)
    return _separable_terms(batch, in_h, in_w, pixel_bytes, iy, (iy >= 0) & (iy < in_h), ix,
                            (ix >= 0) & (ix < in_w))


def deconv_taps(*args) -> tuple:
    """Transpose convolution as a gather, in window_taps' form (args as its, without
    dilations): output (oy, ox) takes tap (ky, kx) from the input pixel that scatters there,
    iy = (oy + pad_top - ky) / stride_h when that divides; OUTSIDE where no input pixel
    does."""
    return _separable_terms(*_deconv_args(*args))


def uniform_col_step(cols: np.ndarray, mr: int) -> int:
    """qrun_gemm_params.col_step: the byte step d such that for every run of mr output
    columns x0 .. x0 + mr - 1 whose first tap of x0 and last tap of x0 + mr - 1 are inside,
    every tap of column x0 + i is inside at cols[x0] + i * d; 0 when there is none."""
    valid = cols >= 0
    both = valid[1:] & valid[:-1]
    steps = np.unique((cols[1:] - cols[:-1])[both])
    if len(cols) < mr or len(steps) != 1:
        return 0
    step = int(steps[0])
    runs = np.lib.stride_tricks.sliding_window_view(cols, mr, axis=0)   # [x0, kw, mr]
    chosen = (runs[:, 0, 0] >= 0) & (runs[:, -1, -1] >= 0)
    expect = runs[chosen, :, :1] + np.arange(mr) * step
    return step if np.array_equal(runs[chosen], expect) else 0


def _uniform_offsets(terms: np.ndarray):
    """The offsets of each entry from the first of its row, the same for every row whose
    first and last entries are inside, where all entries of those rows are inside; None
    otherwise (or when no row is)."""
    whole = (terms[:, 0] >= 0) & (terms[:, -1] >= 0)
    if not whole.any():
        return None
    rel = terms[whole] - terms[whole, :1]
    if np.any(terms[whole] < 0) or np.any(rel != rel[:1]):
        return None
    return rel[0]


def window_offsets(rows: np.ndarray, cols: np.ndarray, fused: bool):
    """qrun_gemm_params.tap_off: each kernel tap's offset from its window's first pixel, for
    windows whose first and last taps down and across are inside; None when such windows do
    not all read their taps at the same offsets."""
    row_off, col_off = _uniform_offsets(rows), _uniform_offsets(cols)
    if row_off is None or col_off is None:
        return None
    return row_off if fused else (row_off[:, None] + col_off[None, :]).ravel()


def gemm_tap_buffers(ctx, p, make: Callable[..., tuple], args: tuple, input_nbytes: int,
                     fused: bool) -> None:
    """Fills the IGEMM's tap fields of `p` (tap_rows, tap_cols, col_step, out_w, kh, kw, in_c,
    kx_fused) from make(*args) (args: batch, in_h, in_w, pixel_bytes, out_h, out_w, k_h, k_w,
    ...), one set of buffers per geometry for all the ops of a graph. Checked: every tap reads
    a whole pixel inside the input, an outside term is OUTSIDE, with `fused` a window inside
    across reads its kw pixels contiguously, and col_step holds (uniform_col_step)."""
    pixel_bytes = args[3]

    def build(part: int) -> np.ndarray:
        rows, cols = make(*args)
        for t in (rows, cols):
            if np.any((t < 0) & (t != OUTSIDE)):
                raise PlanError("tap offsets out of range")
        top = rows.max(initial=-1), cols.max(initial=-1)
        if min(top) >= 0 and top[0] + top[1] + pixel_bytes > input_nbytes:
            raise PlanError("taps reach past the input")
        if fused:
            inside = (cols[:, 0] >= 0) & (cols[:, -1] >= 0)
            run = cols[inside, :1] + np.arange(cols.shape[1]) * pixel_bytes
            if not np.array_equal(cols[inside], run):
                raise PlanError("fused taps are not contiguous")
        if part == 3:
            return window_offsets(rows, cols, fused)
        return (rows, cols, np.array([uniform_col_step(cols, ctx.backend.gemm_mr)]))[part]
    key = (make.__name__, input_nbytes) + tuple(args)
    p.tap_rows = ctx.shared_buffer(key + ("rows",), lambda: build(0), "int64_t")
    p.tap_cols = ctx.shared_buffer(key + ("cols",), lambda: build(1), "int64_t")
    p.col_step = ctx.shared_buffer(key + ("step",), lambda: build(2), "int64_t")[0]
    offsets = build(3)
    p.tap_off = ctx.ffi.NULL if offsets is None else ctx.buffer(offsets, "int64_t")
    p.out_w, p.kh, p.kw, p.in_c = args[5], args[6], args[7], pixel_bytes
    p.kx_fused = fused
    kx = np.zeros(1, np.int32) if fused else np.arange(p.kw, dtype=np.int32)
    p.tap_yx = ctx.buffer(np.stack(np.meshgrid(np.arange(p.kh, dtype=np.int32), kx,
                                               indexing="ij"), -1).ravel(), "int32_t")


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
