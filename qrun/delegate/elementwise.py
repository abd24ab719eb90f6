"""Elementwise ops: unary ops (and DEQUANTIZE) as exact 256-entry tables, ADD/SUB/MUL with
broadcasting in fp32, MAXIMUM/MINIMUM/PRELU with broadcasting as exact 256 x 256 tables."""
from __future__ import annotations

import dataclasses
from typing import List, Optional, Tuple

import numpy as np

from ..interpreter.quant import activation_range_quantized, dtype_range
from ..interpreter.registry import find_kernel
from ..interpreter.schema import Activation
from . import rules
from .plan import PlanError, activation_domain
from .table import delegate_op

# Unary ops whose int8/uint8 output depends on the input value only: a table of the numpy
# reference kernel over all 256 inputs is exact.
LUT_OPS = ("LOGISTIC", "TANH", "HARD_SWISH", "LEAKY_RELU", "ELU", "RELU", "RELU6",
           "RELU_N1_TO_1", "RELU_0_TO_1")


def lut_rule(op) -> Optional[str]:
    if len(op.inputs) != 1 or len(op.outputs) != 1 or op.inputs[0] is None:
        return "expects one input and one output"
    x, y = op.inputs[0], op.outputs[0]
    if x.dtype not in rules.QUANTIZED or y.dtype not in rules.QUANTIZED:
        return "not int8/uint8"
    if x.is_constant:
        return "constant input"
    if tuple(x.shape) != tuple(y.shape):
        return "output shape differs from the input's"
    if find_kernel(op) is None:
        return "no reference kernel to tabulate"
    return None


def _probe(probe):
    """The reference kernel on a probe; its errors on hostile parameters (a zero scale) keep
    the op on numpy, which reports them at invoke."""
    try:
        return find_kernel(probe).fn(probe)
    except (ValueError, ArithmeticError, LookupError, TypeError, AttributeError) as exc:
        raise PlanError("%s: the reference kernel failed on a probe: %s: %s"
                        % (probe.opname, type(exc).__name__, exc)) from None


def lut_table(op) -> np.ndarray:
    """The numpy reference kernel applied to every byte value: table[byte] = output byte."""
    x, y = op.inputs[0], op.outputs[0]
    values = np.arange(256, dtype=np.uint8).view(x.dtype)
    probe = dataclasses.replace(
        op, inputs=[dataclasses.replace(x, shape=(256,), data=values, constant=None)],
        outputs=[dataclasses.replace(y, shape=(256,), data=np.zeros(256, y.dtype))])
    out = _probe(probe)
    out = np.asarray(out[0] if isinstance(out, (list, tuple)) else out)
    if out.dtype != y.dtype or out.size != 256:
        raise PlanError("%s: the reference kernel gave %s[%d] for a 256-entry table"
                        % (op.opname, out.dtype, out.size))
    return np.ascontiguousarray(out.reshape(256)).view(np.uint8)


def build_lut(op, ctx):
    x, y = op.inputs[0], op.outputs[0]
    p = ctx.new("qrun_lut_params *")
    p.n = x.nbytes
    p.out_size = y.dtype.itemsize
    p.in_off, p.out_off = ctx.offset(x), ctx.offset(y, x.nbytes * y.dtype.itemsize)
    p.table = ctx.buffer(lut_table(op), "uint8_t")
    return "LUT", p


def dequantize_rule(op) -> Optional[str]:
    if len(op.inputs) != 1 or len(op.outputs) != 1 or op.inputs[0] is None:
        return "expects one input and one output"
    x, y = op.inputs[0], op.outputs[0]
    if y.dtype != np.float32 or tuple(x.shape) != tuple(y.shape):
        return "output is not float32 of the input's shape"
    reason = rules.per_tensor_activation(x, x.dtype) if x.dtype in rules.QUANTIZED else \
        "not int8/uint8"
    if reason is None and find_kernel(op) is None:
        return "no reference kernel to tabulate"
    return reason


delegate_op("DEQUANTIZE", dequantize_rule, "int8, uint8 per tensor to float32: exact "
            "256-entry table of the reference kernel")(build_lut)


def quantize_rule(op) -> Optional[str]:
    """int8/uint8 -> int8/uint8 as a table; float32 -> int8/uint8 per tensor."""
    x = op.inputs[0] if op.inputs else None
    if x is None or x.dtype != np.float32:
        return lut_rule(op)
    y = op.outputs[0]
    if len(op.inputs) != 1 or len(op.outputs) != 1 or x.is_constant:
        return "expects one non-constant input and one output"
    if tuple(x.shape) != tuple(y.shape):
        return "output shape differs from the input's"
    return rules.per_tensor_activation(y, y.dtype) if y.dtype in rules.QUANTIZED else \
        "output is not int8/uint8"


