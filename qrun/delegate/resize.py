"""RESIZE_BILINEAR: the reference kernel's coordinates and weights, computed once per shape."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..interpreter.kernels.resize import _float_coords, _integer_coords
from . import rules
from .plan import PlanError
from .table import delegate_op


def _flags(op):
    return (bool(getattr(op.options, "align_corners", False)),
            bool(getattr(op.options, "half_pixel_centers", False)))


def resize_bilinear_rule(op) -> Optional[str]:
    if len(op.inputs) != 2 or None in op.inputs:
        return "inputs"
    x, y = op.inputs[0], op.outputs[0]
    if x.dtype not in rules.QUANTIZED or x.is_constant or y.dtype != x.dtype:
        return "not a non-constant int8/uint8 tensor"
    if not op.inputs[1].is_constant:
        return "size is not constant"
    if len(x.shape) != 4 or len(y.shape) != 4 or y.shape[0] != x.shape[0] or \
            y.shape[3] != x.shape[3] or min(y.shape[1:3]) < 1 or min(x.shape[1:3]) < 1:
        return "shapes"
    if all(_flags(op)):
        return "align_corners with half_pixel_centers"
    if x.scale != y.scale or x.zero_point != y.zero_point:
        return "quantization differs"
    return None


@delegate_op("RESIZE_BILINEAR", resize_bilinear_rule, "int8 (integer path), uint8 (float32 "
             "path): bit-exact with the reference kernel")
def build_resize_bilinear(op, ctx):
    x, y = op.inputs[0], op.outputs[0]
    b, h, w, c = x.shape
    _, oh, ow, _ = y.shape
    align, half = _flags(op)
    p = ctx.new("qrun_resize_params *")
    p.integer = x.dtype == np.int8
    p.batch, p.in_h, p.in_w, p.channels, p.out_h, p.out_w = b, h, w, c, oh, ow
    coords = _integer_coords if p.integer else _float_coords
    (py, y0, y1), (px, x0, x1) = coords(h, oh, align, half), coords(w, ow, align, half)
    for lo, hi, size in ((y0, y1, h), (x0, x1, w)):
        if lo.min() < 0 or hi.max() >= size or lo.max() >= size or hi.min() < 0:
            raise PlanError("interpolation indices outside the input")
    p.y0, p.y1 = ctx.buffer(y0, "int64_t"), ctx.buffer(y1, "int64_t")
    p.x0, p.x1 = ctx.buffer(x0, "int64_t"), ctx.buffer(x1, "int64_t")
    if p.integer:
        p.iy = ctx.buffer((py - (y0 << 10)).astype(np.int32), "int32_t")
        p.ix = ctx.buffer((px - (x0 << 10)).astype(np.int32), "int32_t")
    else:
        p.fy = ctx.buffer((py - y0.astype(np.float32)).astype(np.float32), "float")
        p.fx = ctx.buffer((px - x0.astype(np.float32)).astype(np.float32), "float")
    p.in_off, p.out_off = ctx.offset(x), ctx.offset(y)
    return "RESIZE_BILINEAR", p
