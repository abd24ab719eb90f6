"""TFLite_Detection_PostProcess (custom op) against LiteRT BUILTIN_REF."""
from __future__ import annotations

import numpy as np
import pytest
from flatbuffers import flexbuffers

from qrun import Interpreter
from qrun.modelbuilder import ModelBuilder
from tests.oracle import assert_same, litert, random_inputs, run_litert, run_qrun, shared_model

OP = "TFLite_Detection_PostProcess"
QUANT = {  # dtype -> (encodings, scores, anchors) as (scale, zero point)
    np.uint8: ((0.08, 128), (1.0 / 256, 0), (1.0 / 255, 0)),
    np.int8: ((0.08, 0), (1.0 / 256, -128), (1.0 / 255, -128)),
}


def anchors_for(n, rng):
    """Anchors clustered in a few places so that boxes overlap and NMS has work to do."""
    centers = rng.uniform(0.2, 0.8, (max(n // 6, 1), 2))
    yx = centers[rng.integers(0, len(centers), n)] + rng.normal(0, 0.03, (n, 2))
    hw = rng.uniform(0.1, 0.4, (n, 2))
    return np.concatenate([yx, hw], axis=1).astype(np.float32)


def detection_model(dtype=np.float32, boxes=40, num_classes=5, background=1, coords=4,
                    max_detections=10, max_classes_per_detection=1, detections_per_class=None,
                    use_regular_nms=None, score_threshold=0.1, iou_threshold=0.5,
                    scales=(10.0, 10.0, 5.0, 5.0), seed=0):
    rng = np.random.default_rng(seed)
    options = dict(max_detections=max_detections,
                   max_classes_per_detection=max_classes_per_detection,
                   nms_score_threshold=score_threshold, nms_iou_threshold=iou_threshold,
                   num_classes=num_classes, y_scale=scales[0], x_scale=scales[1],
                   h_scale=scales[2], w_scale=scales[3])
    if detections_per_class is not None:
        options["detections_per_class"] = detections_per_class
    if use_regular_nms is not None:
        options["use_regular_nms"] = use_regular_nms
    anchors = anchors_for(boxes, rng)
    b = ModelBuilder()
    if dtype == np.float32:
        enc = b.add_input([1, boxes, coords], np.float32)
        scores = b.add_input([1, boxes, num_classes + background], np.float32)
        anc = b.add_constant(anchors)
    else:
        (es, ez), (ss, sz), (ascale, az) = QUANT[dtype]
        enc = b.add_input([1, boxes, coords], dtype, scale=es, zero_point=ez)
        scores = b.add_input([1, boxes, num_classes + background], dtype, scale=ss,
                             zero_point=sz)
        info = np.iinfo(dtype)
        q = np.clip(np.round(anchors / ascale) + az, info.min, info.max).astype(dtype)
        anc = b.add_constant(q, scale=ascale, zero_point=az)
    n = max_detections * max_classes_per_detection
    outs = [b.add_tensor([1, n, 4], np.float32), b.add_tensor([1, n], np.float32),
            b.add_tensor([1, n], np.float32), b.add_tensor([1], np.float32)]
    b.add_op(OP, [enc, scores, anc], outs, custom_options=bytes(flexbuffers.Dumps(options)))
    for t in outs:
        b.mark_output(t)
    return b.build()


FAST = [
    dict(),
    dict(max_detections=1),
    dict(max_detections=3, max_classes_per_detection=2),
    dict(max_detections=5, max_classes_per_detection=3, num_classes=3),
    dict(max_classes_per_detection=7, num_classes=4),   # more slots than classes
    dict(background=0, num_classes=6),
    dict(score_threshold=0.0, iou_threshold=1.0),
    dict(score_threshold=0.95),
    dict(iou_threshold=0.2, boxes=120, max_detections=20),
    dict(coords=10, scales=(8.0, 6.0, 4.0, 3.0)),
    dict(use_regular_nms=False, boxes=7, max_detections=10),
    # Hundreds of overlapping candidates: NMS runs over several windows of candidates.
    dict(boxes=700, max_detections=100, score_threshold=0.0, iou_threshold=0.3),
]
REGULAR = [
    dict(use_regular_nms=True),
    dict(use_regular_nms=True, detections_per_class=1),
    dict(use_regular_nms=True, detections_per_class=3, max_detections=4),
    dict(use_regular_nms=True, num_classes=20, max_detections=15),
    dict(use_regular_nms=True, background=0, num_classes=1),
    dict(use_regular_nms=True, max_classes_per_detection=2),
    dict(use_regular_nms=True, score_threshold=0.0, iou_threshold=0.3, boxes=90),
    dict(use_regular_nms=True, score_threshold=0.9, boxes=12),
    dict(use_regular_nms=True, boxes=500, max_detections=60, detections_per_class=40,
         score_threshold=0.0, iou_threshold=0.4),
]


def check_detections(model: bytes, seed: int, max_classes_per_detection: int, num_classes: int,
                     use_regular_nms: bool, inputs=None) -> None:
    """qrun vs LiteRT on the output slots TFLite defines: fast NMS leaves the slots past the
    detections (and past num_classes within a detection) unwritten, regular NMS those past
    max_detections."""
    lite = litert()
    probe = lite.Interpreter(model_content=model,
                             experimental_op_resolver_type=lite.OpResolverType.BUILTIN_REF)
    probe.allocate_tensors()
    if inputs is None:
        inputs = random_inputs(probe.get_input_details(), seed)
    theirs, ours = run_litert(model, inputs), run_qrun(model, inputs)
    assert_same(ours[3:], theirs[3:], what="num_detections")
    count = int(theirs[3][0])
    slots = np.arange(theirs[1].shape[1])
    if use_regular_nms:
        defined = slots < len(slots) // max_classes_per_detection
    else:
        per_anchor = min(max_classes_per_detection, num_classes)
        defined = ((slots // max_classes_per_detection < count)
                   & (slots % max_classes_per_detection < per_anchor))
    assert_same([o[:, defined] for o in ours[:3]], [t[:, defined] for t in theirs[:3]],
                what="detections")


def _ids(v):
    return ",".join("%s=%s" % kv for kv in sorted(v.items())) or "default"


@pytest.mark.parametrize("variant", FAST + REGULAR, ids=_ids)
@pytest.mark.parametrize("dtype", [np.float32, np.uint8], ids=lambda d: d.__name__)
def test_detection_postprocess(variant, dtype):
    model = detection_model(dtype, **variant)
    for seed in range(3):
        check_detections(model, seed, variant.get("max_classes_per_detection", 1),
                         variant.get("num_classes", 5), variant.get("use_regular_nms", False))


@pytest.mark.parametrize("variant", [
    dict(use_regular_nms=True, num_classes=12, max_detections=20, detections_per_class=5),
    dict(use_regular_nms=True, num_classes=3, max_detections=8, iou_threshold=0.9),
    dict(max_classes_per_detection=5, num_classes=12, max_detections=6),
], ids=_ids)
def test_equal_scores_keep_litert_order(variant):
    """uint8 scores crowded into the top 6 levels: many equal scores, across classes and
    anchors; the order of equal scores follows TFLite's sorts and merges."""
    model = detection_model(np.uint8, boxes=50, **variant)
    for seed in range(5):
        rng = np.random.default_rng(seed)
        inputs = [rng.integers(0, 256, (1, 50, 4)).astype(np.uint8),
                  rng.integers(250, 256, (1, 50, variant["num_classes"] + 1)).astype(np.uint8)]
        check_detections(model, seed, variant.get("max_classes_per_detection", 1),
                         variant["num_classes"], variant.get("use_regular_nms", False), inputs)


@pytest.mark.parametrize("variant", FAST + REGULAR, ids=_ids)
def test_int8_inputs_match_uint8(variant):
    """LiteRT's kernel takes uint8 and float only; int8 inputs holding the same real values
    (values and zero points shifted by -128) must give qrun's uint8 results exactly."""
    uint8_model = detection_model(np.uint8, **variant)
    int8_model = detection_model(np.int8, **variant)
    it = Interpreter(model_content=uint8_model)
    it.allocate_tensors()
    for seed in range(2):
        inputs = random_inputs(it.get_input_details(), seed)
        shifted = [(x.astype(np.int16) - 128).astype(np.int8) for x in inputs]
        expected = run_qrun(uint8_model, inputs)
        assert_same(run_qrun(int8_model, shifted), expected, atol_float=0.0)


def test_missing_options_are_rejected():
    b = ModelBuilder()
    enc = b.add_input([1, 4, 4], np.float32)
    scores = b.add_input([1, 4, 3], np.float32)
    anc = b.add_constant(np.ones((4, 4), np.float32))
    outs = [b.mark_output(b.add_tensor([1], np.float32)) for _ in range(4)]
    b.add_op(OP, [enc, scores, anc], outs,
             custom_options=bytes(flexbuffers.Dumps({"max_detections": 3})))
    with pytest.raises(RuntimeError, match="custom options lack"):
        Interpreter(model_content=b.build()).allocate_tensors()


def test_coco_ssd_postprocess_op():
    """The op of the real SSD model, on its real anchors, with random encodings/scores."""
    from tests.ops.stateful import extract_op
    from qrun.interpreter.loader import load_model
    path = shared_model("coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite")
    ops = load_model(str(path)).subgraphs[0].operators
    index = next(op.index for op in ops if op.opname == OP)
    model = extract_op(path, index)
    for seed in range(3):
        check_detections(model, seed, 1, 90, False)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_coco_ssd_op_on_litert_intermediates(seed):
    """The SSD model's op on its real box encodings and scores: qrun's kernel fed the
    tensors LiteRT computed, against LiteRT's detections."""
    from qrun.interpreter.loader import load_model
    from qrun.interpreter.registry import find_kernel
    lite = litert()
    path = str(shared_model("coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite"))
    it = lite.Interpreter(model_path=path, experimental_preserve_all_tensors=True,
                          experimental_op_resolver_type=lite.OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), random_inputs(it.get_input_details(), seed)):
        it.set_tensor(d["index"], x)
    it.invoke()
    op = next(op for op in load_model(path).subgraphs[0].operators if op.opname == OP)
    for t in op.inputs:
        t.data = t.constant if t.is_constant else it.get_tensor(t.index)
    ours = find_kernel(op).fn(op)
    theirs = [it.get_tensor(t.index) for t in op.outputs]
    count = int(theirs[3][0])
    assert count > 0
    assert_same([o[:, :count] for o in ours[:3]] + ours[3:],
                [t[:, :count] for t in theirs[:3]] + theirs[3:], what="SSD detections")


def test_coco_ssd_model_end_to_end():
    from tests.ops.stateful import shared_model_bytes
    model = shared_model_bytes("coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite")
    for seed in range(2):
        check_detections(model, seed, 1, 90, False)
