"""Producers writing straight into their slice of a CONCATENATION (qrun/delegate/fusion.py,
ConcatSlices): CONV_2D / FULLY_CONNECTED through the GEMM's output rows, STRIDED_SLICE,
SLICE and RESIZE_NEAREST_NEIGHBOR through their copies. The concatenation copies only the
other inputs. Every model is compared bit for bit, on every ISA and with 2 threads, with the
same model where the concatenation's inputs are also graph outputs (so nothing is written
into the slices), and with LiteRT BUILTIN_REF within the convolutions' 1 LSB."""
from __future__ import annotations

import numpy as np
import pytest

from qrun import Interpreter
from qrun.delegate.partition import DelegateStep
from qrun.modelbuilder import ModelBuilder
from tests.delegate.util import ISAS, check_delegate, forced_isa, model_inputs
from tests.oracle import assert_same
from tests.ops.conv_util import ConvModel

pytestmark = pytest.mark.skipif(not ISAS, reason="qrun's C kernels are not built")

Q = dict(scale=0.05, zero_point=3)


def _copies(model: bytes, **kw) -> int:
    """The concatenation's nodes; every op listed on the C backend."""
    it = Interpreter(model_content=model, **kw)
    it.allocate_tensors()
    assert len(it._get_ops_details()) == len(it.model.subgraphs[0].operators)
    for d in it._get_ops_details():
        assert d["backend"] == "c", d
    return sum(op.opname == "CONCATENATION" for s in it._graphs[0].steps
               if isinstance(s, DelegateStep) for op in s.node_ops)


