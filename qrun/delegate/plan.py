"""The plan of one partition: C structs, the buffers they point to, checked arena addresses."""
from __future__ import annotations

from typing import Callable, Dict, List, Optional

import numpy as np

from ..interpreter.quant import activation_range_quantized, dtype_range


class PlanError(ValueError):
    """A plan builder found sizes or parameters that the C kernels must not see."""


class PlanContext:
    """What a plan builder needs: the backend (tile sizes, ffi), checked arena offsets, and
    ownership of every buffer the C structs point to (alive as long as the plan)."""

    def __init__(self, backend, graph, shared: Optional[Dict[tuple, object]] = None):
        self.backend = backend
        self.ffi = backend.ffi
        self.graph = graph
        self.arena_bytes = int(graph.arena_bytes)
        self._owned: List[object] = []
        self._shared = {} if shared is None else shared
        self._weights = graph.delegate_weights
        # convolution op index -> fusion.FoldedPad, while the convolution is built
        self.folded_pads: Dict[int, object] = {}
        # tensor index -> fusion.ConcatSlice, while its producer is built
        self.concat_slices: Dict[int, object] = {}

    def keep(self, obj):
        self._owned.append(obj)
        return obj

    def new(self, ctype: str, init=None):
        return self.keep(self.ffi.new(ctype, init))

    def buffer(self, array: np.ndarray, item: str):
        """A C `item *` to `array` (made contiguous), kept alive with the plan; the caller
        must not modify it afterwards."""
        return self.keep(self.ffi.from_buffer(item + "[]", np.ascontiguousarray(array)))

    def shared_buffer(self, key: tuple, make: Callable[[], np.ndarray], item: str):
        """Like buffer(make()), but one buffer for every op of the graph with the same `key`
        (e.g. the indirection buffer of one convolution geometry)."""
        buf = self._shared.get(key)
        if buf is None:
            buf = self._shared[key] = self.ffi.from_buffer(item + "[]",
                                                           np.ascontiguousarray(make()))
        return self.keep(buf)

    def weights(self, op, name: str, make: Callable[[], np.ndarray], item: str):
        """Like buffer(make()), for what depends only on `op`'s constants and quantization
        (packed weights with the folded bias): made once per op and ISA and kept by the graph,
        so that the plans rebuilt after resize_tensor_input reuse it."""
        key = (op.index, name, self.backend.isa)
        buf = self._weights.get(key)
        if buf is None:
            buf = self._weights[key] = self.ffi.from_buffer(item + "[]",
                                                            np.ascontiguousarray(make()))
        return self.keep(buf)

    def offset(self, tensor, nbytes: int = -1) -> int:
        """The arena offset of a non-constant tensor, checked to hold `nbytes` (default: the
        tensor's own size) within the arena."""
        off = self.graph.arena_offsets.get(tensor.index)
        if off is None:
            raise PlanError("tensor %d (%s) is not in the arena" % (tensor.index, tensor.name))
        size = tensor.nbytes if nbytes < 0 else nbytes
        if size > tensor.nbytes or off < 0 or off + size > self.arena_bytes:
            raise PlanError("tensor %d: %d bytes at offset %d exceed its %d bytes or the %d-byte "
                            "arena" % (tensor.index, size, off, tensor.nbytes, self.arena_bytes))
        return int(off)

    def output_rows(self, tensor, row_bytes: int) -> tuple:
        """(offset, stride) of a tensor written as rows of row_bytes: its own bytes, or rows
        of its slice of a concatenation's output (ctx.concat_slices), checked in that
        output."""
        rows = tensor.nbytes // row_bytes if row_bytes > 0 else 0
        cs = self.concat_slices.get(tensor.index)
        if cs is None:
            return self.offset(tensor), row_bytes
        if row_bytes != cs.row or rows * row_bytes != tensor.nbytes or \
                cs.start + row_bytes > cs.out_row:
            raise PlanError("tensor %d: rows of %d bytes do not fit its concatenation slice"
                            % (tensor.index, row_bytes))
        y_off = self.offset(cs.y)
        if rows and (rows - 1) * cs.out_row + cs.start + row_bytes > cs.y.nbytes:
            raise PlanError("tensor %d: its slice leaves the concatenation" % tensor.index)
        return y_off + cs.start, cs.out_row

    def requant(self, rq, multipliers: np.ndarray, shifts: np.ndarray, out_tensor,
                activation: int, single_rounding: bool = False) -> None:
        """Fills a qrun_requant from the reference's per-channel multipliers and shifts
        (plan-owned arrays, and the fp32 scales fixed_point_scales() derives from them), clamp
        bounds and zero point. Double rounding (MultiplyByQuantizedMultiplier) needs left
        shifts below 32; single rounding (FULLY_CONNECTED's) shifts of at most 30."""
        multipliers = np.asarray(multipliers, np.int64)
        shifts = np.asarray(shifts, np.int64)
        live = multipliers != 0
        if np.any(live & ((multipliers < 1 << 30) | (multipliers >= 1 << 31))) or np.any(
                shifts < -31) or np.any(live & (shifts > (30 if single_rounding else 31))):
            raise PlanError("requantization multiplier or shift out of range")
        zp = out_tensor.zero_point
        lo, hi = activation_range_quantized(activation, out_tensor.scale, zp, out_tensor.dtype)
        if max(abs(lo - zp), abs(hi - zp)) > 255:
            raise PlanError("clamp bounds %d..%d too far from the zero point %d" % (lo, hi, zp))
        rq.scale = self.buffer(fixed_point_scales(multipliers, shifts), "float")
        rq.multiplier = self.buffer(multipliers.astype(np.int32), "int32_t")
        rq.shift = self.buffer(shifts.astype(np.int32), "int32_t")
        rq.min_less_zp = float(lo - zp)
        rq.max_less_zp = float(hi - zp)
        rq.zero_point = zp
        rq.single_rounding = int(single_rounding)
        # The reference, as a real number of output units: v = acc M 2^(shift - 31) exactly;
        # single rounding gives floor(v + 1/2). Double rounding with a right shift R >= 1
        # rounds acc M / 2^31 half up to an integer h, then h / 2^R half away from zero,
        # which comes to floor(T + 1/2) for T = v + 2^-(R+1) (h >= 0) or v - 2^-(R+1)
        # (h < 0): the nudge (2^(shift - 1), the scale's power of two with v's sign). Without
        # a right shift it is floor(v + 1/2), no nudge: a channel without one among channels
        # with one, or a left shift (acc << L wraps in int32), recompute every lane.
        # The fp32 path's value V against T (u = 2^-24): the int32 -> fp32 conversion and the
        # product round by u each, the scale rounded toward zero is within 2u of M 2^(shift -
        # 31), the nudge's addition rounds by u of |T| (an FMA: one rounding for the last
        # two): |V - T| <= u (5.0001 |v| + 1/4). A
        # lane whose clamped V lies in the clamp range, at most 255 from 0 (|v| <= 256),
        # is within 1281 u < 2^-13 of T, so where V is at least 2^-13 from every
        # half-integer, T rounds to the same integer as V (and where V was clamped, T is
        # beyond the same bound or rounds to it); closer lanes are recomputed exactly.
        every_lane = not single_rounding and bool(np.any(live & (shifts >= 0)))
        rq.near_half = -1.0 if every_lane else 0.5 - 2.0 ** -13
        rq.nudge_mask = 0 if single_rounding or every_lane else 0x7F800000


