"""LSH_PROJECTION, with farmhash's Fingerprint64 (farmhashna::Hash64) vectorized over many
keys of one length.

Each output bit is the sign of sum_i weight[i] * (double)(int64)Fingerprint64(seed bytes ++
row i bytes), seed being one float of the hash tensor; SPARSE packs a row's bits into an int
offset by row * 2^bits, DENSE writes the bits.
"""
from __future__ import annotations

import numpy as np

from ..registry import register

U64 = np.uint64
K0, K1, K2 = U64(0xc3a5c85c97cb3127), U64(0xb492b66fbe98f273), U64(0x9ae16a3b2f90404f)


def _fetch64(s: np.ndarray, at: int) -> np.ndarray:
    return np.ascontiguousarray(s[:, at:at + 8]).view("<u8")[:, 0]


def _fetch32(s: np.ndarray, at: int) -> np.ndarray:
    return np.ascontiguousarray(s[:, at:at + 4]).view("<u4")[:, 0].astype(U64)


def _rotate(v, shift: int):
    return v if shift == 0 else (v >> U64(shift)) | (v << U64(64 - shift))


def _shift_mix(v):
    return v ^ (v >> U64(47))


def _hash_len16(u, v, mul):
    a = _shift_mix((u ^ v) * mul)
    b = _shift_mix((v ^ a) * mul)
    return b * mul


def _len0to16(s, n):
    if n >= 8:
        mul = K2 + U64(n * 2)
        a = _fetch64(s, 0) + K2
        b = _fetch64(s, n - 8)
        return _hash_len16(_rotate(b, 37) * mul + a, (_rotate(a, 25) + b) * mul, mul)
    if n >= 4:
        mul = K2 + U64(n * 2)
        return _hash_len16(U64(n) + (_fetch32(s, 0) << U64(3)), _fetch32(s, n - 4), mul)
    if n > 0:
        y = s[:, 0].astype(U64) + (s[:, n >> 1].astype(U64) << U64(8))
        z = U64(n) + (s[:, n - 1].astype(U64) << U64(2))
        return _shift_mix(y * K2 ^ z * K0) * K2
    return np.full(len(s), K2)


def _len17to32(s, n):
    mul = K2 + U64(n * 2)
    a = _fetch64(s, 0) * K1
    b = _fetch64(s, 8)
    c = _fetch64(s, n - 8) * mul
    d = _fetch64(s, n - 16) * K2
    return _hash_len16(_rotate(a + b, 43) + _rotate(c, 30) + d, a + _rotate(b + K2, 18) + c, mul)


def _len33to64(s, n):
    mul = K2 + U64(n * 2)
    a = _fetch64(s, 0) * K2
    b = _fetch64(s, 8)
    c = _fetch64(s, n - 8) * mul
    d = _fetch64(s, n - 16) * K2
    y = _rotate(a + b, 43) + _rotate(c, 30) + d
    z = _hash_len16(y, a + _rotate(b + K2, 18) + c, mul)
    e = _fetch64(s, 16) * mul
    f = _fetch64(s, 24)
    g = (y + _fetch64(s, n - 32)) * mul
    h = (z + _fetch64(s, n - 24)) * mul
    return _hash_len16(_rotate(e + f, 43) + _rotate(g, 30) + h, e + _rotate(f + a, 18) + g, mul)


def _weak32(s, at, a, b):
    w, x, y, z = (_fetch64(s, at + 8 * i) for i in range(4))
    a = a + w
    b = _rotate(b + a + z, 21)
    c = a
    a = a + x + y
    b = b + _rotate(a, 44)
    return a + z, b + c


