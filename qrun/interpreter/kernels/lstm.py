"""UNIDIRECTIONAL_SEQUENCE_LSTM and LSTM (one step, full kernel): float32, hybrid (float32
activations, int8 weights) and int8 with an int16 cell state (TFLite's 8x8_16).

Inputs follow TFLite's lstm::full layout (24; the last four, layer norm, optional). The output
state (18) and cell state (19) are variable tensors: the kernel reads them at the start of a
sequence and writes the final states back in place, so state carries over between invokes.

The integer path mirrors lstm_eval.cc (LstmStepInteger8x8_16) and the scale set-up of
PopulateQuantizedLstmParams8x8_16: each gate is two int8 matmuls rescaled into int16 Q3.12
(or the scale of intermediate 0..3 with layer norm), gemmlowp's 16-bit sigmoid / tanh, an
int16 cell state with a power-of-two scale, and the hidden state requantized with the scale
of intermediate 4. Batches are independent, so every step runs over all batches at once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np

from ..quant import (apply_activation_float, multiply_by_quantized_multiplier,
                     quantize_multiplier, rounding_divide_by_pot,
                     saturating_rounding_doubling_high_mul, wrap_int32)
from ..registry import register
from . import fixedpoint16
from .operands import float_weights, operand_for

INPUT = 0
INPUT_WEIGHTS = (1, 2, 3, 4)           # input-to-{input, forget, cell, output} gate
RECURRENT_WEIGHTS = (5, 6, 7, 8)
PEEPHOLE_WEIGHTS = (9, 10, 11)         # cell-to-{input, forget, output}
GATE_BIAS = (12, 13, 14, 15)
PROJECTION_WEIGHTS, PROJECTION_BIAS = 16, 17
OUTPUT_STATE, CELL_STATE = 18, 19
LAYER_NORM = (20, 21, 22, 23)
GATE_I, GATE_F, GATE_C, GATE_O = range(4)
PEEPHOLE_OF_GATE = {GATE_I: 9, GATE_F: 10, GATE_O: 11}


def _opt(op, i):
    """Optional input i (None when omitted, or when i is -1 or past the inputs)."""
    return op.inputs[i] if 0 <= i < len(op.inputs) else None


def _is_sequence(op) -> bool:
    return op.opname == "UNIDIRECTIONAL_SEQUENCE_LSTM"


def _batch_major(op) -> bool:
    """Batch-major sequences: TFLite runs each batch's sequence on its own."""
    return _is_sequence(op) and not op.options.time_major


def _to_steps(op, x: np.ndarray) -> np.ndarray:
    """The input as [time, batch, features]; the LSTM op is a single step."""
    if not _is_sequence(op):
        return x[None]
    return x.transpose(1, 0, 2) if _batch_major(op) else x


def _from_steps(op, y: np.ndarray) -> np.ndarray:
    if not _is_sequence(op):
        return y[0]
    return y.transpose(1, 0, 2) if _batch_major(op) else y


