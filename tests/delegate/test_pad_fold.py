"""PADs folded into the CONV_2D / DEPTHWISE_CONV_2D after them (qrun/delegate/fusion.py,
PadFolds): the convolution reads the PAD's input through its taps' padding and the PAD keeps
no node. Folded or not, the output equals the same convolution on the input padded by numpy
(bit for bit, every ISA) and LiteRT BUILTIN_REF within the convolution's 1 LSB; the cases
that must not fold keep the PAD's node; every op is still listed on the C backend."""
from __future__ import annotations

import numpy as np
import pytest

from qrun import Interpreter
from qrun.delegate.backend import current_backend
from qrun.delegate.depthwise import row_kernel_lanes
from qrun.delegate.partition import DelegateStep
from tests.delegate.util import ISAS, check_delegate, forced_isa, model_inputs, run_delegate
from tests.oracle import assert_same, run_litert
from tests.ops.conv_util import ConvModel, out_dim

pytestmark = pytest.mark.skipif(not ISAS, reason="qrun's C kernels are not built")

HW = [[0, 0], [1, 1], [1, 1], [0, 0]]


def _model(kind, scheme, shape, pads, kernel, stride=1, dilation=1, padding="VALID", seed=0,
           channels=None, padded_input=False, pad_op="PAD", value=None, also_output=False,
           second_reader=False, in_zp=None):
    """x -> PAD (or PADV2 with `value`) -> kind -> y; with padded_input, the convolution alone
    on an input of the padded shape (the same weights: the same random draws)."""
    m = ConvModel(scheme, seed, in_zero_point=in_zp)
    b = m.b
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(shape, pads))
    extra = []
    if padded_input:
        xp = m.input(padded)
    else:
        x = m.input(shape)
        xp = b.add_tensor(padded, m.dtype, **m.in_q)
        ins = [x, b.add_constant(np.array(pads, np.int32))]
        if pad_op == "PADV2":
            ins.append(b.add_constant(np.array([value], m.dtype), **m.in_q))
        b.add_op(pad_op, ins, [xp])
        if also_output:
            extra.append(xp)
        if second_reader:
            z = b.add_tensor(padded, m.dtype, **m.in_q)
            b.add_op("MAX_POOL_2D", [xp], [z], padding="SAME", stride_h=1, stride_w=1,
                     filter_height=2, filter_width=2, fused_activation_function="NONE")
            extra.append(z)
    c = padded[3]
    oh = out_dim(padded[1], kernel, stride, dilation, padding)
    ow = out_dim(padded[2], kernel, stride, dilation, padding)
    options = dict(padding=padding, stride_h=stride, stride_w=stride, dilation_h_factor=dilation,
                   dilation_w_factor=dilation, fused_activation_function="NONE")
    if kind == "CONV_2D":
        o = channels or 24
        w = m.weights((o, kernel, kernel, c), axis=0)
        depth = kernel * kernel * c
    else:
        o = c * (channels or 1)
        w = m.weights((1, kernel, kernel, o), axis=3)
        options["depth_multiplier"] = channels or 1
        depth = kernel * kernel
    bias = m.bias(o)
    y = m.output((shape[0], oh, ow, o), depth)
    for t in extra:
        b.mark_output(t)
    return m.build(kind, [xp, w, bias], y, **options)


def _pad_nodes(model: bytes, **kw) -> int:
    it = Interpreter(model_content=model, **kw)
    it.allocate_tensors()
    details = it._get_ops_details()
    assert len(details) == len(it.model.subgraphs[0].operators)
    for d in details:
        assert d["backend"] == "c", d
    return sum(op.opname in ("PAD", "PADV2") for s in it._graphs[0].steps
               if isinstance(s, DelegateStep) for op in s.node_ops)


def _check(args, kw, folded: bool, seed: int = 0) -> None:
    model = _model(*args, **kw)
    assert (_pad_nodes(model) == 0) == folded
    ours = check_delegate(model, seed=seed, lsb=1)
    # the PAD done by numpy, then the convolution alone: the same bytes
    x = model_inputs(model, seed)[0]
    zp = _model(*args, **kw, padded_input=True)
    fill = kw.get("value") if kw.get("pad_op") == "PADV2" else None
    pads = args[3]
    it = Interpreter(model_content=zp)
    zero_point = it.get_input_details()[0]["quantization"][1]
    xp = np.pad(x, pads, constant_values=zero_point if fill is None else fill)
    for isa in ISAS:
        assert_same(run_delegate(zp, [xp], isa)[0:1], ours[-1:],
                    what="%s: folded vs numpy PAD + convolution" % isa)
    with forced_isa(ISAS[-1]):
        it = Interpreter(model_content=model, num_threads=2)
        it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    assert_same([it.get_tensor(it.get_output_details()[-1]["index"])], ours[-1:],
                what="2 threads")


