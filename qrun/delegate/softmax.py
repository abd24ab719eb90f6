"""SOFTMAX on int8/uint8: the reference kernel's per-difference exp tables, built once."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..interpreter.kernels.softmax import (SCALED_DIFF_INTEGER_BITS, _softmax_scaling,
                                           exp_on_negative_values)
from ..interpreter.quant import dtype_range, multiply_by_quantized_multiplier_greater_than_one
from . import rules
from .table import delegate_op


def softmax_rule(op) -> Optional[str]:
    if len(op.inputs) != 1 or op.inputs[0] is None:
        return "expects one input"
    x, y = op.inputs[0], op.outputs[0]
    if x.dtype not in rules.QUANTIZED or y.dtype != x.dtype:
        return "not int8/uint8 to the same type"
    reason = rules.first_reason(rules.per_tensor_activation(x, x.dtype),
                                rules.per_tensor_activation(y, y.dtype))
    if reason:
        return reason
    if len(x.shape) < 1 or tuple(x.shape) != tuple(y.shape) or x.shape[-1] < 1:
        return "shapes"
    return None


@delegate_op("SOFTMAX", softmax_rule, "int8, uint8: bit-exact with the reference kernel "
             "(fixed-point exp tables, reciprocal in C)")
def build_softmax(op, ctx):
    x, y = op.inputs[0], op.outputs[0]
    multiplier, shift, diff_min = _softmax_scaling(float(op.options.beta), float(x.scale))
    span = np.arange(-255, 1, dtype=np.int64)
    rescaled = multiply_by_quantized_multiplier_greater_than_one(span, multiplier, shift)
    # Differences below diff_min output the minimum: a zero exp scales to exactly that.
    valid = span >= diff_min
    exps = np.where(valid, exp_on_negative_values(rescaled, SCALED_DIFF_INTEGER_BITS), 0)
    p = ctx.new("qrun_softmax_params *")
    p.depth = int(x.shape[-1])
    p.rows = int(np.prod(x.shape, dtype=np.int64)) // p.depth
    p.is_signed = x.dtype == np.int8
    p.out_min, p.out_max = dtype_range(y.dtype)
    p.exps = ctx.buffer(exps.astype(np.int32), "int32_t")
    p.in_off, p.out_off = ctx.offset(x), ctx.offset(y)
    return "SOFTMAX", p