def lstm_output_shape(op):
    if len(op.inputs) not in (20, 24):
        raise ValueError("%s expects 20 or 24 inputs, got %d" % (op.opname, len(op.inputs)))
    if not _is_sequence(op) and getattr(op.options, "kernel_type", 0) != 0:
        raise ValueError("only the full LSTM kernel is supported, not the basic one")
    x = op.inputs[INPUT]
    rank = 3 if _is_sequence(op) else 2
    if len(x.shape) != rank:
        raise ValueError("%s input must be rank %d, got %s" % (op.opname, rank, list(x.shape)))
    n_input = x.shape[-1]
    n_batch = x.shape[0] if rank == 2 or _batch_major(op) else x.shape[1]
    n_cell, n_output = op.inputs[8].shape
    cifg = op.inputs[1] is None
    expect = {i: (n_cell, n_input) for i in INPUT_WEIGHTS}
    expect.update({i: (n_cell, n_output) for i in RECURRENT_WEIGHTS})
    expect.update({i: (n_cell,) for i in PEEPHOLE_WEIGHTS + GATE_BIAS + LAYER_NORM})
    expect.update({PROJECTION_WEIGHTS: (n_output, n_cell), PROJECTION_BIAS: (n_output,)})
    for i, shape in expect.items():
        t = _opt(op, i)
        if t is not None and tuple(t.shape) != shape:
            raise ValueError("LSTM input %d has shape %s, expected %s" % (i, list(t.shape),
                                                                          list(shape)))
    if cifg != (op.inputs[5] is None) or cifg != (op.inputs[12] is None):
        raise ValueError("LSTM input-gate weights and bias must be all present or all absent")
    if (_opt(op, PROJECTION_WEIGHTS) is None) and (_opt(op, PROJECTION_BIAS) is not None):
        raise ValueError("LSTM projection bias without projection weights")
    for i, n in ((OUTPUT_STATE, n_batch * n_output), (CELL_STATE, n_batch * n_cell)):
        t = op.inputs[i]
        if t is None or int(np.prod(t.shape)) != n:
            raise ValueError("LSTM state input %d must hold %d values" % (i, n))
    if x.dtype == np.int8:
        if op.inputs[2].dtype != np.int8:
            raise ValueError("int8 LSTM needs int8 weights")
        if len(op.intermediates) != 5:
            raise ValueError("int8 LSTM needs 5 intermediate tensors, got %d"
                             % len(op.intermediates))
        layer_norm = _opt(op, LAYER_NORM[GATE_F]) is not None
        for k in (range(5) if layer_norm else (4,)):
            if not len(op.intermediates[k].quantization.scales):
                raise ValueError("int8 LSTM intermediate %d has no quantization" % k)
        _cell_scale_log2(op.inputs[CELL_STATE].scale)
        if op.inputs[10] is not None and n_output > n_cell:
            raise ValueError("int8 LSTM with peephole needs n_output <= n_cell (TFLite's "
                             "kernel would read past the cell state)")
    elif x.dtype != np.float32 or op.inputs[2].dtype not in (np.float32, np.int8):
        raise ValueError("LSTM with %s input and %s weights is not supported"
                         % (x.dtype, op.inputs[2].dtype))
    return [tuple(x.shape[:-1]) + (n_output,)]


def _sigmoid(x):
    return (1.0 / (1.0 + np.exp(-x))).astype(np.float32)


# -- float32 -----------------------------------------------------------------------------

@dataclass
class FloatCell:
    """The tensors of one float32 or hybrid LSTM cell, per gate (input, forget, cell, output;
    None where absent), and its two state tensors."""
    input_weights: List
    recurrent_weights: List
    aux_weights: List
    peephole: List
    bias: List
    layer_norm: List
    projection: Optional[object]
    projection_bias: Optional[object]
    output_state: object
    cell_state: object


def float_cell(op, block: int, states: int, layer_norm: int = -1, aux: int = -1) -> FloatCell:
    """The cell whose 17 weight tensors start at input `block` (in lstm::full order), with
    output and cell state at `states` and `states + 1`, and optional layer norm and
    auxiliary-input weights (4 each) starting at `layer_norm` and `aux`."""
    def four(start):
        return [_opt(op, start + k) if start >= 0 else None for k in range(4)]

    return FloatCell(
        input_weights=four(block), recurrent_weights=four(block + 4),
        aux_weights=four(aux), peephole=[_opt(op, block + 8), _opt(op, block + 9), None,
                                         _opt(op, block + 10)],
        bias=four(block + 11), layer_norm=four(layer_norm), projection=_opt(op, block + 15),
        projection_bias=_opt(op, block + 16), output_state=op.inputs[states],
        cell_state=op.inputs[states + 1])


def _float_gate(cell: FloatCell, g, x, aux, h, c, activation):
    """CalculateLstmGateFloat / -Hybrid: bias + W x (+ W_aux aux) + R h (+ peephole)
    (+ layer norm), activated; x, aux and h are float or hybrid operands."""
    bias = cell.bias[g].data
    norm = cell.layer_norm[g]
    acc = np.zeros(c.shape, np.float32) if norm is not None else np.broadcast_to(bias, c.shape)
    acc = x.accumulate(acc, cell.input_weights[g])
    if aux is not None and cell.aux_weights[g] is not None:
        acc = aux.accumulate(acc, cell.aux_weights[g])
    acc = h.accumulate(acc, cell.recurrent_weights[g])
    if cell.peephole[g] is not None:
        acc = acc + float_weights(cell.peephole[g]) * c
    if norm is not None:
        mean = acc.mean(axis=1, keepdims=True)
        var = ((acc - mean) ** 2).mean(axis=1, keepdims=True)
        acc = (acc - mean) / np.sqrt(var + np.float32(1e-8)) * norm.data + bias
    return activation(acc.astype(np.float32))