def fixed_point_scales(multipliers: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """M 2^(shift - 31) in fp32, rounded toward zero (M's top 24 bits): below 2^shift, so its
    exponent bits give the nudge 2^(shift - 1); 0 where M is 0."""
    m = np.asarray(multipliers, np.int64)
    return np.ldexp((m >> 7).astype(np.float64), np.asarray(shifts, np.int64) - 24).astype(
        np.float32)


def wrap_int32(values: np.ndarray) -> np.ndarray:
    """int64 -> int32 modulo 2^32. Accumulators wrap (kernels are built with -fwrapv), so a
    folded bias that leaves the int32 range still gives TFLite's wrapped int32 sum."""
    return np.asarray(values, np.int64).astype(np.uint32).view(np.int32)


def activation_domain(dtype) -> tuple:
    """(xor flip, shift) that map a tensor's bytes to int8: uint8 x -> x - 128."""
    return (0x80, 128) if np.dtype(dtype) == np.uint8 else (0, 0)


def zero_row(nbytes: int, zero_point: int, dtype) -> np.ndarray:
    """Bytes of the input zero point: what padding taps read."""
    lo, hi = dtype_range(dtype)
    if not lo <= zero_point <= hi:
        raise PlanError("zero point %d out of range for %s" % (zero_point, np.dtype(dtype).name))
    return np.full(max(nbytes, 1), zero_point, dtype).view(np.uint8)
