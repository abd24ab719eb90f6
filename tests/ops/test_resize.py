"""RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR against LiteRT BUILTIN_REF."""
from __future__ import annotations

import numpy as np
import pytest

from qrun.modelbuilder import ModelBuilder
from tests.oracle import check_against_litert
from tests.ops.test_pooling import check_ops_in_model

DTYPES = {np.float32: (None, None), np.uint8: (0.05, 128), np.int8: (0.05, -3),
          np.int16: (0.001, 0)}
MODES = [(False, False), (True, False), (False, True)]   # (align_corners, half_pixel_centers)
# (input shape, output size): up, down, mixed, identity, to and from 1
SIZES = [((1, 4, 5, 3), (8, 10)), ((2, 9, 7, 2), (4, 3)), ((1, 5, 5, 1), (7, 3)),
         ((1, 3, 4, 5), (3, 4)), ((1, 1, 1, 2), (3, 5)), ((1, 6, 3, 4), (1, 1)),
         ((1, 33, 33, 2), (257, 129))]


def resize_model(opname, shape, size, dtype, align, half):
    scale, zp = DTYPES.get(dtype, (None, None))
    b = ModelBuilder()
    x = b.add_input(shape, dtype, scale=scale, zero_point=zp)
    s = b.add_constant(np.array(size, np.int32))
    y = b.add_tensor((shape[0],) + tuple(size) + (shape[3],), dtype, scale=scale,
                     zero_point=zp)
    b.add_op(opname, [x, s], [y], align_corners=align, half_pixel_centers=half)
    b.mark_output(y)
    return b.build()


@pytest.mark.parametrize("opname", ["RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"])
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("align,half", MODES)
@pytest.mark.parametrize("shape,size", SIZES)
def test_resize(opname, dtype, align, half, shape, size):
    check_against_litert(resize_model(opname, shape, size, dtype, align, half))


@pytest.mark.parametrize("align,half", MODES)
@pytest.mark.parametrize("shape,size", SIZES[:3])
def test_resize_nearest_int32(align, half, shape, size):
    check_against_litert(resize_model("RESIZE_NEAREST_NEIGHBOR", shape, size, np.int32, align,
                                      half))


@pytest.mark.parametrize("align,half", MODES)
@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_resize_bilinear_extremes(align, half, dtype):
    """Constant and alternating extreme images: rounding at the ends of the range."""
    lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
    shape = (1, 5, 6, 2)
    flat = np.full(shape, hi, dtype)
    checker = np.where((np.indices(shape[1:3]).sum(axis=0) % 2 == 0)[None, :, :, None], lo,
                       hi).astype(dtype)
    checker = np.broadcast_to(checker, shape).copy()
    model = resize_model("RESIZE_BILINEAR", shape, (13, 11), dtype, align, half)
    for x in (flat, checker):
        check_against_litert(model, inputs=[x])


@pytest.mark.parametrize("name,expected", [
    ("deeplabv3_mnv2_dm05_pascal_quant.tflite", {"RESIZE_BILINEAR"}),
    ("edgetpu_deeplab_slim_257_os16_full_integer_quant.tflite", {"RESIZE_BILINEAR"}),
    ("traffic_model_lstm_ssd.tflite", {"RESIZE_NEAREST_NEIGHBOR"}),
    ("yolov8n_full_integer_quant.tflite", {"RESIZE_NEAREST_NEIGHBOR"}),
    ("retinaface_int8.tflite", {"RESIZE_NEAREST_NEIGHBOR"}),
])
def test_real_model_ops(name, expected):
    assert check_ops_in_model(name, expected) == expected


@pytest.mark.parametrize("opname", ["RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"])
@pytest.mark.parametrize("size", [(7, 9), (2, 3)])
def test_resize_runtime_size(opname, size):
    """The size fed at run time: the output shape is computed when the kernel runs."""
    shape = (1, 4, 5, 3)
    b = ModelBuilder()
    x = b.add_input(shape, np.uint8, scale=0.05, zero_point=128)
    s = b.add_input((2,), np.int32)
    y = b.add_tensor((1, 1, 1, 3), np.uint8, scale=0.05, zero_point=128)
    b.add_op(opname, [x, s], [y], align_corners=False, half_pixel_centers=True)
    b.mark_output(y)
    x_value = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    check_against_litert(b.build(), inputs=[x_value, np.array(size, np.int32)])
