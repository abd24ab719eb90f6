"""Writes the project's demo models into models/: `python models/make_models.py`.

qrun_demo_mobilenet_int8.tflite: a small MobileNet-v2-style int8 classifier on a 96x96x3
image: a stride-2 CONV_2D stem, four inverted-residual blocks (1x1 expand, 3x3
DEPTHWISE_CONV_2D, 1x1 linear projection, ADD on the stride-1 blocks; RELU6 fused), a 1x1
head, MEAN over the image, FULLY_CONNECTED to 100 classes and SOFTMAX. Weights are seeded
random (He initialization), int8 symmetric per channel; biases int32.

qrun_demo_mobilenet_int8_floatio.tflite: the same network with float32 input and output
(QUANTIZE at the start, DEQUANTIZE at the end).

Each activation's scale is calibrated layer by layer: the float network runs in numpy on a
calibration batch with the already-quantized weights and fake-quantized activations, so that
the int8 activations cover their range without saturating. The bytes are the same on every run.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple, Tuple

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qrun.modelbuilder import ModelBuilder  # noqa: E402

INPUT_SHAPE = (1, 96, 96, 3)
NUM_CLASSES = 100
# (expansion, output channels, stride) of the inverted-residual blocks after a 16-channel stem.
BLOCKS = ((3, 24, 2), (3, 24, 1), (3, 32, 2), (3, 32, 1))
HEAD_CHANNELS = 128
INPUT_SCALE, INPUT_ZERO_POINT = 1.0 / 128, 0     # int8 input covering [-1, 1)
SEED = 20240601
CALIBRATION_IMAGES = 8


class Act(NamedTuple):
    """A quantized activation tensor, with its (fake-quantized) calibration values."""
    tensor: int
    values: np.ndarray
    scale: float
    zero_point: int


def _round_scale(scale: float) -> float:
    """Four significant digits, so that BLAS rounding differences cannot change the bytes."""
    return float("%.4g" % scale)


def activation_params(values: np.ndarray, relu6: bool) -> Tuple[float, int]:
    """int8 asymmetric (scale, zero point) of a range that includes 0, as TFLite's converter."""
    lo, hi = min(float(values.min()), 0.0), max(float(values.max()), 0.0)
    if relu6:
        lo, hi = 0.0, min(hi, 6.0)
    scale = _round_scale(max(hi - lo, 1e-6) / 255.0)
    zero_point = int(np.clip(np.round(-128 - lo / scale), -128, 127))
    return scale, zero_point


