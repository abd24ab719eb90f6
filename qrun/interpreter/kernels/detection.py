"""The TFLite_Detection_PostProcess custom op (SSD box decoding and non-max suppression).

Inputs: box encodings [1, boxes, >=4] (y, x, h, w relative to the anchors), class scores
[1, boxes, classes (+1 background)], anchors [boxes, 4] (y, x, h, w); quantized inputs are
dequantized first. Outputs, all float32: boxes [1, n, 4] (ymin, xmin, ymax, xmax), classes
[1, n], scores [1, n] and num_detections [1], with n = max_detections *
max_classes_per_detection. The parameters come from the op's flexbuffer custom options.

Follows tensorflow/lite/kernels/detection_postprocess.cc: boxes decoded in double, IoU and
scores in float32, a stable descending sort, greedy suppression of boxes whose IoU with a
kept box exceeds the threshold; "regular" NMS runs per class and merges the per-class
results by score, "fast" NMS runs once on each anchor's best class score.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import List

import numpy as np
from flatbuffers import flexbuffers

from ..registry import register

OP = "TFLite_Detection_PostProcess"


def parse_options(op) -> SimpleNamespace:
    """The op's flexbuffer map, with TFLite's defaults and float32 values."""
    m = flexbuffers.Loads(bytes(op.custom_options)) if op.custom_options else {}
    try:
        return SimpleNamespace(
            max_detections=int(m["max_detections"]),
            max_classes_per_detection=int(m["max_classes_per_detection"]),
            detections_per_class=int(m.get("detections_per_class", 100)),
            use_regular_nms=bool(m.get("use_regular_nms", False)),
            score_threshold=np.float32(m["nms_score_threshold"]),
            iou_threshold=np.float32(m["nms_iou_threshold"]),
            num_classes=int(m["num_classes"]),
            scales=np.array([m["y_scale"], m["x_scale"], m["h_scale"], m["w_scale"]],
                            np.float32))
    except KeyError as exc:
        raise ValueError("%s custom options lack %s" % (OP, exc)) from None


def detection_output_shapes(op):
    o = parse_options(op)
    boxes, scores, anchors = (t.shape for t in op.inputs[:3])
    if len(boxes) != 3 or len(scores) != 3 or len(anchors) != 2:
        raise ValueError("%s expects box encodings and scores of rank 3 and anchors of rank 2"
                         % OP)
    if boxes[0] != 1 or scores[0] != 1 or boxes[2] < 4 or scores[1] != boxes[1]:
        raise ValueError("%s: box encodings %s and scores %s do not fit (batch 1, >= 4 "
                         "coordinates)" % (OP, list(boxes), list(scores)))
    if tuple(anchors) != (boxes[1], 4):
        raise ValueError("%s: anchors %s, expected [%d, 4]" % (OP, list(anchors), boxes[1]))
    if not 0 <= scores[2] - o.num_classes <= 1:
        raise ValueError("%s: %d score columns for %d classes" % (OP, scores[2], o.num_classes))
    if not 0 < o.iou_threshold <= 1 or o.max_detections < 0:
        raise ValueError("%s: IoU threshold must be in (0, 1] and max_detections >= 0" % OP)
    n = o.max_detections * o.max_classes_per_detection
    return [(1, n, 4), (1, n), (1, n), (1,)]


def _dequantize(t) -> np.ndarray:
    if t.dtype == np.float32:
        return t.data
    diff = t.data.astype(np.float64) - t.zero_point
    return (diff * np.float64(np.float32(t.scale))).astype(np.float32)


def decode_boxes(encodings: np.ndarray, anchors: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Center-size encodings relative to anchors -> corners (ymin, xmin, ymax, xmax)."""
    e = encodings[:, :4].astype(np.float64)
    a = anchors.astype(np.float64)
    s = scales.astype(np.float64)
    ycenter = (e[:, 0] / s[0] * a[:, 2] + a[:, 0]).astype(np.float32)
    xcenter = (e[:, 1] / s[1] * a[:, 3] + a[:, 1]).astype(np.float32)
    half_h = (0.5 * np.exp(e[:, 2] / s[2]) * a[:, 2]).astype(np.float32)
    half_w = (0.5 * np.exp(e[:, 3] / s[3]) * a[:, 3]).astype(np.float32)
    return np.stack([ycenter - half_h, xcenter - half_w, ycenter + half_h, xcenter + half_w],
                    axis=1)


def _iou(boxes: np.ndarray, i: int, others: np.ndarray) -> np.ndarray:
    """ComputeIntersectionOverUnion of box i with each of `others`, in float32."""
    bi, bj = boxes[i], boxes[others]
    area_i = (bi[2] - bi[0]) * (bi[3] - bi[1])
    area_j = (bj[:, 2] - bj[:, 0]) * (bj[:, 3] - bj[:, 1])
    inter_h = np.maximum(np.minimum(bi[2], bj[:, 2]) - np.maximum(bi[0], bj[:, 0]),
                         np.float32(0))
    inter_w = np.maximum(np.minimum(bi[3], bj[:, 3]) - np.maximum(bi[1], bj[:, 1]),
                         np.float32(0))
    inter = inter_h * inter_w
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / (area_i + area_j - inter)
    return np.where((area_i <= 0) | (area_j <= 0), np.float32(0), iou)


