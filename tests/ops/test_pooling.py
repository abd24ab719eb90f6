"""AVERAGE_POOL_2D, MAX_POOL_2D, L2_POOL_2D against LiteRT BUILTIN_REF."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from qrun.interpreter.kernels.common import out_size
from qrun.interpreter.loader import load_model
from qrun.interpreter.registry import find_kernel
from qrun.modelbuilder import ModelBuilder
from tests.oracle import assert_same, check_against_litert, litert, random_inputs, shared_model

# dtype -> (scale, zero points to try)
QUANT = {
    np.int8: (0.05, (-128, 127, 3)),
    np.uint8: (0.05, (0, 255, 128)),
    np.int16: (0.002, (0,)),
    np.float32: (None, (None,)),
}
ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
# (filter h, filter w, stride h, stride w)
WINDOWS = [(2, 2, 2, 2), (3, 3, 1, 1), (3, 2, 2, 1), (1, 1, 1, 1), (3, 3, 3, 3), (4, 5, 2, 3)]
SHAPES = [(1, 7, 9, 3), (2, 8, 8, 5)]


def pool_model(opname, shape, dtype, window, padding, activation="NONE", zero_point=None):
    fh, fw, sh, sw = window
    scale = QUANT[dtype][0]
    n, h, w, c = shape
    pad = 0 if padding == "SAME" else 1
    out_shape = (n, out_size(pad, h, fh, sh), out_size(pad, w, fw, sw), c)
    b = ModelBuilder()
    x = b.add_input(shape, dtype, scale=scale, zero_point=zero_point)
    y = b.add_tensor(out_shape, dtype, scale=scale, zero_point=zero_point)
    b.add_op(opname, [x], [y], padding=padding, stride_h=sh, stride_w=sw, filter_height=fh,
             filter_width=fw, fused_activation_function=activation)
    b.mark_output(y)
    return b.build()


@pytest.mark.parametrize("opname", ["AVERAGE_POOL_2D", "MAX_POOL_2D"])
@pytest.mark.parametrize("dtype", list(QUANT))
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("shape", SHAPES)
def test_pool_windows(opname, dtype, padding, window, shape):
    zp = QUANT[dtype][1][0]
    check_against_litert(pool_model(opname, shape, dtype, window, padding, zero_point=zp),
                         seed=hash((window, shape)) % 1000)


@pytest.mark.parametrize("opname", ["AVERAGE_POOL_2D", "MAX_POOL_2D"])
@pytest.mark.parametrize("dtype,zero_point", [(d, z) for d, (_, zs) in QUANT.items() for z in zs])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_pool_activations_and_zero_points(opname, dtype, zero_point, activation):
    for i, padding in enumerate(("SAME", "VALID")):
        model = pool_model(opname, (2, 6, 5, 7), dtype, (3, 3, 2, 2), padding, activation,
                           zero_point)
        check_against_litert(model, seed=i)


def test_average_pool_global():
    """MobileNet's final pool: the window is the whole image."""
    check_against_litert(pool_model("AVERAGE_POOL_2D", (1, 7, 7, 33), np.uint8, (7, 7, 2, 2),
                                    "VALID", zero_point=0))


def test_average_pool_rounding_ties():
    """Averages landing exactly on .5 round away from zero, for both signs."""
    shape = (1, 2, 2, 4)
    x = np.array([[[[-1, 1, -3, 3], [0, 0, 0, 0]], [[0, 0, 0, 0], [1, -1, 1, -1]]]], np.int8)
    check_against_litert(pool_model("AVERAGE_POOL_2D", shape, np.int8, (2, 2, 1, 1), "SAME",
                                    zero_point=0), inputs=[x])


@pytest.mark.parametrize("padding,window,activation", list(itertools.product(
    ["SAME", "VALID"], WINDOWS[:4], ["NONE", "RELU6"])))
def test_l2_pool(padding, window, activation):
    check_against_litert(pool_model("L2_POOL_2D", (2, 7, 6, 3), np.float32, window, padding,
                                    activation))


def check_ops_in_model(name, opnames, seed=1):
    """Runs every op named in `opnames` of a shared model on qrun's kernel, fed LiteRT's own
    intermediate tensors (BUILTIN_REF), and asserts LiteRT's output; returns the ops seen.
    Used by this family's test files to cover real quantization parameters and data."""
    lite = litert()
    path = str(shared_model(name))
    it = lite.Interpreter(model_path=path, experimental_preserve_all_tensors=True,
                          experimental_op_resolver_type=lite.OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), random_inputs(it.get_input_details(), seed)):
        it.set_tensor(d["index"], x)
    it.invoke()
    seen = set()
    for op in load_model(path).subgraphs[0].operators:
        if op.opname not in opnames:
            continue
        for t in op.inputs:
            if t is not None:
                t.data = t.constant if t.is_constant else it.get_tensor(t.index)
                t.shape = tuple(t.data.shape)
        result = find_kernel(op).fn(op)
        results = result if isinstance(result, list) else [result]
        assert_same(results, [it.get_tensor(t.index) for t in op.outputs],
                    what="%s operator %d %s" % (name, op.index, op.opname))
        seen.add(op.opname)
    return seen


@pytest.mark.parametrize("name,expected", [
    ("mobilenet_v3_small_224_1.0_uint8.tflite", {"AVERAGE_POOL_2D"}),
    ("squeezenet_v1_1_quant.tflite", {"AVERAGE_POOL_2D", "MAX_POOL_2D"}),
    ("shufflenet_quant.tflite", {"AVERAGE_POOL_2D", "MAX_POOL_2D"}),
    ("osnet_x1_0_quant.tflite", {"AVERAGE_POOL_2D", "MAX_POOL_2D"}),
    ("yolov8n_full_integer_quant.tflite", {"MAX_POOL_2D"}),
    ("face_landmark.tflite", {"MAX_POOL_2D"}),
    ("kws_ref_model.tflite", {"AVERAGE_POOL_2D"}),
])
def test_real_model_ops(name, expected):
    assert check_ops_in_model(name, expected) == expected