def fake_quantize(values: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    q = np.clip(np.round(values / scale) + zero_point, -128, 127)
    return (q - zero_point) * scale


def quantize_weights(w: np.ndarray, axis: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """int8 symmetric per-channel weights along `axis`: (int8 values, float32 scales, the
    float weights they represent)."""
    other = tuple(a for a in range(w.ndim) if a != axis)
    scales = np.maximum(np.abs(w).max(axis=other), 1e-8) / 127.0
    scales = np.array([_round_scale(s) for s in scales], np.float32)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.round(w / scales.reshape(shape)), -127, 127).astype(np.int8)
    return q, scales, q * scales.reshape(shape).astype(np.float64)


def _same_padding(size: int, k: int, stride: int) -> Tuple[int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return out, total // 2


def conv_float(x: np.ndarray, w: np.ndarray, stride: int, depthwise: bool) -> np.ndarray:
    """NHWC convolution with SAME padding; w is OHWI (conv) or 1HWC (depthwise)."""
    n, h, wd, c = x.shape
    k = w.shape[1]
    oh, pt = _same_padding(h, k, stride)
    ow, pl = _same_padding(wd, k, stride)
    xp = np.zeros((n, h + k, wd + k, c), x.dtype)
    xp[:, pt:pt + h, pl:pl + wd] = x
    out = np.zeros((n, oh, ow, w.shape[3] if depthwise else w.shape[0]))
    for dy in range(k):
        for dx in range(k):
            patch = xp[:, dy:dy + stride * (oh - 1) + 1:stride,
                       dx:dx + stride * (ow - 1) + 1:stride]
            out += patch * w[0, dy, dx] if depthwise else patch @ w[:, dy, dx, :].T
    return out


class DemoNet:
    """Adds layers to a ModelBuilder while running their float counterparts for calibration."""

    def __init__(self, builder: ModelBuilder, rng: np.random.Generator):
        self.b = builder
        self.rng = rng

    def _output(self, name: str, values: np.ndarray, relu6: bool) -> Act:
        scale, zp = activation_params(values, relu6)
        t = self.b.add_tensor((1,) + values.shape[1:], np.int8, scale=scale, zero_point=zp,
                              name=name)
        return Act(t, fake_quantize(values, scale, zp), scale, zp)

    def conv(self, x: Act, name: str, cout: int, k: int, stride: int, relu6: bool,
             depthwise: bool = False) -> Act:
        cin = x.values.shape[3]
        if depthwise:
            w = self.rng.normal(0.0, np.sqrt(2.0 / (k * k)), (1, k, k, cin))
            wq, ws, wf = quantize_weights(w, axis=3)
        else:
            w = self.rng.normal(0.0, np.sqrt(2.0 / (k * k * cin)), (cout, k, k, cin))
            wq, ws, wf = quantize_weights(w, axis=0)
        bias_scale = x.scale * ws.astype(np.float64)
        bq = np.round(self.rng.normal(0.0, 0.05, len(ws)) / bias_scale).astype(np.int32)
        y = conv_float(x.values, wf, stride, depthwise) + bq * bias_scale
        if relu6:
            y = np.clip(y, 0.0, 6.0)
        out = self._output(name, y, relu6)
        wt = self.b.add_constant(wq, scale=ws, zero_point=0, quantized_dimension=3 if depthwise
                                 else 0, name=name + "/weights")
        bt = self.b.add_constant(bq, scale=bias_scale.astype(np.float32), zero_point=0,
                                 name=name + "/bias")
        options = dict(padding="SAME", stride_w=stride, stride_h=stride,
                       fused_activation_function="RELU6" if relu6 else "NONE",
                       dilation_w_factor=1, dilation_h_factor=1)
        if depthwise:
            options["depth_multiplier"] = 1
        self.b.add_op("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", [x.tensor, wt, bt],
                      [out.tensor], **options)
        return out

    def add(self, a: Act, b: Act, name: str) -> Act:
        out = self._output(name, a.values + b.values, relu6=False)
        self.b.add_op("ADD", [a.tensor, b.tensor], [out.tensor], fused_activation_function="NONE")
        return out

    def inverted_residual(self, x: Act, name: str, expansion: int, cout: int, stride: int) -> Act:
        cin = x.values.shape[3]
        h = self.conv(x, name + "/expand", cin * expansion, 1, 1, relu6=True)
        h = self.conv(h, name + "/depthwise", cin * expansion, 3, stride, relu6=True,
                      depthwise=True)
        h = self.conv(h, name + "/project", cout, 1, 1, relu6=False)
        return self.add(x, h, name + "/add") if stride == 1 and cin == cout else h

    def mean(self, x: Act, name: str) -> Act:
        out = self._output(name, x.values.mean(axis=(1, 2)), relu6=False)
        axes = self.b.add_constant(np.array([1, 2], np.int32), name=name + "/axes")
        self.b.add_op("MEAN", [x.tensor, axes], [out.tensor], keep_dims=False)
        return out

    def fully_connected(self, x: Act, name: str, units: int, logit_std: float = 3.0) -> Act:
        w = self.rng.normal(0.0, 1.0, (units, x.values.shape[1]))
        # Spread the logits so that the softmax has a visible top-5.
        w *= logit_std / max(float(np.std(x.values @ w.T)), 1e-6)
        wq, ws, wf = quantize_weights(w, axis=0)
        bias_scale = x.scale * ws.astype(np.float64)
        bq = np.zeros(units, np.int32)
        out = self._output(name, x.values @ wf.T, relu6=False)
        wt = self.b.add_constant(wq, scale=ws, zero_point=0, quantized_dimension=0,
                                 name=name + "/weights")
        bt = self.b.add_constant(bq, scale=bias_scale.astype(np.float32), zero_point=0,
                                 name=name + "/bias")
        self.b.add_op("FULLY_CONNECTED", [x.tensor, wt, bt], [out.tensor],
                      fused_activation_function="NONE", keep_num_dims=False)
        return out

    def softmax(self, x: Act, name: str) -> Act:
        # TFLite requires int8 softmax outputs to have scale 1/256 and zero point -128.
        t = self.b.add_tensor((1,) + x.values.shape[1:], np.int8,
                              scale=1.0 / 256, zero_point=-128, name=name)
        self.b.add_op("SOFTMAX", [x.tensor], [t], beta=1.0)
        e = np.exp(x.values - x.values.max(axis=-1, keepdims=True))
        return Act(t, e / e.sum(axis=-1, keepdims=True), 1.0 / 256, -128)


def calibration_images(rng: np.random.Generator) -> np.ndarray:
    """Smooth random images in [-1, 1] (noise blurred by 4x4 upsampling), on the input grid."""
    n, (_, h, w, c) = CALIBRATION_IMAGES, INPUT_SHAPE
    coarse = rng.uniform(-1.0, 1.0, (n, h // 4, w // 4, c))
    images = coarse.repeat(4, axis=1).repeat(4, axis=2) + rng.normal(0.0, 0.1, (n, h, w, c))
    return fake_quantize(np.clip(images, -1.0, 1.0), INPUT_SCALE, INPUT_ZERO_POINT)


def build_demo(float_io: bool) -> bytes:
    rng = np.random.default_rng(SEED)
    b = ModelBuilder("qrun demo: MobileNet-v2-style int8 classifier, seeded random weights")
    images = calibration_images(rng)
    if float_io:
        fin = b.add_input(INPUT_SHAPE, np.float32, name="input")
        xin = b.add_tensor(INPUT_SHAPE, np.int8, scale=INPUT_SCALE, zero_point=INPUT_ZERO_POINT,
                           name="input/quantized")
        b.add_op("QUANTIZE", [fin], [xin])
    else:
        xin = fin = b.add_input(INPUT_SHAPE, np.int8, scale=INPUT_SCALE,
                                zero_point=INPUT_ZERO_POINT, name="input")
    net = DemoNet(b, rng)
    x = Act(xin, images, INPUT_SCALE, INPUT_ZERO_POINT)
    x = net.conv(x, "stem", 16, 3, 2, relu6=True)
    for i, (expansion, cout, stride) in enumerate(BLOCKS, 1):
        x = net.inverted_residual(x, "block%d" % i, expansion, cout, stride)
    x = net.conv(x, "head", HEAD_CHANNELS, 1, 1, relu6=True)
    x = net.mean(x, "pool")
    x = net.fully_connected(x, "logits", NUM_CLASSES)
    y = net.softmax(x, "probabilities" if float_io else "output")
    if float_io:
        out = b.add_tensor(b.tensors[y.tensor]["shape"], np.float32, name="output")
        b.add_op("DEQUANTIZE", [y.tensor], [out])
    else:
        out = y.tensor
    b.mark_output(out)
    b.set_signature("serving_default", {"input": fin}, {"output": out})
    return b.build()


MODELS = {
    "qrun_demo_mobilenet_int8.tflite": lambda: build_demo(float_io=False),
    "qrun_demo_mobilenet_int8_floatio.tflite": lambda: build_demo(float_io=True),
}


def main() -> None:
    out_dir = Path(__file__).resolve().parent
    for name, build in MODELS.items():
        data = build()
        (out_dir / name).write_bytes(data)
        print("wrote %s (%d bytes)" % (out_dir / name, len(data)))


if __name__ == "__main__":
    main()