def run_float_cell(cell: FloatCell, options, xs: np.ndarray, aux_xs: Optional[np.ndarray] = None,
                   reverse: bool = False) -> np.ndarray:
    """LstmStepFloat / LstmStepHybrid over the steps of xs [time, batch, n_input] (backwards
    when `reverse`), from and back into the cell's state tensors; returns the outputs
    [time, batch, n_output] in time order."""
    act = options.fused_activation_function

    def cell_act(v):
        return apply_activation_float(v, act)

    operand = operand_for(cell.input_weights[GATE_F],
                          bool(getattr(options, "asymmetric_quantize_inputs", False)))
    n_batch = xs.shape[1]
    h = cell.output_state.data.reshape(n_batch, -1).copy()
    c = cell.cell_state.data.reshape(n_batch, -1).copy()
    cifg = cell.input_weights[GATE_I] is None
    proj, proj_bias = cell.projection, cell.projection_bias
    outs = [None] * len(xs)
    for t in (reversed(range(len(xs))) if reverse else range(len(xs))):
        x, hv = operand(xs[t]), operand(h)
        aux = None if aux_xs is None else operand(aux_xs[t])
        f = _float_gate(cell, GATE_F, x, aux, hv, c, _sigmoid)
        i = 1.0 - f if cifg else _float_gate(cell, GATE_I, x, aux, hv, c, _sigmoid)
        g = _float_gate(cell, GATE_C, x, aux, hv, c, cell_act)
        c = (f * c + i * g).astype(np.float32)
        if options.cell_clip > 0:
            c = np.clip(c, -options.cell_clip, options.cell_clip)
        out_gate = _float_gate(cell, GATE_O, x, aux, hv, c, _sigmoid)
        h = (out_gate * cell_act(c)).astype(np.float32)
        if proj is not None:
            start = (np.zeros((n_batch, proj.shape[0]), np.float32) if proj_bias is None
                     else np.broadcast_to(proj_bias.data, (n_batch, proj.shape[0])))
            h = operand(h).accumulate(start, proj)
            if options.proj_clip > 0:
                h = np.clip(h, -options.proj_clip, options.proj_clip)
            h = h.astype(np.float32)
        outs[t] = h
    store_states(cell.output_state, cell.cell_state, h, c)
    return np.stack(outs).astype(np.float32)


def _lstm_float(op):
    """The float32 LSTM, or the hybrid one (float activations, int8 weights)."""
    cell = float_cell(op, 1, OUTPUT_STATE, layer_norm=LAYER_NORM[0])
    return _from_steps(op, run_float_cell(cell, op.options, _to_steps(op, op.inputs[INPUT].data)))


def store_states(output_state, cell_state, h: np.ndarray, c: np.ndarray) -> None:
    """Writes the final states back into the variable tensors."""
    for t, value in ((output_state, h), (cell_state, c)):
        t.data[...] = value.reshape(t.data.shape).astype(t.dtype)


# -- int8 x int8 -> int16 ----------------------------------------------------------------

def _cell_scale_log2(scale: float) -> int:
    """CheckedLog2: the cell state scale must be a power of two."""
    log2 = np.float32(math.log(np.float32(scale))) * np.float32(1.0 / math.log(2.0))
    rounded = float(np.round(log2))
    if abs(float(log2) - rounded) >= 1e-3:
        raise ValueError("int8 LSTM cell state scale %g is not a power of two" % scale)
    if not 0 <= 15 + int(rounded) <= 6:
        raise ValueError("int8 LSTM cell state scale 2^%d is out of range" % int(rounded))
    return int(rounded)


