"""RESIZE_BILINEAR in the delegate: bit-exact with LiteRT BUILTIN_REF (int8: the integer path,
uint8: the float32 path) on every ISA, over up- and downscales, odd sizes, channel counts
around the vector widths and the kernel's row chunks (512 elements), batches and the three
coordinate modes."""
from __future__ import annotations

import numpy as np
import pytest

from qrun.modelbuilder import ModelBuilder
from tests.delegate.util import check_delegate

QUANT = {np.int8: [dict(scale=0.05, zero_point=-128), dict(scale=0.02, zero_point=127)],
         np.uint8: [dict(scale=0.05, zero_point=0), dict(scale=0.02, zero_point=255)]}

SHAPES = [
    ((1, 4, 5, 1), (9, 11)),        # one channel: every element its own pixel
    ((2, 6, 7, 3), (13, 29)),       # batch 2, 3 channels, up by non-integer factors
    ((1, 17, 17, 19), (65, 65)),    # deeplab-like 4x upscale, rows of several chunks
    ((1, 9, 8, 64), (4, 3)),        # downscale
    ((2, 5, 7, 65), (11, 6)),       # up in height, down in width, a one-lane tail
    ((1, 3, 2, 600), (5, 3)),       # more channels than a chunk holds
    ((1, 1, 1, 19), (7, 5)),        # from one pixel
    ((1, 31, 33, 21), (1, 1)),      # to one pixel
]


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("shape,size", SHAPES)
@pytest.mark.parametrize("align,half", [(False, False), (True, False), (False, True)])
def test_resize_bilinear(dtype, shape, size, align, half):
    q = QUANT[dtype][(shape[3] + size[0]) % 2]
    b = ModelBuilder()
    x = b.add_input(shape, dtype, **q)
    s = b.add_constant(np.array(size, np.int32))
    y = b.add_tensor((shape[0],) + size + (shape[3],), dtype, **q)
    b.add_op("RESIZE_BILINEAR", [x, s], [y], align_corners=align, half_pixel_centers=half)
    b.mark_output(y)
    check_delegate(b.build(), seed=size[0] + shape[3], lsb=0)
