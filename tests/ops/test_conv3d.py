"""CONV_3D and CONV_3D_TRANSPOSE (float32) against LiteRT BUILTIN_REF: odd sizes, batch 2,
strides, dilations, both paddings, bias or none, fused activations."""
from __future__ import annotations

import numpy as np
import pytest

from qrun.modelbuilder import ModelBuilder
from tests.oracle import check_against_litert

GEOMETRIES = [  # input NDHW C, filter DHW, Cout, strides DHW, dilations DHW
    ((1, 5, 6, 7, 3), (3, 3, 3), 4, (1, 1, 1), (1, 1, 1)),
    ((2, 4, 5, 5, 2), (2, 3, 1), 5, (2, 1, 2), (1, 1, 1)),
    ((1, 7, 6, 5, 1), (3, 2, 3), 3, (1, 2, 1), (2, 1, 2)),
    ((1, 3, 3, 3, 4), (1, 1, 1), 2, (1, 1, 1), (1, 1, 1)),
]


def _options(padding, strides, dilations, activation):
    return dict(options_type="Conv3DOptions", padding=padding, stride_d=strides[0],
                stride_h=strides[1], stride_w=strides[2], dilation_d_factor=dilations[0],
                dilation_h_factor=dilations[1], dilation_w_factor=dilations[2],
                fused_activation_function=activation)


def _out(size, k, s, d, padding):
    eff = (k - 1) * d + 1
    return (size + s - 1) // s if padding == "SAME" else (size + s - eff) // s


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("bias,activation", [(True, "NONE"), (False, "RELU"),
                                             (True, "RELU6"), (True, "RELU_N1_TO_1")])
def test_conv3d(geometry, padding, bias, activation):
    shape, k, cout, strides, dilations = geometry
    rng = np.random.default_rng(cout)
    out = (shape[0],) + tuple(_out(shape[1 + i], k[i], strides[i], dilations[i], padding)
                              for i in range(3)) + (cout,)
    b = ModelBuilder()
    ins = [b.add_input(shape, np.float32),
           b.add_constant(rng.normal(size=k + (shape[4], cout)).astype(np.float32))]
    if bias:
        ins.append(b.add_constant(rng.normal(size=cout).astype(np.float32)))
    y = b.mark_output(b.add_tensor(out, np.float32))
    b.add_op("CONV_3D", ins, [y], **_options(padding, strides, dilations, activation))
    check_against_litert(b.build())


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("bias,activation", [(True, "NONE"), (False, "RELU"),
                                             (True, "RELU6")])
def test_conv3d_transpose(geometry, padding, bias, activation):
    out_shape, k, cin, strides, dilations = geometry
    cout = out_shape[4]
    rng = np.random.default_rng(cin)
    x = (out_shape[0],) + tuple(_out(out_shape[1 + i], k[i], strides[i], dilations[i], padding)
                                for i in range(3)) + (cin,)
    b = ModelBuilder()
    ins = [b.add_constant(np.asarray(out_shape, np.int32)),
           b.add_constant(rng.normal(size=k + (cout, cin)).astype(np.float32)),
           b.add_input(x, np.float32)]
    if bias:
        ins.append(b.add_constant(rng.normal(size=cout).astype(np.float32)))
    y = b.mark_output(b.add_tensor(out_shape, np.float32))
    b.add_op("CONV_3D_TRANSPOSE", ins, [y], **_options(padding, strides, dilations, activation))
    check_against_litert(b.build())


def test_conv3d_transpose_output_shape_at_run_time():
    rng = np.random.default_rng(0)
    b = ModelBuilder()
    ins = [b.add_input((5,), np.int32),
           b.add_constant(rng.normal(size=(2, 3, 2, 4, 3)).astype(np.float32)),
           b.add_input((1, 3, 3, 4, 3), np.float32)]
    y = b.mark_output(b.add_tensor((1, 6, 5, 8, 4), np.float32))
    b.add_op("CONV_3D_TRANSPOSE", ins, [y], **_options("SAME", (2, 2, 2), (1, 1, 1), "NONE"))
    check_against_litert(b.build(), inputs=[
        np.array([1, 6, 5, 8, 4], np.int32), rng.normal(size=(1, 3, 3, 4, 3)).astype(np.float32)])
