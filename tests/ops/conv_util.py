"""Builders of one-op convolution-family models for the op tests (conv, depthwise, FC,
transpose conv): random weights, biases and quantization parameters per scheme.

Schemes: "int8" (per-tensor int8 weights), "int8pc" (per-channel), "uint8" (legacy asymmetric),
"int16" (16x8: int16 activations, per-channel int8 weights, int64 bias), "int16b32" (16x8 with
an int32 bias, declared by the quantized_bias_type option), "float32",
"hybrid" / "hybridpc" (float32 activations, int8 weights per tensor / per channel).
"""
from __future__ import annotations

import numpy as np

from qrun.modelbuilder import ModelBuilder
from tests.oracle import check_against_litert

ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


def check_exact(model: bytes, seed: int = 0, **kw):
    """check_against_litert with float outputs bit-exact too (the conv family sums float32
    in the reference kernels' order)."""
    return check_against_litert(model, seed=seed, atol_float=0.0, **kw)


def out_dim(size: int, k: int, stride: int, dilation: int, padding: str) -> int:
    if padding == "SAME":
        return (size + stride - 1) // stride
    return (size + stride - (k - 1) * dilation - 1) // stride


def act_dtype(scheme: str):
    return {"int8": np.int8, "int8pc": np.int8, "uint8": np.uint8, "int16": np.int16,
            "int16b32": np.int16}.get(scheme, np.float32)


