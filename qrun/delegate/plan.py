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

    def requant(self, rq, scales: np.ndarray, out_tensor, activation: int,
                reference_nudge: bool = False) -> None:
        """Fills a qrun_requant: fp32 scales (plan-owned), clamp bounds and zero point, and
        with `reference_nudge` (ops whose reference is MultiplyByQuantizedMultiplier) the nudge
        that reproduces its double rounding where it has one: every scale below 1/2 (a
        right shift of at least 1)."""
        scales = np.asarray(scales, np.float32)
        if not np.all(np.isfinite(scales)) or np.any(scales < 0):
            raise PlanError("requantization scales must be finite and not negative")
        zp = out_tensor.zero_point
        lo, hi = activation_range_quantized(activation, out_tensor.scale, zp, out_tensor.dtype)
        rq.scale = self.buffer(scales, "float")
        rq.min_less_zp = float(lo - zp)
        rq.max_less_zp = float(hi - zp)
        rq.zero_point = zp
        rq.nudge_mask = 0x7F800000 if reference_nudge and np.all(scales < 0.5) else 0


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
