"""Elementwise ops: unary ops (and DEQUANTIZE) as exact 256-entry tables, ADD/SUB/MUL with
broadcasting in the reference's fixed point (exact tables when one operand is a constant of few
values),
MAXIMUM/MINIMUM/PRELU with broadcasting as exact 256 x 256 tables, float32 ADD/SUB/MUL/DIV
with broadcasting."""
from __future__ import annotations

import dataclasses
import math
from typing import List, Optional, Tuple

import numpy as np

from ..interpreter.kernels.elementwise import (add_sub_left_shift, add_sub_output_multiplier,
                                               common_scale_multipliers, product_multiplier,
                                               product_real_multiplier)
from ..interpreter.quant import activation_range_float, activation_range_quantized, dtype_range
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


def _operands_rule(op) -> Optional[str]:
    """Two operands (not both constant) that broadcast to the output."""
    if len(op.inputs) != 2 or len(op.outputs) != 1 or None in op.inputs:
        return "expects two inputs and one output"
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    if a.is_constant and b.is_constant:
        return "both inputs constant"
    if len(y.shape) > 6 or _merged_axes(a.shape, b.shape, y.shape) is None:
        return "broadcast of %s and %s to %s" % (list(a.shape), list(b.shape), list(y.shape))
    return None


def binary_rule(op) -> Optional[str]:
    reason = _operands_rule(op)
    if reason is not None:
        return reason
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    if y.dtype == np.float32:
        if a.dtype != y.dtype or b.dtype != y.dtype:
            return "mixed types"
        return rules.clamp_activation(op)
    if op.opname == "DIV":
        return "quantized DIV"
    if y.dtype not in rules.QUANTIZED:
        return "not int8/uint8/float32"
    for t in (a, b, y):
        if t.dtype != y.dtype:
            return "mixed types"
        q = t.quantization
        if len(q.scales) != 1 or not np.isfinite(q.scale) or q.scale <= 0:
            return "tensor %d is not quantized per tensor" % t.index
    if max(abs(s) for s in _binary_scales(op)) >= MAX_BINARY_SCALE:
        # TFLite's fixed-point multiplier overflows there; the numpy kernels reproduce it.
        return "requantization scale out of the fixed-point range"
    return rules.clamp_activation(op)


MAX_BINARY_SCALE = float(1 << 16)
BINARY_ROW = 4096   # at most this many elements per row (tile) of a long inner axis
# Rows shorter than this are lengthened by expanding a constant operand over the axes that
# make them (e.g. a per-channel constant over H x W x 3), up to MAX_TILED_BYTES of plan memory.
MIN_ROW = 64
MAX_TILED_BYTES = 4 << 20


