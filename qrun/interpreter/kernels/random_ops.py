"""RANDOM_UNIFORM, RANDOM_STANDARD_NORMAL and MULTINOMIAL: TFLite's random_ops.cc on the
Philox4x32-10 generator (tsl::random::PhiloxRandom), so seeded models draw the same numbers.

Each op keeps a generator seeded from its options (seed, seed2) when the graph is prepared,
as TFLite's Prepare does, and advances it on every invoke. Both seeds 0 ask for
non-deterministic numbers: the seeds are then drawn from the OS.
"""
from __future__ import annotations

import os

import numpy as np

from ..registry import register
from .shape_ops import known

U32, U64 = np.uint32, np.uint64
_W32A, _W32B = 0x9E3779B9, 0xBB67AE85
_M4x32A, _M4x32B = U64(0xD2511F53), U64(0xCD9E8D57)
_MASK32 = U64(0xFFFFFFFF)


class Philox:
    """PhiloxRandom: a 128-bit counter and a 64-bit key; each call gives 4 uint32."""

    def __init__(self, seed: int, seed2: int):
        self.key = (seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF)
        self.counter = (seed2 & 0xFFFFFFFFFFFFFFFF) << 64

    def skip(self, count: int) -> None:
        self.counter = (self.counter + count) % (1 << 128)

    def draw(self, calls: int) -> np.ndarray:
        """The next `calls` results, [calls, 4] uint32 (vectorized over the counters)."""
        base_lo = U64(self.counter & 0xFFFFFFFFFFFFFFFF)
        lo = base_lo + np.arange(calls, dtype=U64)
        hi = np.full(calls, U64(self.counter >> 64), U64) + (lo < base_lo)  # the carry
        words = philox4x32([lo & _MASK32, lo >> U64(32), hi & _MASK32, hi >> U64(32)],
                           *self.key)
        self.skip(calls)
        return np.stack(words, axis=1)


def philox4x32(counter: list, k0: int, k1: int) -> list:
    """The 10 Philox rounds on 4 counter words (arrays of values below 2^32, one counter per
    element) under the key (k0, k1): 4 uint32 arrays."""
    words = [np.asarray(w).astype(U64) for w in counter]
    for _ in range(10):
        p0 = _M4x32A * words[0]
        p1 = _M4x32B * words[2]
        words = [(p1 >> U64(32)) ^ words[1] ^ U64(k0), p1 & _MASK32,
                 (p0 >> U64(32)) ^ words[3] ^ U64(k1), p0 & _MASK32]
        k0, k1 = (k0 + _W32A) & 0xFFFFFFFF, (k1 + _W32B) & 0xFFFFFFFF
    return [w.astype(U32) for w in words]


def _uint32_to_float(x: np.ndarray) -> np.ndarray:
    """A float in [0, 1) from the 23 low bits, as tsl::random::Uint32ToFloat."""
    return ((x & U32(0x7FFFFF)) | U32(127 << 23)).view(np.float32) - np.float32(1)


def _uint64_to_double(x0: np.ndarray, x1: np.ndarray) -> np.ndarray:
    bits = ((x0 & U32(0xFFFFF)).astype(U64) << U64(32)) | x1.astype(U64) | U64(1023 << 52)
    return bits.view(np.float64) - 1.0


def _int32(value: int) -> int:
    return (value + (1 << 31)) % (1 << 32) - (1 << 31)


def _generator(op) -> Philox:
    # TfLiteRandomParams keeps the int64 seeds of the options in ints (wrapped to 32 bits).
    seed = _int32(int(getattr(op.options, "seed", 0)))
    seed2 = _int32(int(getattr(op.options, "seed2", 0)))
    if seed == 0 and seed2 == 0:
        seed, seed2 = (int.from_bytes(os.urandom(8), "little") for _ in range(2))
    return Philox(seed, seed2)


def _reset(op) -> None:
    # Per-op generator state, created (again) whenever the graph is prepared.
    op.philox = _generator(op)


def random_shape(op):
    _reset(op)
    if len(op.inputs[0].shape) != 1 or op.inputs[0].dtype != np.int32:
        raise ValueError("%s needs a 1-D int32 shape" % op.opname)
    value = known(op, 0)
    return None if value is None else [tuple(int(d) for d in value[0])]


def _draws(op, count: int) -> np.ndarray:
    """`count` uint32 from the generator, 4 per call as the kernel consumes them."""
    if not hasattr(op, "philox"):
        _reset(op)
    return op.philox.draw(-(-count // 4)).reshape(-1)


@register("RANDOM_UNIFORM", (np.int32,), shape=random_shape)
def random_uniform(op):
    shape = tuple(int(d) for d in op.inputs[0].data)
    count = int(np.prod(shape, dtype=np.int64))
    return _uint32_to_float(_draws(op, count)[:count]).reshape(shape)


@register("RANDOM_STANDARD_NORMAL", (np.int32,), shape=random_shape)
def random_standard_normal(op):
    shape = tuple(int(d) for d in op.inputs[0].data)
    count = int(np.prod(shape, dtype=np.int64))
    x = _draws(op, count)
    # BoxMullerFloat on pairs, in float32.
    u1 = np.maximum(_uint32_to_float(x[0::2]), np.float32(1e-7))
    v1 = np.float32(2 * np.pi) * _uint32_to_float(x[1::2])
    u2 = np.sqrt(np.float32(-2) * np.log(u1))
    pairs = np.stack([np.sin(v1) * u2, np.cos(v1) * u2], axis=1).astype(np.float32)
    return pairs.reshape(-1)[:count].reshape(shape)


def multinomial_shape(op):
    _reset(op)
    if len(op.inputs[0].shape) != 2 or op.inputs[0].shape[1] <= 0:
        raise ValueError("MULTINOMIAL needs logits [batch, classes > 0]")
    value = known(op, 1)
    if value is None:
        return None
    return [(op.inputs[0].shape[0], int(np.asarray(value[0]).reshape(-1)[0]))]


@register("MULTINOMIAL", (np.float32,), shape=multinomial_shape)
def multinomial(op):
    logits = op.inputs[0].data
    samples = int(np.asarray(op.inputs[1].data).reshape(-1)[0])
    if samples < 0:
        raise ValueError("MULTINOMIAL num_samples %d < 0" % samples)
    if not hasattr(op, "philox"):
        _reset(op)
    batch = logits.shape[0]
    # The samples come from a copy of the generator; the generator itself skips a fixed
    # amount per invoke.
    draw = Philox(0, 0)
    draw.key, draw.counter = op.philox.key, op.philox.counter
    op.philox.skip(batch * ((samples + 3) // 4 * 4) * 2 * 256)
    x = draw.draw(-(-batch * samples * 2 // 4)).reshape(-1)[:batch * samples * 2]
    u = _uint64_to_double(x[0::2], x[1::2]).reshape(batch, samples)
    finite = np.isfinite(logits)
    top = np.max(np.where(finite, logits, np.finfo(np.float32).min), axis=1, keepdims=True)
    weights = np.where(finite, np.exp(logits.astype(np.float64) - top.astype(np.float64)), 0.0)
    cdf = np.cumsum(weights, axis=1)
    found = [np.searchsorted(cdf[b], u[b] * cdf[b, -1], side="right") for b in range(batch)]
    return np.asarray(found, np.int64).reshape(batch, samples).astype(op.outputs[0].dtype)