@delegate_op("QUANTIZE", quantize_rule, "int8, uint8 to int8, uint8 (exact table); float32 to "
             "int8, uint8 per tensor (exact)")
def build_quantize(op, ctx):
    x, y = op.inputs[0], op.outputs[0]
    if x.dtype != np.float32:
        return build_lut(op, ctx)
    p = ctx.new("qrun_quantize_params *")
    p.n = int(np.prod(x.shape, dtype=np.int64))
    p.in_off, p.out_off = ctx.offset(x), ctx.offset(y)
    p.scale, p.zero_point = float(np.float32(y.scale)), y.zero_point
    p.qmin, p.qmax = dtype_range(y.dtype)
    return "QUANTIZE", p


for _name in LUT_OPS:
    delegate_op(_name, lut_rule, "int8, uint8 (in and out) where a reference kernel exists: "
                "exact 256-entry table of it")(
        build_lut)


def binary_rule(op) -> Optional[str]:
    if len(op.inputs) != 2 or len(op.outputs) != 1 or None in op.inputs:
        return "expects two inputs and one output"
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    if y.dtype not in rules.QUANTIZED:
        return "not int8/uint8"
    for t in (a, b, y):
        if t.dtype != y.dtype:
            return "mixed types"
        q = t.quantization
        if len(q.scales) != 1 or not np.isfinite(q.scale) or q.scale <= 0:
            return "tensor %d is not quantized per tensor" % t.index
    if a.is_constant and b.is_constant:
        return "both inputs constant"
    if max(abs(s) for s in _binary_scales(op)) >= MAX_BINARY_SCALE:
        # TFLite's fixed-point multiplier overflows there; the numpy kernels reproduce it.
        return "requantization scale out of the fixed-point range"
    if len(y.shape) > 6 or _broadcast(a.shape, b.shape, y.shape) is None:
        return "broadcast of %s and %s to %s" % (list(a.shape), list(b.shape), list(y.shape))
    return rules.clamp_activation(op)


MAX_BINARY_SCALE = float(1 << 16)
BINARY_ROW = 4096   # at most this many elements per row (tile) of a long inner axis


def _binary_scales(op) -> Tuple[float, float]:
    """(a_scale, b_scale) of the fp32 requantization: MUL s_a s_b / s_y and 0; ADD s_a / s_y
    and s_b / s_y (negated for SUB)."""
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    s_a, s_b, s_y = np.float32(a.scale), np.float32(b.scale), np.float32(y.scale)
    if op.opname == "MUL":
        return float(s_a * s_b / s_y), 0.0
    return float(s_a / s_y), float((-s_b if op.opname == "SUB" else s_b) / s_y)


def _strides(shape: Tuple[int, ...], out: Tuple[int, ...]) -> List[int]:
    """Element strides of `shape` broadcast to `out` (0 along broadcast axes)."""
    shape = (1,) * (len(out) - len(shape)) + tuple(shape)
    strides, step = [], 1
    for d, o in zip(reversed(shape), reversed(out)):
        strides.append(step if d == o else 0)
        step *= d
    return strides[::-1]


