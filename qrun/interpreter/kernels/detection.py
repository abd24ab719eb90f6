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

import functools
from types import SimpleNamespace
from typing import List, Optional

import numpy as np
from flatbuffers import flexbuffers

from ..registry import register

OP = "TFLite_Detection_PostProcess"


def parse_options(op) -> SimpleNamespace:
    """The op's flexbuffer map, with TFLite's defaults and float32 values (parsed once per
    distinct options: the parse takes ~0.1 ms)."""
    return _parse_options(bytes(op.custom_options or b""))


@functools.lru_cache(maxsize=64)
def _parse_options(custom_options: bytes) -> SimpleNamespace:
    m = flexbuffers.Loads(custom_options) if custom_options else {}
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


def _iou_over(a: np.ndarray, b: np.ndarray, threshold: np.float32) -> np.ndarray:
    """[len(a), len(b)]: ComputeIntersectionOverUnion of each box of `a` with each of `b`, in
    float32, above `threshold` (an IoU is 0 where an area is not positive). Every operation is
    symmetric in the two boxes, so either may be the kept one."""
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    inter_h = np.maximum(np.minimum(a[:, None, 2], b[:, 2]) - np.maximum(a[:, None, 0], b[:, 0]),
                         np.float32(0))
    inter_w = np.maximum(np.minimum(a[:, None, 3], b[:, 3]) - np.maximum(a[:, None, 1], b[:, 1]),
                         np.float32(0))
    inter = inter_h * inter_w
    with np.errstate(divide="ignore", invalid="ignore"):
        over = inter / (area_a[:, None] + area_b - inter) > threshold
    return over & (area_a[:, None] > 0) & (area_b > 0)


# Candidates are examined in windows (the first of 32, doubling up to 128: most kept boxes
# are among the first few dozen): a box is kept iff no kept box before it overlaps it, so a
# window needs only the IoUs with the boxes kept so far and among itself.
_NMS_WINDOWS = (32, 128)


def score_order(scores: np.ndarray, threshold: np.float32) -> np.ndarray:
    """The indices of the scores >= threshold by decreasing score, ties in index order."""
    keep = np.flatnonzero(scores >= threshold)
    return keep[np.argsort(-scores[keep], kind="stable")]


def nms_single_class(boxes: np.ndarray, scores: np.ndarray, max_detections: int,
                     o: SimpleNamespace, order: Optional[np.ndarray] = None) -> List[int]:
    """NonMaxSuppressionSingleClassHelper: indices of the kept boxes, best first. `order`:
    score_order(scores, o.score_threshold) when the caller has it."""
    if order is None:
        order = score_order(scores, o.score_threshold)
    limit = min(len(order), max_detections)
    selected: List[int] = []
    start, size = 0, _NMS_WINDOWS[0]
    while len(selected) < limit and start < len(order):
        window = order[start:start + size]
        start, size = start + size, min(2 * size, _NMS_WINDOWS[1])
        candidates = boxes[window]
        if selected:
            suppressed = _iou_over(boxes[selected], candidates, o.iou_threshold).any(axis=0)
        else:
            suppressed = np.zeros(len(window), bool)
        over = _iou_over(candidates, candidates, o.iou_threshold)
        j = 0
        while len(selected) < limit:
            free = np.flatnonzero(~suppressed[j:])
            if not len(free):
                break
            j += int(free[0])
            selected.append(int(window[j]))
            suppressed |= over[j]
            j += 1
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


def _score_table(t) -> Optional[np.ndarray]:
    """A quantized score tensor's 256 dequantized values, indexed by the byte (int8 as the
    byte + 128), when they strictly increase (then bytes order as their values do); None
    otherwise (float scores, or a scale too small to separate them)."""
    if t.dtype == np.float32:
        return None
    codes = np.arange(256) - (128 if t.dtype == np.int8 else 0)
    table = ((codes - t.zero_point) * np.float64(np.float32(t.scale))).astype(np.float32)
    return table if np.all(table[1:] > table[:-1]) else None


def _fast_nms(boxes, scores_t, offset: int, o: SimpleNamespace, outputs) -> int:
    """One NMS on each anchor's best class score. Quantized scores: the best byte per anchor
    and the sort on bytes (radix), dequantizing only what the outputs need."""
    if o.max_classes_per_detection <= 0:
        raise ValueError("%s: max_classes_per_detection must be positive" % OP)
    per_anchor = min(o.max_classes_per_detection, o.num_classes)
    table = _score_table(scores_t)
    if table is None:
        class_scores = _dequantize(scores_t)[0][:, offset:offset + o.num_classes]
        max_scores = class_scores.max(axis=1)
        order = score_order(max_scores, o.score_threshold)
    else:
        raw = np.ascontiguousarray(scores_t.data[0])
        flip = np.uint8(0x80 if scores_t.dtype == np.int8 else 0)
        # Each row's class scores as one reduceat segment (3x faster than max(axis=1) on
        # short rows); the odd segments are the background columns.
        starts = np.arange(len(raw))[:, None] * raw.shape[1] + np.array([0, offset])
        best = np.maximum.reduceat(raw.reshape(-1), starts.reshape(-1))[1::2].view(np.uint8)
        best = best ^ flip
        max_scores = table[best]
        order = np.argsort(~best, kind="stable")
        order = order[max_scores[order] >= o.score_threshold]
    selected = nms_single_class(boxes, max_scores, o.max_detections, o, order)
    out_boxes, out_classes, out_scores = outputs
    for k, anchor in enumerate(selected):
        row = (class_scores[anchor] if table is None else
               table[raw[anchor, offset:offset + o.num_classes].view(np.uint8) ^ flip])
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
    n = o.max_detections * o.max_classes_per_detection
    outputs = (np.zeros((n, 4), np.float32), np.zeros(n, np.float32), np.zeros(n, np.float32))
    offset = scores_t.shape[2] - o.num_classes
    if o.use_regular_nms:
        count = _regular_nms(boxes, _dequantize(scores_t)[0], offset, o, outputs)
    else:
        count = _fast_nms(boxes, scores_t, offset, o, outputs)
    out_boxes, out_classes, out_scores = outputs
    return [out_boxes[None], out_classes[None], out_scores[None],
            np.array([count], np.float32)]