FOLDED = [
    # yolov8n's downsampling: PAD 1 and a 3x3 stride-2 VALID convolution
    (("CONV_2D", "int8", (1, 11, 13, 17), HW, 3, 2), {}),
    (("CONV_2D", "uint8", (1, 9, 10, 20), [[0, 0], [0, 1], [2, 0], [0, 0]], 3), {}),
    (("CONV_2D", "int8pc", (2, 8, 7, 16), [[0, 0], [1, 0], [0, 1], [0, 0]], 3, 2, 1, "SAME"),
     {"channels": 33}),
    (("CONV_2D", "int8", (1, 12, 11, 19), [[0, 0], [3, 3], [3, 3], [0, 0]], 5, 1, 2), {}),
    (("CONV_2D", "int8", (1, 6, 6, 64), HW, 3, 1, 1, "VALID"), {"in_zp": -128}),
    (("CONV_2D", "uint8", (1, 6, 6, 64), HW, 3, 1, 1, "VALID"), {"in_zp": 255}),
    (("CONV_2D", "int8", (1, 10, 9, 24), HW, 3), {"pad_op": "PADV2", "value": None}),
    (("DEPTHWISE_CONV_2D", "int8", (1, 9, 11, 40), HW, 3), {}),
    (("DEPTHWISE_CONV_2D", "uint8", (1, 12, 10, 64), HW, 3, 2), {}),
    (("DEPTHWISE_CONV_2D", "int8pc", (1, 7, 8, 33), [[0, 0], [2, 2], [1, 2], [0, 0]], 5), {}),
    (("DEPTHWISE_CONV_2D", "int8", (1, 8, 9, 20), HW, 3), {"channels": 2}),
]


@pytest.mark.parametrize("case", range(len(FOLDED)))
def test_pad_folded_into_convolution(case):
    args, kw = FOLDED[case]
    kw = dict(kw)
    if kw.get("pad_op") == "PADV2":
        # PADV2 with the input's zero point as its value folds too
        zp = Interpreter(model_content=_model(*args, padded_input=True)).get_input_details()
        kw["value"] = int(zp[0]["quantization"][1])
    _check(args, kw, folded=True, seed=case)


NOT_FOLDED = [
    # a window beyond the input (3 > 3 - 1), a 1x1 convolution (no window to pad)
    (("CONV_2D", "int8", (1, 9, 9, 16), [[0, 0], [3, 3], [0, 0], [0, 0]], 3), {}),
    (("CONV_2D", "int8", (1, 6, 7, 20), HW, 1), {}),
    # padded channels or batch
    (("CONV_2D", "int8", (1, 6, 7, 20), [[0, 0], [1, 1], [1, 1], [0, 3]], 3), {}),
    (("CONV_2D", "uint8", (1, 6, 7, 20), [[1, 0], [1, 1], [1, 1], [0, 0]], 3), {}),
    # PADV2 with another value than the zero point
    (("CONV_2D", "int8", (1, 10, 9, 24), HW, 3), {"pad_op": "PADV2", "value": 77}),
    # the padded tensor is a graph output, or read by another op
    (("CONV_2D", "int8", (1, 8, 9, 24), HW, 3, 2), {"also_output": True}),
    (("DEPTHWISE_CONV_2D", "int8", (1, 8, 9, 40), HW, 3), {"second_reader": True}),
    # where the fold costs more than the PAD: the fused window taps of few input channels
    (("CONV_2D", "int8", (1, 17, 19, 3), HW, 3, 2), {"channels": 16}),
]


@pytest.mark.parametrize("case", range(len(NOT_FOLDED)))
def test_pad_not_folded(case):
    args, kw = NOT_FOLDED[case]
    _check(args, kw, folded=False, seed=10 + case)


def test_pad_not_folded_into_the_depthwise_row_kernel():
    # Few channels: the builds with a depthwise row kernel keep the PAD (the fold costs more
    # than the PAD there); the scalar build has none and folds.
    backend = current_backend()
    row_kernel = row_kernel_lanes(backend.dw_row_cr, 8, 1, 1, 3, 3) > 0
    _check(("DEPTHWISE_CONV_2D", "uint8", (1, 13, 15, 8), HW, 3), {}, folded=not row_kernel,
           seed=18)


def test_preserved_tensors_keep_the_pad():
    model = _model("CONV_2D", "int8", (1, 8, 9, 24), HW, 3, 2)
    assert _pad_nodes(model) == 0
    assert _pad_nodes(model, experimental_preserve_all_tensors=True) > 0


def test_pad_before_a_numpy_convolution_is_not_folded():
    """The convolution runs on numpy (its bias is an input, not a constant): another
    partition, so the PAD runs in C and writes its output."""
    m = ConvModel("int8", 3)
    b = m.b
    x = m.input((1, 7, 8, 16))
    xp = b.add_tensor((1, 9, 10, 16), m.dtype, **m.in_q)
    b.add_op("PAD", [x, b.add_constant(np.array(HW, np.int32))], [xp])
    w = m.weights((8, 3, 3, 16), axis=0)
    bias = b.add_input((8,), np.int32, scale=m.in_q["scale"] * float(m.w_scales[0]),
                       zero_point=0)
    y = m.output((1, 7, 8, 8), 144)
    model = m.build("CONV_2D", [xp, w, bias], y, padding="VALID", stride_h=1, stride_w=1,
                    fused_activation_function="NONE")
    it = Interpreter(model_content=model)
    it.allocate_tensors()
    backends = [d["backend"] for d in it._get_ops_details()]
    assert backends == ["c", "numpy"]
    inputs = model_inputs(model, 3)
    theirs = run_litert(model, inputs)
    for isa in ISAS:
        assert_same(run_delegate(model, inputs, isa, expect_backend=None), theirs,
                    what="%s vs LiteRT" % isa)