def _f32_scale(a, b, c) -> float:
    """a * b / c in float32, as Prepare computes the effective scales."""
    return float(np.float32(np.float32(a) * np.float32(b)) / np.float32(c))


@dataclass
class _IntegerGate:
    w: np.ndarray                      # input weights, int64 [n_cell, n_input]
    w_bias: np.ndarray                 # bias folded with -input_zp * row sums
    w_scale: tuple
    r: np.ndarray
    r_bias: np.ndarray
    r_scale: tuple
    peephole: Optional[np.ndarray]
    peephole_scale: tuple
    norm: Optional[np.ndarray]         # int16 layer norm weights
    norm_bias: Optional[np.ndarray]
    norm_scale: tuple
    variance_guard: int


@dataclass
class _IntegerParams:
    gates: Dict[int, _IntegerGate]
    cell_scale: int
    cell_clip: int
    proj_clip: int
    hidden_scale: tuple
    hidden_zp: int
    proj: Optional[np.ndarray]
    proj_bias: np.ndarray
    proj_scale: tuple
    output_state_zp: int


def _zp_folded_bias(weights, zero_point: int, bias) -> np.ndarray:
    """PrecomputeZeroPointTimesWeightWithBias: bias - zero_point * row sums (int32)."""
    out = np.zeros(weights.shape[0], np.int64) if bias is None else bias.astype(np.int64)
    return wrap_int32(out - zero_point * weights.astype(np.int64).sum(axis=1))


def _integer_params(op) -> _IntegerParams:
    o = op.options
    x, h_t, c_t = op.inputs[INPUT], op.inputs[OUTPUT_STATE], op.inputs[CELL_STATE]
    cell_scale = _cell_scale_log2(c_t.scale)
    layer_norm = _opt(op, LAYER_NORM[GATE_F]) is not None
    inter = op.intermediates
    gate_scales = [inter[k].scale if layer_norm else 2.0 ** -12 for k in range(4)]
    gates = {}
    for g in (GATE_I, GATE_F, GATE_C, GATE_O):
        w_t = op.inputs[INPUT_WEIGHTS[g]]
        if w_t is None:
            continue
        r_t, bias_t = op.inputs[RECURRENT_WEIGHTS[g]], op.inputs[GATE_BIAS[g]]
        p_t, n_t = _opt(op, PEEPHOLE_OF_GATE.get(g, -1)), _opt(op, LAYER_NORM[g])
        w, r = w_t.data.astype(np.int64), r_t.data.astype(np.int64)
        # With layer norm the gate bias is added inside the normalization instead.
        folded = None if layer_norm else bias_t.data
        norm_scale = n_t.scale if n_t is not None else 1.0
        gates[g] = _IntegerGate(
            w=w, w_bias=_zp_folded_bias(w, x.zero_point, folded),
            w_scale=quantize_multiplier(_f32_scale(w_t.scale, x.scale, gate_scales[g])),
            r=r, r_bias=_zp_folded_bias(r, h_t.zero_point, None),
            r_scale=quantize_multiplier(_f32_scale(r_t.scale, h_t.scale, gate_scales[g])),
            peephole=None if p_t is None else p_t.data.astype(np.int64),
            peephole_scale=quantize_multiplier(_f32_scale(
                2.0 ** cell_scale, p_t.scale if p_t is not None else 1.0, gate_scales[g])),
            norm=None if n_t is None else n_t.data.astype(np.int64),
            norm_bias=bias_t.data.astype(np.int64),
            norm_scale=quantize_multiplier(float(np.float32(norm_scale))),
            variance_guard=max(1, int(np.float32(10000) * np.float32(norm_scale))))
    hidden = inter[4]
    proj_t, proj_b = _opt(op, PROJECTION_WEIGHTS), _opt(op, PROJECTION_BIAS)
    out_scale = op.outputs[0].scale
    cell_clip = (int(np.clip(np.float32(o.cell_clip) / np.float32(c_t.scale), -32768, 32767))
                 if o.cell_clip > 0 else 0)
    proj_clip = (int(np.clip(np.float32(o.proj_clip) / np.float32(out_scale), -128, 127))
                 if o.proj_clip > 0 else 0)
    proj = None if proj_t is None else proj_t.data.astype(np.int64)
    return _IntegerParams(
        gates=gates, cell_scale=cell_scale, cell_clip=cell_clip, proj_clip=proj_clip,
        hidden_scale=quantize_multiplier(_f32_scale(
            np.float32(2.0 ** -15) / np.float32(hidden.scale), 2.0 ** -15, 1.0)),
        hidden_zp=hidden.zero_point, proj=proj,
        proj_bias=(None if proj is None else
                   _zp_folded_bias(proj, -hidden.zero_point,
                                   None if proj_b is None else proj_b.data)),
        proj_scale=quantize_multiplier(_f32_scale(
            proj_t.scale if proj_t is not None else 1.0, hidden.scale, h_t.scale)),
        output_state_zp=h_t.zero_point)