def _broadcast(a_shape, b_shape, out_shape):
    """(outer shape[4], inner, a strides[5], b strides[5]) with contiguous axes merged, or
    None when the shapes do not broadcast to out_shape or need more than 5 axes."""
    out = tuple(int(d) for d in out_shape) or (1,)
    try:
        if tuple(np.broadcast_shapes(tuple(a_shape), tuple(b_shape))) != tuple(out_shape):
            return None
    except ValueError:
        return None
    dims = [[d, sa, sb] for d, sa, sb in zip(out, _strides(a_shape, out), _strides(b_shape, out))
            if d != 1]
    merged: List[List[int]] = []
    for d, sa, sb in dims:
        if merged and merged[-1][1] == sa * d and merged[-1][2] == sb * d:
            merged[-1] = [merged[-1][0] * d, sa, sb]
        else:
            merged.append([d, sa, sb])
    if len(merged) > 5:
        return None
    if 0 < len(merged) < 5 and merged[-1][0] > BINARY_ROW:
        # Rows are the thread pool's tiles: a long inner axis becomes rows of a few thousand.
        d, sa, sb = merged[-1]
        row = next((c for c in range(BINARY_ROW, BINARY_ROW // 4, -1) if d % c == 0), d)
        merged[-1:] = [[d // row, sa * row, sb * row], [row, sa, sb]]
    merged = [[1, 0, 0]] * (5 - len(merged)) + merged
    shape = [m[0] for m in merged]
    return shape[:4], shape[4], [m[1] for m in merged], [m[2] for m in merged]


def _set_operands(ctx, p, a, b, outer, inner) -> None:
    """Arena offsets (or plan-owned bytes for constants) of both operands, their broadcast
    strides checked to stay inside them."""
    for t, strides, off, const in ((a, p.a_stride, "a_off", "a_const"),
                                   (b, p.b_stride, "b_off", "b_const")):
        reach = sum((d - 1) * s for d, s in zip(list(outer) + [inner], strides))
        if t.nbytes and reach >= t.nbytes:
            raise PlanError("broadcast strides reach past tensor %d" % t.index)
        if t.is_constant:
            setattr(p, const, ctx.buffer(np.ascontiguousarray(t.constant).view(np.uint8),
                                         "uint8_t"))
        else:
            setattr(p, off, ctx.offset(t))


def build_binary(op, ctx):
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    outer, inner, sa, sb = _broadcast(a.shape, b.shape, y.shape)
    flip, shift = activation_domain(y.dtype)
    p = ctx.new("qrun_binary_params *")
    p.kind = 1 if op.opname == "MUL" else 0
    p.flip = flip
    p.a_zero, p.b_zero = a.zero_point - shift, b.zero_point - shift
    p.a_scale, p.b_scale = _binary_scales(op)
    p.shape, p.inner = outer, inner
    p.a_stride, p.b_stride = sa, sb
    _set_operands(ctx, p, a, b, outer, inner)
    p.out_off = ctx.offset(y)
    act = getattr(op.options, "fused_activation_function", Activation.NONE)
    lo, hi = activation_range_quantized(act, y.scale, y.zero_point, y.dtype)
    p.rq.min_less_zp, p.rq.max_less_zp = float(lo - y.zero_point), float(hi - y.zero_point)
    p.rq.zero_point = y.zero_point
    return "BINARY", p


for _name in ("ADD", "SUB", "MUL"):
    delegate_op(_name, binary_rule, "int8, uint8 per-tensor; numpy broadcasting up to 5 merged "
                "axes; constant operands; fused NONE/RELU/RELU6/RELU_N1_TO_1")(build_binary)


def table_binary_rule(op) -> Optional[str]:
    """Two int8/uint8 operands whose output byte depends on the two input bytes only."""
    if len(op.inputs) != 2 or len(op.outputs) != 1 or None in op.inputs:
        return "expects two inputs and one output"
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    if any(t.dtype not in rules.QUANTIZED for t in (a, b, y)):
        return "not int8/uint8"
    if a.is_constant and b.is_constant:
        return "both inputs constant"
    if len(y.shape) > 6 or _broadcast(a.shape, b.shape, y.shape) is None:
        return "broadcast of %s and %s to %s" % (list(a.shape), list(b.shape), list(y.shape))
    if find_kernel(op) is None:
        return "no reference kernel to tabulate"
    return None


def pair_table(op) -> np.ndarray:
    """The reference kernel on every pair of bytes: table[a * 256 + b] = output byte."""
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    byte = np.arange(256, dtype=np.uint8)
    pairs = (np.repeat(byte, 256).view(a.dtype), np.tile(byte, 256).view(b.dtype))
    probe = dataclasses.replace(
        op, inputs=[dataclasses.replace(t, shape=(65536,), data=v, constant=None)
                    for t, v in zip((a, b), pairs)],
        outputs=[dataclasses.replace(y, shape=(65536,), data=np.zeros(65536, y.dtype))])
    out = np.asarray(_probe(probe))
    if out.dtype != y.dtype or out.size != 65536:
        raise PlanError("%s: the reference kernel gave %s[%d] for a 65536-entry table"
                        % (op.opname, out.dtype, out.size))
    return np.ascontiguousarray(out.reshape(65536)).view(np.uint8)


def build_table_binary(op, ctx):
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    outer, inner, sa, sb = _broadcast(a.shape, b.shape, y.shape)
    p = ctx.new("qrun_binary_params *")
    p.kind = 2
    p.shape, p.inner = outer, inner
    p.a_stride, p.b_stride = sa, sb
    _set_operands(ctx, p, a, b, outer, inner)
    p.out_off = ctx.offset(y)
    p.table = ctx.buffer(pair_table(op), "uint8_t")
    return "BINARY", p


for _name in ("MAXIMUM", "MINIMUM", "PRELU"):
    delegate_op(_name, table_binary_rule, "int8, uint8 with numpy broadcasting: exact 256 x 256 "
                "table of the reference kernel")(build_table_binary)