def _len_over64(s, n):
    seed = U64(81)
    y = seed * K1 + U64(113)
    z = _shift_mix(y * K2 + U64(113)) * K2
    x = seed * K2 + _fetch64(s, 0)
    y = np.full(len(s), y)
    z = np.full(len(s), z)
    zero = np.zeros(len(s), U64)
    v, w = (zero, zero), (zero, zero)
    for at in range(0, ((n - 1) // 64) * 64, 64):
        x = _rotate(x + y + v[0] + _fetch64(s, at + 8), 37) * K1
        y = _rotate(y + v[1] + _fetch64(s, at + 48), 42) * K1
        x = x ^ w[1]
        y = y + v[0] + _fetch64(s, at + 40)
        z = _rotate(z + w[0], 33) * K1
        v = _weak32(s, at, v[1] * K1, x + w[0])
        w = _weak32(s, at + 32, z + w[1], y + _fetch64(s, at + 16))
        x, z = z, x
    mul = K1 + ((z & U64(0xff)) << U64(1))
    last = n - 64
    w0 = w[0] + U64((n - 1) & 63)
    v0 = v[0] + w0
    w0 = w0 + v0
    v, w = (v0, v[1]), (w0, w[1])
    x = _rotate(x + y + v[0] + _fetch64(s, last + 8), 37) * mul
    y = _rotate(y + v[1] + _fetch64(s, last + 48), 42) * mul
    x = x ^ (w[1] * U64(9))
    y = y + v[0] * U64(9) + _fetch64(s, last + 40)
    z = _rotate(z + w[0], 33) * mul
    v = _weak32(s, last, v[1] * mul, x + w[0])
    w = _weak32(s, last + 32, z + w[1], y + _fetch64(s, last + 16))
    x, z = z, x
    return _hash_len16(_hash_len16(v[0], w[0], mul) + _shift_mix(y) * K0 + z,
                       _hash_len16(v[1], w[1], mul) + x, mul)


def fingerprint64(keys: np.ndarray) -> np.ndarray:
    """farmhash Fingerprint64 of each row of a [K, L] uint8 array, as uint64."""
    n = keys.shape[1]
    with np.errstate(over="ignore"):
        if n <= 16:
            return _len0to16(keys, n)
        if n <= 32:
            return _len17to32(keys, n)
        if n <= 64:
            return _len33to64(keys, n)
        return _len_over64(keys, n)


# -- LSH_PROJECTION ----------------------------------------------------------------------------

SPARSE, DENSE = 1, 2


def lsh_projection_shape(op):
    hash_shape, data = tuple(op.inputs[0].shape), tuple(op.inputs[1].shape)
    if len(hash_shape) != 2 or hash_shape[1] > 32 or not data:
        raise ValueError("LSH_PROJECTION needs a [hashes, bits <= 32] hash and an input of "
                         "rank >= 1, got %s and %s" % (list(hash_shape), list(data)))
    weight = op.inputs[2] if len(op.inputs) > 2 else None
    if weight is not None and tuple(weight.shape) != data[:1]:
        raise ValueError("LSH_PROJECTION weight must be [%d]" % data[0])
    kind = getattr(op.options, "type", 0)
    if kind == SPARSE:
        return [hash_shape[:1]]
    if kind == DENSE:
        return [(hash_shape[0] * hash_shape[1],)]
    raise ValueError("LSH_PROJECTION type %s is neither SPARSE nor DENSE" % kind)


@register("LSH_PROJECTION", (np.float32,), shape=lsh_projection_shape)
def lsh_projection(op):
    seeds = op.inputs[0].data
    data = np.ascontiguousarray(op.inputs[1].data)
    weight = op.inputs[2] if len(op.inputs) > 2 else None
    rows = data.reshape(data.shape[0], -1).view(np.uint8).reshape(data.shape[0], -1)
    seed_bytes = np.ascontiguousarray(seeds.astype(np.float32)).reshape(-1, 1).view(np.uint8)
    keys = np.concatenate([np.repeat(seed_bytes, len(rows), axis=0),
                           np.tile(rows, (seed_bytes.shape[0], 1))], axis=1)
    values = fingerprint64(keys).view(np.int64).astype(np.float64).reshape(-1, len(rows))
    if weight is not None:
        values = values * weight.data.astype(np.float64)
    bits = (values.sum(axis=1) > 0).astype(np.int64).reshape(seeds.shape)
    if op.options.type == DENSE:
        return bits.reshape(-1).astype(np.int32)
    packed = (bits << np.arange(seeds.shape[1] - 1, -1, -1)).sum(axis=1)
    return (packed + np.arange(seeds.shape[0]) * (1 << seeds.shape[1])).astype(np.int32)
