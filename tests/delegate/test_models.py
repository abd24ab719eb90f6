"""The shared models through the delegate: every supported op in C, each delegated op within
1 LSB of its numpy kernel, classifiers' top-1 equal to LiteRT's, ISAs equal to scalar."""
from __future__ import annotations

import numpy as np
import pytest

from qrun import Interpreter
from tests.delegate.util import ISAS, model_inputs, per_op_differences, run_delegate
from tests.oracle import SHARED_MODELS, run_litert

pytestmark = pytest.mark.skipif(not ISAS, reason="qrun's C kernels are not built")

MODELS = sorted(p.name for p in SHARED_MODELS.glob("*.tflite"))
# Models whose numpy reference run is too slow for the per-op check (or that delegate nothing).
SLOW = {"dncnn3_quant.tflite", "whitebox_cartoon_gan_int8.tflite", "zero_dce_quant.tflite",
        "deeplabv3_mnv2_pascal_quant.tflite", "yolov8n-seg_full_integer_quant.tflite",
        "face_detection_short_range.tflite", "face_landmark.tflite",
        "selfie_segmentation.tflite", "yolov8n_dynamic_range.tflite"}
PER_OP = [m for m in MODELS if m not in SLOW]
CLASSIFIERS = ["mobilenet_v1_0.25_128_quant.tflite", "mobilenet_v3_small_224_1.0_uint8.tflite",
               "vww_96_int8.tflite", "mobilenet_v2_1.0_224_quant.tflite"]


def _bytes(name: str) -> bytes:
    return (SHARED_MODELS / name).read_bytes()


@pytest.mark.parametrize("name", MODELS)
def test_every_supported_op_runs_in_c(name):
    it = Interpreter(model_path=str(SHARED_MODELS / name))
    it.allocate_tensors()
    g = it._graphs[0]
    assert g.delegate.rejected == {}
    for step in g.steps:
        if step.backend != "c":
            reason = g.delegate.why_not(g, step)
            assert reason is not None, "%s: op %d %s supported but on numpy" % (
                name, step.ops[0].index, step.ops[0].opname)


@pytest.mark.parametrize("name", PER_OP)
def test_each_delegated_op_within_1_lsb(name):
    model = _bytes(name)
    diffs = per_op_differences(model, model_inputs(model, 0))
    assert diffs, "nothing delegated"
    worst = max(diffs, key=lambda d: d[2])
    assert worst[2] <= 1, "%s: op %d %s differs by %d LSB" % ((name,) + worst)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifier_top1_matches_litert(name):
    # On random inputs the 8-bit scores often tie at the top (LiteRT's BUILTIN_REF and
    # XNNPACK disagree on the argmax of MobileNet v2 there): each side's top class must
    # score within 1 LSB of the other side's best.
    model = _bytes(name)
    for seed in range(10):
        inputs = model_inputs(model, seed)
        ours = run_delegate(model, inputs, expect_backend=None)[0].astype(int).ravel()
        theirs = run_litert(model, inputs, resolver="BUILTIN")[0].astype(int).ravel()
        assert theirs[np.argmax(ours)] >= theirs.max() - 1, "%s seed %d" % (name, seed)
        assert ours[np.argmax(theirs)] >= ours.max() - 1, "%s seed %d" % (name, seed)


@pytest.mark.parametrize("name", ["mobilenet_v1_0.25_128_quant.tflite", "vww_96_int8.tflite"])
def test_every_isa_equals_scalar_on_a_model(name):
    model = _bytes(name)
    inputs = model_inputs(model, 1)
    scalar = run_delegate(model, inputs, "scalar", expect_backend=None)
    for isa in ISAS[1:]:
        for a, b in zip(run_delegate(model, inputs, isa, expect_backend=None), scalar):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["deeplabv3_mnv2_pascal_quant.tflite",
                                  "deeplabv3_mnv2_dm05_pascal_quant.tflite",
                                  "edgetpu_deeplab_slim_257_os16_full_integer_quant.tflite"])
def test_segmentation_argmax_agrees_with_litert(name):
    # Random inputs make many pixels ambiguous: there LiteRT's reference kernels and XNNPACK
    # disagree on up to 6% of the pixels. The delegate must agree with XNNPACK on at least
    # 98% of them, and be no further from it than the reference kernels are.
    model = _bytes(name)
    for seed in range(2):
        inputs = model_inputs(model, seed)
        ours = run_delegate(model, inputs, expect_backend=None)[0]
        xnnpack = run_litert(model, inputs, resolver="BUILTIN")[0]
        reference = run_litert(model, inputs)[0]
        same = float(np.mean(ours == xnnpack))
        assert same >= 0.98, "%s seed %d: %.4f" % (name, seed, same)
        assert same >= float(np.mean(reference == xnnpack)) - 0.005