def _accumulate(v, weights, bias, scale, zero_point, into, lo, hi):
    """MatrixBatchVectorMultiplyAccumulate (int8 -> int16/int8): rescaled W v + bias, plus
    the zero point and what `into` already holds, saturated to [lo, hi]."""
    acc = wrap_int32(bias + v @ weights.T)
    return np.clip(multiply_by_quantized_multiplier(acc, *scale) + zero_point + into, lo, hi)


def _inv_sqrt_multiplier(value: int):
    """GetInvSqrtQuantizedMultiplierExp(value, reverse_shift=-1) on int32 fixed point."""
    if value <= 1:
        return (1 << 31) - 1, 0
    shift = 11
    while value >= (1 << 29):
        value //= 4
        shift += 1
    pairs = (31 - value.bit_length()) // 2 - 1   # (CountLeadingZeros - 1) / 2 - 1
    shift -= pairs
    value <<= 2 * pairs

    def mul(a, b):
        return int(saturating_rounding_doubling_high_mul(a, b))

    def rescale_up(v, exponent):   # saturating multiply by 2^exponent, int32
        limit = (1 << (31 - exponent)) - 1
        if v > limit:
            return (1 << 31) - 1
        if v < -limit:
            return -(1 << 31)
        return int(wrap_int32(v << exponent))

    x_in = value >> 1
    half_in = int(rounding_divide_by_pot(x_in, 1))
    half_three = (1 << 28) + (1 << 27)
    x = 1 << 28
    for _ in range(5):
        x3 = rescale_up(mul(mul(x, x), x), 6)
        x = rescale_up(int(wrap_int32(mul(half_three, x) - mul(half_in, x3))), 3)
    x = mul(x, 1518500250)
    if shift < 0:
        x = int(wrap_int32(x << -shift))
        shift = 0
    return x, -shift