def nms_single_class(boxes: np.ndarray, scores: np.ndarray, max_detections: int,
                     o: SimpleNamespace) -> List[int]:
    """NonMaxSuppressionSingleClassHelper: indices of the kept boxes, best first."""
    keep = np.flatnonzero(scores >= o.score_threshold)
    order = keep[np.argsort(-scores[keep], kind="stable")]
    limit = min(len(order), max_detections)
    active = np.ones(len(order), bool)
    selected: List[int] = []
    i = 0
    while len(selected) < limit:
        candidates = np.flatnonzero(active[i:])
        if not len(candidates):
            break
        i += int(candidates[0])
        selected.append(int(order[i]))
        active[i] = False
        rest = i + 1 + np.flatnonzero(active[i + 1:])
        if len(rest):
            active[rest[_iou(boxes, order[i], order[rest]) > o.iou_threshold]] = False
    return selected


def _regular_nms(boxes, scores, offset: int, o: SimpleNamespace, outputs) -> int:
    per_class = min(o.detections_per_class, o.max_detections)
    if per_class <= 0:
        raise ValueError("%s: detections_per_class must be positive" % OP)
    kept: List[tuple] = []     # (score, anchor, class)
    for c in range(o.num_classes):
        class_scores = scores[:, c + offset]
        selected = nms_single_class(boxes, class_scores, per_class, o)
        # A stable sort keeps the earlier class first among equal scores, as LiteRT's merge.
        kept = sorted(kept + [(class_scores[a], a, c) for a in selected],
                      key=lambda entry: -entry[0])[:o.max_detections]
    out_boxes, out_classes, out_scores = outputs
    for k, (score, anchor, c) in enumerate(kept):
        out_boxes[k] = boxes[anchor]
        out_classes[k] = c
        out_scores[k] = score
    return len(kept)


def decreasing_partial_argsort(values, k: int) -> List[int]:
    """The first k indices of std::partial_sort (libstdc++'s heap select + heap sort) by
    decreasing value: the order LiteRT gives to classes with equal scores."""
    idx = list(range(len(values)))

    def before(a, b):
        return values[a] > values[b]

    def adjust_heap(hole: int, length: int, value: int) -> None:
        top, child = hole, hole
        while child < (length - 1) // 2:
            child = 2 * (child + 1)
            if before(idx[child], idx[child - 1]):
                child -= 1
            idx[hole] = idx[child]
            hole = child
        if length % 2 == 0 and child == (length - 2) // 2:
            child = 2 * (child + 1)
            idx[hole] = idx[child - 1]
            hole = child - 1
        parent = (hole - 1) // 2
        while hole > top and before(idx[parent], value):
            idx[hole] = idx[parent]
            hole, parent = parent, (parent - 1) // 2
        idx[hole] = value

    def pop_heap(length: int, result: int) -> None:
        value = idx[result]
        idx[result] = idx[0]
        adjust_heap(0, length, value)

    for parent in range((k - 2) // 2, -1, -1):
        adjust_heap(parent, k, idx[parent])
    for i in range(k, len(values)):
        if before(idx[i], idx[0]):
            pop_heap(k, i)
    for last in range(k - 1, 0, -1):
        pop_heap(last, last)
    return idx[:k]


def _fast_nms(boxes, scores, offset: int, o: SimpleNamespace, outputs) -> int:
    if o.max_classes_per_detection <= 0:
        raise ValueError("%s: max_classes_per_detection must be positive" % OP)
    per_anchor = min(o.max_classes_per_detection, o.num_classes)
    class_scores = scores[:, offset:offset + o.num_classes]
    max_scores = class_scores.max(axis=1)
    selected = nms_single_class(boxes, max_scores, o.max_detections, o)
    out_boxes, out_classes, out_scores = outputs
    for k, anchor in enumerate(selected):
        row = class_scores[anchor]
        # One class: ArgMaxVector, the first maximum.
        top = ([int(np.argmax(row))] if per_anchor == 1
               else decreasing_partial_argsort(row.tolist(), per_anchor))
        slots = slice(o.max_classes_per_detection * k,
                      o.max_classes_per_detection * k + per_anchor)
        out_boxes[slots] = boxes[anchor]
        out_classes[slots] = top
        out_scores[slots] = row[top]
    return len(selected)


@register(OP, (np.float32, np.uint8, np.int8), shape=detection_output_shapes)
def detection_postprocess(op):
    o = parse_options(op)
    encodings, scores_t, anchors_t = op.inputs[:3]
    boxes = decode_boxes(_dequantize(encodings)[0], _dequantize(anchors_t), o.scales)
    if np.any((boxes[:, 0] > boxes[:, 2]) | (boxes[:, 1] > boxes[:, 3])):
        raise ValueError("%s: a decoded box has ymin > ymax or xmin > xmax" % OP)
    scores = _dequantize(scores_t)[0]
    n = o.max_detections * o.max_classes_per_detection
    outputs = (np.zeros((n, 4), np.float32), np.zeros(n, np.float32), np.zeros(n, np.float32))
    offset = scores.shape[1] - o.num_classes
    nms = _regular_nms if o.use_regular_nms else _fast_nms
    count = nms(boxes, scores, offset, o, outputs)
    out_boxes, out_classes, out_scores = outputs
    return [out_boxes[None], out_classes[None], out_scores[None],
            np.array([count], np.float32)]