class ConvModel:
    """Adds the input, weights, bias and output of one op to a ModelBuilder.

    `depth` is the reduction length of one output (for the output scale), `channel_axis` the
    weights' output-channel axis (per-channel scales and bias length)."""

    def __init__(self, scheme: str, seed: int, in_zero_point=None):
        self.scheme = scheme
        self.rng = np.random.default_rng(seed)
        self.b = ModelBuilder()
        self.dtype = act_dtype(scheme)
        rng = self.rng
        if self.dtype == np.float32:
            self.in_q = {}
        elif self.dtype == np.int16:
            self.in_q = dict(scale=float(rng.uniform(0.5, 2.0)) / 1000.0, zero_point=0)
        else:
            info = np.iinfo(self.dtype)
            zp = (int(rng.integers(info.min, info.max + 1)) if in_zero_point is None
                  else in_zero_point)
            self.in_q = dict(scale=float(rng.uniform(0.01, 0.05)), zero_point=zp)

    def input(self, shape):
        return self.b.add_input(shape, self.dtype, **self.in_q)

    def weights(self, shape, axis: int):
        rng, s = self.rng, self.scheme
        channels = shape[axis]
        if s == "float32":
            self.w_scales = None
            return self.b.add_constant(rng.uniform(-1, 1, shape).astype(np.float32))
        if s == "uint8":
            data = rng.integers(0, 256, shape).astype(np.uint8)
            self.w_scales = np.array([rng.uniform(0.002, 0.02)], np.float32)
            zp = int(rng.choice([0, 255, int(rng.integers(1, 255))]))
            return self.b.add_constant(data, scale=self.w_scales, zero_point=zp)
        data = rng.integers(-127, 128, shape).astype(np.int8)
        per_channel = s.endswith("pc") or self.dtype == np.int16
        n = channels if per_channel else 1
        self.w_scales = rng.uniform(0.002, 0.02, n).astype(np.float32)
        return self.b.add_constant(data, scale=self.w_scales, zero_point=np.zeros(n, np.int64),
                                   quantized_dimension=axis if per_channel else 0)

    def bias(self, channels: int, zero: bool = False):
        """A random bias (quantized with scale input_scale * weight_scale), or zeros."""
        rng = self.rng
        if self.dtype == np.float32:
            data = rng.uniform(-1, 1, channels).astype(np.float32)
            return self.b.add_constant(data * (not zero))
        scales = (np.float32(self.in_q["scale"]) * np.broadcast_to(self.w_scales, (channels,))
                  if len(self.w_scales) > 1 else np.float32(self.in_q["scale"]) * self.w_scales)
        if self.scheme == "int16":
            data = rng.integers(-(1 << 20), 1 << 20, channels).astype(np.int64)
        else:
            data = rng.integers(-(1 << 14), 1 << 14, channels).astype(np.int32)
        if zero:
            data = np.zeros_like(data)
        return self.b.add_constant(data, scale=scales.astype(np.float32),
                                   zero_point=np.zeros(len(scales), np.int64))

    def output(self, shape, depth: int, out_zero_point=None):
        rng = self.rng
        if self.dtype == np.float32:
            return self.b.add_tensor(shape, np.float32)
        w_scale = float(np.mean(self.w_scales))
        # Integer products have a spread of about 74 * 74 * sqrt(depth) (uint8 with a zero
        # point at an end: more); aim for outputs spread over about half of the int8 range.
        spread = self.in_q["scale"] * w_scale * 5500.0 * np.sqrt(depth)
        if self.dtype == np.int16:
            spread = self.in_q["scale"] * w_scale * 74.0 * 600.0 * np.sqrt(depth)
            return self.b.add_tensor(shape, np.int16, scale=spread / 15000.0, zero_point=0)
        info = np.iinfo(self.dtype)
        zp = (int(rng.integers(info.min // 2, info.max // 2 + 1)) if out_zero_point is None
              else out_zero_point)
        return self.b.add_tensor(shape, self.dtype, scale=spread / 60.0, zero_point=zp)

    def build(self, op: str, inputs, output, **options) -> bytes:
        if self.scheme == "int16b32":
            options["quantized_bias_type"] = 2   # TensorType INT32
        self.b.add_op(op, inputs, [output], **options)
        self.b.mark_output(output)
        return self.b.build()


def check_ops_in_model(path, opnames, seed: int = 0) -> int:
    """Runs each `opnames` operator of a real model on qrun's kernel, fed with the inputs
    LiteRT BUILTIN_REF computed for it, and compares with LiteRT's output of that operator
    (bit-exact, floats included). Returns the number of operators checked."""
    from qrun.interpreter.loader import load_model
    from qrun.interpreter.registry import find_kernel
    from tests.oracle import assert_same, litert, random_inputs

    lite = litert()
    it = lite.Interpreter(model_path=str(path), experimental_preserve_all_tensors=True,
                          experimental_op_resolver_type=lite.OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), random_inputs(it.get_input_details(), seed)):
        it.set_tensor(d["index"], x)
    it.invoke()
    checked = 0
    for op in load_model(path=str(path)).subgraphs[0].operators:
        if op.opname not in opnames:
            continue
        for t in op.inputs:
            if t is not None:
                t.data = t.constant if t.is_constant else it.get_tensor(t.index)
                t.shape = t.data.shape
        for t in op.outputs:
            t.shape = tuple(it.get_tensor(t.index).shape)
        ours = find_kernel(op).fn(op)
        assert_same([ours], [it.get_tensor(op.outputs[0].index)], atol_float=0.0,
                    what="%s operator %d %s" % (path.name, op.index, op.opname))
        checked += 1
    return checked


def scale_product_model(op: str, dtype, case) -> tuple:
    """A one-output model whose accumulator is 127 * a + b, and its input: with the scales of
    `case` = (input, weight, output scale, a, b), the output differs depending on whether
    input_scale * weight_scale is taken in float32 or in double before the division.
    Returns (model bytes, input array)."""
    sx, sw, so, a, b = case
    mb = ModelBuilder()
    zx = 128 if dtype == np.uint8 else 0
    wdt = np.uint8 if dtype == np.uint8 else np.int8
    iq = dict(scale=sx, zero_point=zx)
    oq = dict(scale=so, zero_point=zx)
    wq = dict(scale=np.array([sw], np.float32), zero_point=np.zeros(1, np.int64))
    taps = np.array([127, 1], wdt)
    x_shape = {"CONV_2D": [1, 1, 1, 2], "DEPTHWISE_CONV_2D": [1, 1, 2, 1],
               "TRANSPOSE_CONV": [1, 1, 1, 2]}.get(op, [1, 2])
    x = mb.add_input(x_shape, dtype, **iq)
    bias = mb.add_constant(np.zeros(1, np.int32), scale=np.float32(sx) * np.float32(sw),
                           zero_point=0)
    if op == "BATCH_MATMUL":
        y = mb.add_tensor([1, 1], dtype, **oq)
        w = mb.add_constant(taps.reshape(2, 1), scale=sw, zero_point=0)
        mb.add_op(op, [x, w], [y])
    elif op == "FULLY_CONNECTED":
        y = mb.add_tensor([1, 1], dtype, **oq)
        mb.add_op(op, [x, mb.add_constant(taps.reshape(1, 2), **wq), bias], [y])
    else:
        y = mb.add_tensor([1, 1, 1, 1], dtype, **oq)
        geometry = dict(padding="VALID", stride_w=1, stride_h=1)
        if op == "DEPTHWISE_CONV_2D":
            w = mb.add_constant(taps.reshape(1, 1, 2, 1), quantized_dimension=3, **wq)
            mb.add_op(op, [x, w, bias], [y], depth_multiplier=1, **geometry)
        elif op == "CONV_2D":
            mb.add_op(op, [x, mb.add_constant(taps.reshape(1, 1, 1, 2), **wq), bias], [y],
                      **geometry)
        else:
            size = mb.add_constant(np.array([1, 1, 1, 1], np.int32))
            mb.add_op(op, [size, mb.add_constant(taps.reshape(1, 1, 1, 2), **wq), x, bias], [y],
                      **geometry)
    mb.mark_output(y)
    return mb.build(), (np.array([a, b]) + zx).astype(dtype).reshape(x_shape)