def _layer_norm(gate, p: _IntegerGate):
    """ApplyLayerNorm (integer): per batch row mean/variance, rescale, weights and bias."""
    n = gate.shape[1]
    out = np.empty_like(gate)
    for b in range(gate.shape[0]):
        row = gate[b]
        total, total_sq = int(row.sum()), int((row * row).sum())
        mean = _cdiv(total * 1024, n)
        variance = total_sq * ((1 << 20) // n) - mean * mean
        variance2 = _cdiv(variance, 1 << 20)
        if variance2 < 1:
            variance2 = p.variance_guard
        inv_a, inv_b = _inv_sqrt_multiplier(int(wrap_int32(variance2)))
        rescaled = multiply_by_quantized_multiplier(wrap_int32(1024 * row - mean), inv_a, inv_b)
        val3 = wrap_int32(wrap_int32(rescaled * p.norm) + p.norm_bias)
        val4 = _cdiv_array(np.where(val3 > 0, val3 + 512, val3 - 512), 1024)
        out[b] = multiply_by_quantized_multiplier(val4, p.norm_scale[0], p.norm_scale[1] + 12)
    return np.clip(out, -32768, 32767)


def _cdiv(a: int, b: int) -> int:
    """C integer division (truncation toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _cdiv_array(a: np.ndarray, b: int) -> np.ndarray:
    return np.where(a >= 0, a // b, -((-a) // b))


def _peephole(gate, p: _IntegerGate, c, n_output: int, per_batch: bool):
    """VectorBatchVectorCwiseProductAccumulate as the 8x8_16 kernel calls it: with n_output
    as the vector size (all the cells unless a projection makes n_output < n_cell), over the
    flattened cell state and gate of the batches of one step call. Batch-major sequences run
    one batch per call, time-major ones all batches in one call."""
    calls = gate.shape[0] if per_batch else 1
    out = gate.reshape(calls, -1).copy()
    k = gate.shape[0] // calls * n_output
    prod = np.tile(p.peephole[:n_output], k // n_output) * c.reshape(calls, -1)[:, :k]
    out[:, :k] = np.clip(out[:, :k] + multiply_by_quantized_multiplier(prod, *p.peephole_scale),
                         -32768, 32767)
    return out.reshape(gate.shape)


def _integer_gate(p: _IntegerGate, x, h, c, sigmoid: bool, per_batch: bool):
    """CalculateLstmGateInteger8x8_16: an int16 gate in [-1, 1) (Q0.15)."""
    zeros = np.zeros((x.shape[0], p.w.shape[0]), np.int64)
    gate = _accumulate(x, p.w, p.w_bias, p.w_scale, 0, zeros, -32768, 32767)
    gate = _accumulate(h, p.r, p.r_bias, p.r_scale, 0, gate, -32768, 32767)
    if p.peephole is not None:
        gate = _peephole(gate, p, c, h.shape[1], per_batch)
    if p.norm is not None:
        gate = _layer_norm(gate, p)
    return fixedpoint16.sigmoid_q3_12(gate) if sigmoid else fixedpoint16.tanh(gate, 3)


def _lstm_int8(op):
    p = _integer_params(op)
    xs = _to_steps(op, op.inputs[INPUT].data).astype(np.int64)
    n_batch = xs.shape[1]
    h = op.inputs[OUTPUT_STATE].data.reshape(n_batch, -1).astype(np.int64)
    c = op.inputs[CELL_STATE].data.reshape(n_batch, -1).astype(np.int64)
    gates = p.gates
    per_batch = _batch_major(op)
    outs: List[np.ndarray] = []
    for x in xs:
        f = _integer_gate(gates[GATE_F], x, h, c, True, per_batch)
        i = (32767 - f if GATE_I not in gates else
             _integer_gate(gates[GATE_I], x, h, c, True, per_batch))
        g = _integer_gate(gates[GATE_C], x, h, c, False, per_batch)
        # UpdateLstmCellInteger
        c = fixedpoint16.wrap16(rounding_divide_by_pot(f * c, 15))
        c = np.clip(c + fixedpoint16.wrap16(rounding_divide_by_pot(i * g, 30 + p.cell_scale)),
                    -32768, 32767)
        if p.cell_clip > 0:
            c = np.clip(c, -p.cell_clip, p.cell_clip)
        out_gate = _integer_gate(gates[GATE_O], x, h, c, True, per_batch)
        # CalculateLstmOutputInteger8x8_16
        t = fixedpoint16.tanh(c, 15 + p.cell_scale)
        # Measured against LiteRT: the hidden zero point is added when the hidden state is
        # the output, but subtracted before a projection (whose folded bias adds it back).
        hidden_zp = -p.hidden_zp if p.proj is not None else p.hidden_zp
        hidden = np.clip(multiply_by_quantized_multiplier(out_gate * t, *p.hidden_scale)
                         + hidden_zp, -128, 127)
        if p.proj is not None:
            h = _accumulate(hidden, p.proj, p.proj_bias, p.proj_scale, p.output_state_zp,
                            0, -128, 127)
            if p.proj_clip > 0:
                h = np.clip(h, -p.proj_clip, p.proj_clip)
        else:
            h = hidden
        outs.append(h)
    store_states(op.inputs[OUTPUT_STATE], op.inputs[CELL_STATE], h, c)
    return _from_steps(op, np.stack(outs)).astype(np.int8)


@register("LSTM", (np.float32, np.int8), shape=lstm_output_shape)
@register("UNIDIRECTIONAL_SEQUENCE_LSTM", (np.float32, np.int8), shape=lstm_output_shape)
def lstm(op):
    if op.inputs[INPUT].dtype == np.int8:
        return _lstm_int8(op)
    return _lstm_float(op)