def _run(model: bytes, inputs, isa=None, threads=1):
    with forced_isa(isa):
        it = Interpreter(model_content=model, num_threads=threads)
        it.allocate_tensors()
    for d, x in zip(it.get_input_details(), inputs):
        it.set_tensor(d["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]).copy() for d in it.get_output_details()]


def _check(build, copies: int, exposed_copies: int, seed: int = 0) -> None:
    """build(expose) -> model bytes; expose: the concatenation's inputs also graph outputs
    (then never written into the output: `exposed_copies` copy nodes)."""
    model, exposed = build(False), build(True)
    assert _copies(model) == copies
    assert _copies(exposed) == exposed_copies
    check_delegate(model, seed=seed, lsb=1)
    inputs = model_inputs(model, seed)
    for isa in ISAS:
        expected = _run(exposed, inputs, isa)[-1:]
        assert_same(_run(model, inputs, isa)[-1:], expected, what="%s: slices vs copies" % isa)
        assert_same(_run(model, inputs, isa, threads=2)[-1:], expected,
                    what="%s, 2 threads" % isa)


def _convolutions(scheme, shape, kernels, seed, axis=3, extra_input=None):
    """x -> one CONV_2D per (kernel, stride, channels) -> CONCATENATION on `axis` (with an
    extra graph input of `extra_input` shape first when given)."""
    def build(expose):
        m = ConvModel(scheme, seed)
        b = m.b
        x = m.input(shape)
        parts = []
        if extra_input is not None:
            parts.append(b.add_input(extra_input, m.dtype, **m.in_q))
        for k, s, o in kernels:
            w = m.weights((o, k, k, shape[3]), axis=0)
            bias = m.bias(o)
            y = b.add_tensor((shape[0], -(-shape[1] // s), -(-shape[2] // s), o), m.dtype,
                             **m.in_q)
            b.add_op("CONV_2D", [x, w, bias], [y], padding="SAME", stride_h=s, stride_w=s,
                     fused_activation_function="NONE")
            parts.append(y)
        shapes = [tuple(b.tensors[t]["shape"]) for t in parts]
        out_shape = list(shapes[0])
        out_shape[axis] = sum(sh[axis] for sh in shapes)
        y = b.add_tensor(tuple(out_shape), m.dtype, **m.in_q)
        b.add_op("CONCATENATION", parts, [y], axis=axis, fused_activation_function="NONE")
        if expose:
            for t in parts:
                b.mark_output(t)
        b.mark_output(y)
        return b.build()
    return build


@pytest.mark.parametrize("scheme", ["int8", "uint8", "int8pc"])
def test_convolutions_write_into_the_concatenation(scheme):
    """IGEMM (3x3, stride 1 and 2 with tails of the 7-row tiles) and GEMM (1x1) outputs of
    odd widths (13, 24, 50 channels): no copy left."""
    build = _convolutions(scheme, (1, 9, 11, 20), [(3, 1, 13), (1, 1, 24), (3, 1, 50)], 1)
    _check(build, copies=0, exposed_copies=3, seed=1)


def test_convolutions_with_a_copied_input_first():
    build = _convolutions("int8", (2, 6, 7, 16), [(3, 1, 9), (1, 1, 33)], 2,
                          extra_input=(2, 6, 7, 5))
    _check(build, copies=1, exposed_copies=3, seed=2)


def test_convolutions_concatenated_on_another_axis_are_copied():
    """A GEMM writes whole pixels: on the width axis its output is not rows of its slice."""
    build = _convolutions("int8", (1, 6, 7, 16), [(3, 1, 8), (1, 1, 8)], 3, axis=2)
    _check(build, copies=2, exposed_copies=2, seed=3)


def _copy_producers(axis: int, dtype=np.int8, second_reader=False):
    """STRIDED_SLICE, SLICE and RESIZE_NEAREST_NEIGHBOR outputs and a graph input
    concatenated on `axis` of (1, 8, 10, C)."""
    def build(expose):
        b = ModelBuilder()
        x = b.add_input((1, 8, 10, 24), dtype, **Q)
        small = b.add_input((1, 4, 5, 24), dtype, **Q)
        other = b.add_input((1, 8, 10, 24), dtype, **Q)
        parts, extra = [], []
        begin, end = ([0, 0, 0, 3], [1, 8, 10, 20]) if axis == 3 else ([0, 0, 0, 0],
                                                                       [1, 8, 10, 24])
        shape = tuple(e - s for s, e in zip(begin, end))
        s1 = b.add_tensor(shape, dtype, **Q)
        b.add_op("STRIDED_SLICE", [x, b.add_constant(np.array(begin, np.int32)),
                                   b.add_constant(np.array(end, np.int32)),
                                   b.add_constant(np.array([1, 1, 1, 1], np.int32))], [s1],
                 begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0,
                 shrink_axis_mask=0)
        parts.append(s1)
        s2 = b.add_tensor(shape, dtype, **Q)
        b.add_op("SLICE", [other, b.add_constant(np.array(begin, np.int32)),
                           b.add_constant(np.array(shape, np.int32))], [s2])
        parts.append(s2)
        r = b.add_tensor((1, 8, 10, 24), dtype, **Q)
        b.add_op("RESIZE_NEAREST_NEIGHBOR", [small, b.add_constant(np.array([8, 10], np.int32))],
                 [r], align_corners=False, half_pixel_centers=False)
        if axis == 3:
            rs = b.add_tensor(shape, dtype, **Q)
            b.add_op("SLICE", [r, b.add_constant(np.array(begin, np.int32)),
                               b.add_constant(np.array(shape, np.int32))], [rs])
            r = rs
        parts.append(r)
        parts.append(x)   # a graph input: copied
        if second_reader:
            z = b.add_tensor(shape, dtype, **Q)
            b.add_op("MAXIMUM", [s1, s2], [z])
            extra.append(z)
        out = list(shape)
        out[axis] = sum((shape if p != x else (1, 8, 10, 24))[axis] for p in parts)
        y = b.add_tensor(tuple(out), dtype, **Q)
        b.add_op("CONCATENATION", parts, [y], axis=axis, fused_activation_function="NONE")
        for t in extra:
            b.mark_output(t)
        if expose:
            for t in parts[:-1]:
                b.mark_output(t)
        b.mark_output(y)
        return b.build()
    return build


@pytest.mark.parametrize("axis", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_copies_write_into_the_concatenation(axis, dtype):
    # on the channels the RESIZE feeds a SLICE (itself writing into the concatenation)
    _check(_copy_producers(axis, dtype), copies=1, exposed_copies=4, seed=axis)


def test_inputs_read_elsewhere_are_copied():
    _check(_copy_producers(3, second_reader=True), copies=3, exposed_copies=4, seed=5)


def test_fully_connected_writes_into_the_concatenation():
    def build(expose):
        m = ConvModel("int8", 6)
        b = m.b
        x = m.input((5, 40))
        w = m.weights((19, 40), axis=0)
        bias = m.bias(19)
        f = m.output((5, 19), 40)
        b.add_op("FULLY_CONNECTED", [x, w, bias], [f], fused_activation_function="NONE")
        q = dict(scale=float(b.tensors[f]["scale"][0]),
                 zero_point=int(b.tensors[f]["zero_point"][0]))
        other = b.add_input((5, 7), m.dtype, **q)
        y = b.add_tensor((5, 26), m.dtype, **q)
        b.add_op("CONCATENATION", [other, f], [y], axis=1, fused_activation_function="NONE")
        if expose:
            b.mark_output(f)
        b.mark_output(y)
        return b.build()
    _check(build, copies=1, exposed_copies=2, seed=6)


def test_preserved_tensors_are_copied():
    model = _copy_producers(2)(False)
    assert _copies(model) == 1
    assert _copies(model, experimental_preserve_all_tensors=True) == 4


def test_concatenation_into_a_folded_pad():
    """Convolutions written into a concatenation that a PAD folded into the next
    convolution reads: the concatenation lives from the first producer to that convolution."""
    def build(expose):
        m = ConvModel("int8", 7)
        b = m.b
        x = m.input((1, 8, 9, 16))
        parts = []
        for k, o in ((3, 12), (1, 20)):
            w = m.weights((o, k, k, 16), axis=0)
            bias = m.bias(o)
            t = b.add_tensor((1, 8, 9, o), m.dtype, **m.in_q)
            b.add_op("CONV_2D", [x, w, bias], [t], padding="SAME", stride_h=1, stride_w=1,
                     fused_activation_function="NONE")
            parts.append(t)
        y = b.add_tensor((1, 8, 9, 32), m.dtype, **m.in_q)
        b.add_op("CONCATENATION", parts, [y], axis=3, fused_activation_function="NONE")
        padded = b.add_tensor((1, 10, 11, 32), m.dtype, **m.in_q)
        b.add_op("PAD", [y, b.add_constant(np.array([[0, 0], [1, 1], [1, 1], [0, 0]],
                                                    np.int32))], [padded])
        w = m.weights((24, 3, 3, 32), axis=0)
        bias = m.bias(24)
        z = m.output((1, 4, 5, 24), 9 * 32)
        b.add_op("CONV_2D", [padded, w, bias], [z], padding="VALID", stride_h=2, stride_w=2,
                 fused_activation_function="NONE")
        if expose:
            for t in parts:
                b.mark_output(t)
        b.mark_output(z)
        return b.build()
    _check(build, copies=0, exposed_copies=2, seed=7)
    it = Interpreter(model_content=build(False))
    it.allocate_tensors()
    assert not any(op.opname == "PAD" for s in it._graphs[0].steps
                   if isinstance(s, DelegateStep) for op in s.node_ops)