def _binary_scales(op) -> Tuple[float, float]:
    """The real multipliers from the inputs to the output: MUL s_a s_b / s_y and 0; ADD s_a / s_y
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


def _merge(axes: List[List[int]]) -> List[List[int]]:
    """[size, a stride, b stride] axes (outermost first) without size-1 axes, each merged
    into the one before it where both operands continue contiguously."""
    merged: List[List[int]] = []
    for d, sa, sb in axes:
        if d == 1:
            continue
        if merged and merged[-1][1] == sa * d and merged[-1][2] == sb * d:
            merged[-1] = [merged[-1][0] * d, sa, sb]
        else:
            merged.append([d, sa, sb])
    return merged


def _merged_axes(a_shape, b_shape, out_shape) -> Optional[List[List[int]]]:
    """The output's merged axes, or None when the shapes do not broadcast to out_shape or
    need more than 5 axes."""
    out = tuple(int(d) for d in out_shape) or (1,)
    try:
        if tuple(np.broadcast_shapes(tuple(a_shape), tuple(b_shape))) != tuple(out_shape):
            return None
    except ValueError:
        return None
    merged = _merge([list(x) for x in zip(out, _strides(a_shape, out), _strides(b_shape, out))])
    return merged if len(merged) <= 5 else None


def _tile_constant(axes: List[List[int]], op) -> Optional[Tuple[List[List[int]], int, tuple]]:
    """Short rows made long: (axes, operand 0/1, (key, its values expanded)) when one operand is a
    constant that the other, a dense operand, meets along inner axes where the constant is
    broadcast. The constant is expanded over the innermost axes that make a row of at least
    MIN_ROW elements (the outermost of them split by a divisor when that keeps it smaller), so
    both operands are dense there and the axes merge into one row. None when that is not the
    case or the expansion needs more than MAX_TILED_BYTES. Equal keys: equal values (the
    constant array and the expansion), so ops sharing a constant share one expansion."""
    if not axes or axes[-1][0] >= MIN_ROW or any(size == 0 for size, _, _ in axes):
        return None
    const = next((i for i, t in enumerate(op.inputs) if t.is_constant), None)
    if const is None:
        return None
    k, row = len(axes) - 1, axes[-1][0]
    while k > 0 and row < MIN_ROW:
        k -= 1
        row *= axes[k][0]
    d = axes[k][0]
    need = -(-MIN_ROW * d // row)   # the part of axis k the row needs
    split = next((r for r in range(need, min(d, BINARY_ROW)) if d % r == 0), d)
    if split < d:
        _, sa, sb = axes[k]
        axes = axes[:k] + [[d // split, sa * split, sb * split], [split, sa, sb]] + axes[k + 1:]
        k += 1
    other = 1 - const
    step = 1
    for size, *strides in reversed(axes[k:]):   # the other operand must be dense there
        if strides[other] != step:
            return None
        step *= size
    # The constant over [its own extent of the outer axes] + [every inner axis].
    t = op.inputs[const]
    flat = np.ascontiguousarray(t.constant).reshape(-1)
    shape = [size if s[const] else 1 for size, *s in axes[:k]] + [size for size, *_ in axes[k:]]
    strides = [s[const] * flat.itemsize for _, *s in axes[:k]] + \
              [s[const] * flat.itemsize for _, *s in axes[k:]]
    if int(np.prod(shape, dtype=np.int64)) * flat.itemsize > MAX_TILED_BYTES:
        return None
    tiled = np.ascontiguousarray(np.lib.stride_tricks.as_strided(flat, shape, strides))
    # The constant array lives as long as the graph: its id names its values.
    key = ("binary tiled constant", id(t.constant), tuple(shape), tuple(strides))
    dense, step = [], 1
    for size in reversed(shape):
        dense.append(step if size > 1 else 0)
        step *= size
    dense.reverse()
    axes = [[size] + [dense[i] if j == const else s[j] for j in (0, 1)]
            for i, (size, *s) in enumerate(axes)]
    axes = _merge(axes)
    return (axes, const, (key, tiled)) if len(axes) <= 5 else None


def _layout(op):
    """(outer shape[4], inner, a strides[5], b strides[5], [a values, b values]): the rows
    of the output, and for each constant operand (key, the values the strides index), key
    None for the constant itself (None for an arena operand)."""
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    axes = _merged_axes(a.shape, b.shape, y.shape)
    values = [(None, t.constant) if t.is_constant else None for t in (a, b)]
    tiled = _tile_constant(axes, op)
    if tiled is not None:
        axes, const, values[const] = tiled
    if 0 < len(axes) < 5 and axes[-1][0] > BINARY_ROW:
        # Rows are the thread pool's tiles: a long inner axis becomes rows of a few thousand.
        d, sa, sb = axes[-1]
        row = next((c for c in range(BINARY_ROW, BINARY_ROW // 4, -1) if d % c == 0), d)
        axes[-1:] = [[d // row, sa * row, sb * row], [row, sa, sb]]
    axes = [[1, 0, 0]] * (5 - len(axes)) + axes
    shape = [m[0] for m in axes]
    return shape[:4], shape[4], [m[1] for m in axes], [m[2] for m in axes], values


def _set_operands(ctx, p, op, selector: Optional[np.ndarray] = None):
    """Shape and strides of the rows, and the arena offsets (or plan-owned values for
    constants) of both operands, their broadcast strides checked to stay inside them. With a
    `selector` (the constant's distinct bytes, sorted), the constant is stored as the index of
    each of its bytes among them."""
    outer, inner, sa, sb, values = _layout(op)
    p.shape, p.inner = outer, inner
    p.a_stride, p.b_stride = sa, sb
    for t, strides, value, off, const in ((op.inputs[0], sa, values[0], "a_off", "a_const"),
                                          (op.inputs[1], sb, values[1], "b_off", "b_const")):
        reach = sum((d - 1) * s for d, s in zip(outer + [inner], strides))
        size = t.nbytes if value is None else value[1].nbytes
        if size and reach * t.dtype.itemsize >= size:
            raise PlanError("broadcast strides reach past tensor %d" % t.index)
        if value is not None:
            key, array = value
            data = np.ascontiguousarray(array).view(np.uint8)
            if selector is not None:
                data = np.searchsorted(selector, data).astype(np.uint8)
                key = key and ("binary constant selector", key)
            setattr(p, const, ctx.buffer(data, "uint8_t") if key is None else
                    ctx.shared_buffer(key, lambda: data, "uint8_t"))
        else:
            setattr(p, off, ctx.offset(t))
    p.out_off = ctx.offset(op.outputs[0])


# binary.c's fp32 fast path (ADD, SUB, MUL) rounds its value on a grid of 2^-GRID_BITS first.
GRID_BITS = 14


def _add_sub_near_tie(op, a_q, b_q, out_q) -> int:
    """qrun_binary_params.near_tie: binary.c's fp32 fast path for ADD/SUB is v = fl(fl(xa fa) +
    fl(xb fb)) (x the inputs less their zero points, fa = fl(s_a / s_y), fb = fl(+-s_b / s_y)),
    and the reference rounds (ties either way) a value r; both are near X = (xa s_a +- xb s_b)
    / s_y. With u = 2^-24 and P the largest |xa s_a| + |xb s_b| over s_y:
    - |v - X| <= ((1 + u)^3 - 1) P (fa, fb, the products and the sum each round once);
    - the reference's multipliers are QuantizeMultiplier's (relative error 2^-31 each, of
      doubles: 2^20 mu_a mu_out = s_a / s_y within 2^-29 relative), each input's term is off
      its exact value by at most 1/2 (its first rounding) + 2^-(shift + 1) (its rounding shift),
      mu_out times that in the output, and the output's first rounding moves r by 2^-(shift +
      1) when a rounding shift follows: |r - X| <= P 2^-29 + (E_a + E_b) mu_out + that.
    Let W be the sum of the bounds. v (clamped: the bounds are integers) rounded on the grid
    is n / 2^14, within 2^-15 of v; if n / 2^14 is near_tie / 2^14 or more from a tie
    (m + 1/2), v is more than 2 W from it: v, n / 2^14 and r round to the same integer. A power
    of two; 8192 (the fixed point everywhere) when a multiplier is 0 (its input's part of X is
    not in r)."""
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    half = 1 << (GRID_BITS - 1)
    if not (a_q[0] and b_q[0] and out_q[0]):
        return half
    lo, hi = dtype_range(y.dtype)
    s_y = float(np.float32(y.scale))
    p = sum(max(abs(lo - t.zero_point), abs(hi - t.zero_point)) * float(np.float32(t.scale))
            / s_y for t in (a, b))
    u = 2.0 ** -24
    fp32 = ((1 + u) ** 3 - 1) * 1.0001 * p
    mu_out = out_q[0] * 2.0 ** (out_q[1] - 31)
    terms = sum(0.5 + (2.0 ** (shift - 1) if shift < 0 else 0.0) for _, shift in (a_q, b_q))
    reference = p * 2.0 ** -29 + terms * mu_out + (2.0 ** (out_q[1] - 1) if out_q[1] < 0 else 0)
    return _near_tie_steps(fp32 + reference)


def _mul_near_tie(op, out_q) -> int:
    """qrun_binary_params.near_tie for MUL: binary.c's fp32 fast path is v = fl(x m) (x = (a -
    a_zero) (b - b_zero), exact in fp32; m = fl(fl(s_a s_b) / s_y), the float32 the reference
    quantizes to its multiplier mu: relative error 2^-31), then v' = fl(v +- 2^-(e + 1)) away
    from zero when the output multiplier shifts right by e > 0. The reference's two roundings,
    f = floor((x M + 2^30) / 2^31) and the rounding shift, are floor(X + 1/2 + s 2^-(e + 1))
    with X = x mu and s the sign of x (f's sign; x = -1, M = 2^30, where f = 0, gives 0 either
    way), or floor(X + 1/2) without a shift. A lane that is not clamped has |v'| <= 255, so
    |X| <= 256: |v - X| <= 256 (2^-24 + 2^-31) (with a margin), and the nudge's sum rounds by
    at most 2^-16. The grid and near_tie as for ADD/SUB (_add_sub_near_tie); 8192 (the fixed
    point everywhere) when the reference's shifted product can wrap (a multiplier of 1 or
    more on large products) or its multiplier is 0. 0 (no lane near a tie) for a multiplier
    2^-k, k <= 14: then v' = (x +- 1) 2^-k (x 2^-k for k <= 1) is exact and on the grid, and
    the fast path's rounding, half up, is the reference's floor(v' + 1/2) at ties too."""
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    half = 1 << (GRID_BITS - 1)
    lo, hi = dtype_range(y.dtype)
    largest = 1
    for t in (a, b):
        largest *= max(abs(lo - t.zero_point), abs(hi - t.zero_point))
    if not out_q[0] or largest << max(out_q[1], 0) >= 1 << 31:
        return half
    if out_q[0] == 1 << 30 and out_q[1] >= 1 - GRID_BITS:
        return 0
    fp32 = 256 * (2.0 ** -24 * 1.0001 + 2.0 ** -31) + (2.0 ** -16 if out_q[1] < 0 else 0.0)
    return _near_tie_steps(fp32)


def _near_tie_steps(bound: float) -> int:
    """near_tie for a bound of |v - r| (the fast path's value and the reference's): twice it,
    plus the grid's rounding, in grid steps, plus one, rounded up to a power of two."""
    steps = math.ceil((2 * bound + 2.0 ** -(GRID_BITS + 1)) * 2 ** GRID_BITS) + 1
    return min(1 << (steps - 1).bit_length(), 1 << (GRID_BITS - 1))


# qrun_binary_kind
BYTE_KINDS = {"ADD": 0, "MUL": 1, "SUB": 3}
TABLE_KIND = 2
FLOAT_KINDS = {"ADD": 4, "SUB": 5, "MUL": 6, "DIV": 7}
# A constant operand of at most this many distinct values makes ADD/SUB/MUL a table lookup
# (kernels_c/binary.c's vector lookup costs a table per value: more values, fp32 is faster).
MAX_CONSTANT_VALUES = 8


def constant_table(op) -> Optional[Tuple[int, np.ndarray, np.ndarray]]:
    """(the constant operand, its distinct bytes sorted, the table) when exactly one operand is
    a constant of at most MAX_CONSTANT_VALUES distinct values: with per-tensor quantization the
    output byte depends on the other operand's byte and the constant's value only, so the
    reference kernel (fused activation included) on every such pair is exact. table[i * 256 +
    x] is the output for the constant's i-th distinct value and the other operand's byte x
    (65536 bytes, as the table kind's)."""
    const = [i for i, t in enumerate(op.inputs) if t.is_constant]
    if len(const) != 1:
        return None
    values = np.unique(np.ascontiguousarray(op.inputs[const[0]].constant).view(np.uint8))
    if values.size > MAX_CONSTANT_VALUES:
        return None
    byte = np.arange(256, dtype=np.uint8)
    pairs = [np.tile(byte, values.size), np.tile(byte, values.size)]
    pairs[const[0]] = np.repeat(values, 256)
    table = np.zeros(65536, np.uint8)
    table[:values.size * 256] = _pair_probe(op, pairs)
    return const[0], values, table


def build_binary(op, ctx):
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    p = ctx.new("qrun_binary_params *")
    tabulated = constant_table(op) if y.dtype != np.float32 else None
    if tabulated is not None:
        # The table kind's first operand is the constant's value index.
        const, values, table = tabulated
        p.kind = TABLE_KIND
        _set_operands(ctx, p, dataclasses.replace(op, inputs=op.inputs[::-1]) if const else op,
                      values)
        p.table = ctx.buffer(table, "uint8_t")
        p.table_rows = values.size
        return "BINARY", p
    _set_operands(ctx, p, op)
    act = getattr(op.options, "fused_activation_function", Activation.NONE)
    if y.dtype == np.float32:
        # As the reference kernel: no activation still clamps to the finite range.
        lo, hi = activation_range_float(act)
        fmax = float(np.finfo(np.float32).max)
        p.kind = FLOAT_KINDS[op.opname]
        p.f_min, p.f_max = max(lo, -fmax), min(hi, fmax)
        return "BINARY", p
    flip, shift = activation_domain(y.dtype)
    p.kind = BYTE_KINDS[op.opname]
    p.flip = flip
    p.a_zero, p.b_zero = a.zero_point - shift, b.zero_point - shift
    if op.opname == "MUL":
        out_mult, out_shift = product_multiplier(op)
        p.a_scale = float(product_real_multiplier(op))
        p.near_tie = _mul_near_tie(op, (out_mult, out_shift))
    else:
        # kernels_c/binary.c's terms shift the inputs by 20, as the reference does for 8 bits
        left_shift = add_sub_left_shift(y.dtype)
        assert left_shift == 20
        ((a_mult, a_shift), (b_mult, b_shift)), twice_max = common_scale_multipliers(a, b)
        if a_shift > 0 or b_shift > 0 or min(a_shift, b_shift) < -31:
            raise PlanError("ADD/SUB input multiplier shifts %d, %d" % (a_shift, b_shift))
        p.a_mult, p.a_shift, p.b_mult, p.b_shift = a_mult, -a_shift, b_mult, -b_shift
        out_mult, out_shift = add_sub_output_multiplier(twice_max, left_shift, y)
        p.a_scale, p.b_scale = _binary_scales(op)
        p.near_tie = _add_sub_near_tie(op, (a_mult, a_shift), (b_mult, b_shift),
                                       (out_mult, out_shift))
    if not -31 <= out_shift <= 31:
        raise PlanError("%s output multiplier shift %d" % (op.opname, out_shift))
    p.out_mult = out_mult
    p.out_left_shift, p.out_right_shift = max(out_shift, 0), max(-out_shift, 0)
    lo, hi = activation_range_quantized(act, y.scale, y.zero_point, y.dtype)
    p.out_zero = y.zero_point
    p.out_min_less_zero, p.out_max_less_zero = lo - y.zero_point, hi - y.zero_point
    return "BINARY", p


for _name in ("ADD", "SUB", "MUL"):
    delegate_op(_name, binary_rule, "int8, uint8 per-tensor (exact: the reference's fixed "
                "point, or its table for a constant operand of at most 8 values); float32 (IEEE, "
                "exact); numpy broadcasting up to 5 merged axes; constant operands; fused "
                "NONE/RELU/RELU6/RELU_N1_TO_1")(build_binary)
delegate_op("DIV", binary_rule, "float32 (IEEE, exact) with numpy broadcasting up to 5 merged "
            "axes; constant operands; fused NONE/RELU/RELU6/RELU_N1_TO_1")(build_binary)


def table_binary_rule(op) -> Optional[str]:
    """Two int8/uint8 operands whose output byte depends on the two input bytes only."""
    reason = _operands_rule(op)
    if reason is not None:
        return reason
    if any(t.dtype not in rules.QUANTIZED for t in op.inputs + op.outputs):
        return "not int8/uint8"
    if find_kernel(op) is None:
        return "no reference kernel to tabulate"
    return None


def _pair_probe(op, pairs) -> np.ndarray:
    """The reference kernel on equal-length byte arrays [a bytes, b bytes]: output bytes."""
    y, n = op.outputs[0], pairs[0].size
    probe = dataclasses.replace(
        op, inputs=[dataclasses.replace(t, shape=(n,), data=v.view(t.dtype), constant=None)
                    for t, v in zip(op.inputs, pairs)],
        outputs=[dataclasses.replace(y, shape=(n,), data=np.zeros(n, y.dtype))])
    out = np.asarray(_probe(probe))
    if out.dtype != y.dtype or out.size != n:
        raise PlanError("%s: the reference kernel gave %s[%d] for a %d-entry table"
                        % (op.opname, out.dtype, out.size, n))
    return np.ascontiguousarray(out.reshape(n)).view(np.uint8)


def pair_table(op) -> np.ndarray:
    """The reference kernel on every pair of bytes: table[a * 256 + b] = output byte."""
    byte = np.arange(256, dtype=np.uint8)
    return _pair_probe(op, [np.repeat(byte, 256), np.tile(byte, 256)])


def build_table_binary(op, ctx):
    p = ctx.new("qrun_binary_params *")
    p.kind = TABLE_KIND
    _set_operands(ctx, p, op)
    p.table = ctx.buffer(pair_table(op), "uint8_t")
    return "BINARY", p


for _name in ("MAXIMUM", "MINIMUM", "PRELU"):
    delegate_op(_name, table_binary_rule, "int8, uint8 with numpy broadcasting: exact 256 x 256 "
                "table of the reference kernel")(build_table_binary)
