"""Ops that sort, select or search: TOPK_V2, NON_MAX_SUPPRESSION_V4/V5, WHERE, UNIQUE,
BUCKETIZE, and SKIP_GRAM (the n-grams of a string, with skips).

Orders follow TFLite's kernels: TOPK_V2 breaks ties by the lower index (its TopContainer
comparator); UNIQUE keeps the order of first occurrence; BUCKETIZE is std::upper_bound.
WHERE and UNIQUE have outputs whose size depends on the data (the rule returns None unless
the input is constant); NON_MAX_SUPPRESSION's outputs have max_output_size elements,
zero-filled past the selected count.
"""
from __future__ import annotations

import numpy as np

from ..registry import register
from .shape_ops import known

TOPK_TYPES = (np.float32, np.uint8, np.int8, np.int16, np.int32, np.int64)
WHERE_TYPES = (np.bool_, np.float32, np.int32, np.int64, np.int8, np.uint8, np.uint32)
UNIQUE_TYPES = (np.float32, np.int8, np.uint8, np.int16, np.int32, np.int64)
BUCKETIZE_TYPES = (np.float32, np.float64, np.int32, np.int64)


# -- TOPK_V2 -----------------------------------------------------------------------------------

def topk_shape(op):
    shape = tuple(op.inputs[0].shape)
    if not shape:
        raise ValueError("TOPK_V2 needs an input of rank >= 1")
    k = known(op, 1)
    if k is None:
        return None
    k = int(np.asarray(k[0]).reshape(-1)[0])
    if not 0 <= k <= shape[-1]:
        raise ValueError("TOPK_V2 k=%d is outside [0, %d]" % (k, shape[-1]))
    return [shape[:-1] + (k,)] * 2


def _descending(x: np.ndarray) -> np.ndarray:
    """Indices along the last axis by decreasing value, equal values by increasing index:
    a stable ascending sort of the reversed row, read backwards (no negation, so no
    overflow at the integer minimum)."""
    n = x.shape[-1]
    order = np.argsort(x[..., ::-1], axis=-1, kind="stable")[..., ::-1]
    return n - 1 - order


@register("TOPK_V2", TOPK_TYPES, shape=topk_shape)
def topk_v2(op):
    x = op.inputs[0].data
    k = int(np.asarray(op.inputs[1].data).reshape(-1)[0])
    if not 0 <= k <= x.shape[-1]:
        raise ValueError("TOPK_V2 k=%d is outside [0, %d]" % (k, x.shape[-1]))
    idx = _descending(x)[..., :k]
    return [np.take_along_axis(x, idx, axis=-1),
            idx.astype(op.outputs[1].dtype)]


# -- NON_MAX_SUPPRESSION_V4 / V5 ---------------------------------------------------------------

def nms_shape(op):
    boxes, scores = op.inputs[0].shape, op.inputs[1].shape
    if len(boxes) != 2 or boxes[1] != 4 or tuple(scores) != (boxes[0],):
        raise ValueError("NON_MAX_SUPPRESSION needs boxes [N, 4] and scores [N], got %s and %s"
                         % (list(boxes), list(scores)))
    size = known(op, 2)
    if size is None:
        return None
    size = int(np.asarray(size[0]).reshape(-1)[0])
    if size < 0:
        raise ValueError("NON_MAX_SUPPRESSION max_output_size %d < 0" % size)
    return [(size,)] * (len(op.outputs) - 1) + [()]


def _iou(boxes: np.ndarray, i: int, others: np.ndarray) -> np.ndarray:
    """ComputeIou of box i against boxes `others`, in float32 as the reference does."""
    b = boxes[np.concatenate([[i], others])]
    y0, y1 = np.minimum(b[:, 0], b[:, 2]), np.maximum(b[:, 0], b[:, 2])
    x0, x1 = np.minimum(b[:, 1], b[:, 3]), np.maximum(b[:, 1], b[:, 3])
    area = (y1 - y0) * (x1 - x0)
    ih = np.maximum(np.minimum(y1[0], y1[1:]) - np.maximum(y0[0], y0[1:]), np.float32(0))
    iw = np.maximum(np.minimum(x1[0], x1[1:]) - np.maximum(x0[0], x0[1:]), np.float32(0))
    inter = ih * iw
    union = area[0] + area[1:] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union == 0, np.float32(0), inter / union)
    return np.where((area[0] <= 0) | (area[1:] <= 0), np.float32(0), iou).astype(np.float32)


class _PriorityQueue:
    """std::priority_queue of (score, index, begin) ordered by score alone, with libstdc++'s
    push_heap / pop_heap steps, so that equal scores come out in the kernel's order."""

    def __init__(self):
        self.items: list = []

    def __len__(self) -> int:
        return len(self.items)

    def _sift_up(self, hole: int, top: int, item) -> None:
        a = self.items
        parent = (hole - 1) // 2
        while hole > top and a[parent][0] < item[0]:
            a[hole] = a[parent]
            hole = parent
            parent = (hole - 1) // 2
        a[hole] = item

    def push(self, item) -> None:
        self.items.append(item)
        self._sift_up(len(self.items) - 1, 0, item)

    def pop(self):
        a = self.items
        top, last = a[0], a.pop()
        n = len(a)
        if n:
            # __adjust_heap: move the larger child up to the root's hole, down to a leaf,
            # then sift the former last element up from there.
            hole = child = 0
            while child < (n - 1) // 2:
                child = 2 * (child + 1)
                if a[child][0] < a[child - 1][0]:
                    child -= 1
                a[hole] = a[child]
                hole = child
            if n % 2 == 0 and child == (n - 2) // 2:
                child = 2 * (child + 1)
                a[hole] = a[child - 1]
                hole = child - 1
            self._sift_up(hole, 0, last)
        return top


def _soft_nms(boxes, scores, max_out, iou_threshold, score_threshold, sigma):
    """reference_ops::NonMaxSuppression (float): a max-heap of candidates; a candidate is
    compared with the boxes selected since its last visit, hard-suppressed at IoU >=
    threshold, else its score decays by exp(-0.5/sigma * iou^2) and it is re-queued."""
    f32 = np.float32
    queue = _PriorityQueue()
    for i in np.flatnonzero(scores > score_threshold):
        queue.push((scores[i], int(i), 0))
    count = min(len(queue), max_out)
    scale = f32(-0.5) / f32(sigma) if sigma > 0 else f32(0)
    selected, selected_scores = [], []
    while len(selected) < count and len(queue):
        original, index, begin = queue.pop()
        score = original
        hard = False
        # Against the boxes selected since its last visit, newest first.
        for iou in _iou(boxes, index, np.array(selected[begin:][::-1], np.int64)):
            if iou >= iou_threshold:
                hard = True
                break
            if sigma > 0:
                score = f32(score * f32(np.exp(f32(scale * iou * iou))))
            if score <= score_threshold:
                break
        if hard:
            continue
        # The candidate has now been compared with every box selected so far (itself too,
        # if selected now: a re-queued selected box suppresses itself at IoU 1).
        begin = len(selected)
        if score == original:
            selected.append(index)
            selected_scores.append(score)
        if score > score_threshold:
            queue.push((score, index, begin))
    return selected, selected_scores


def _nms(op, soft: bool):
    boxes, scores = op.inputs[0].data, op.inputs[1].data
    max_out = int(np.asarray(op.inputs[2].data).reshape(-1)[0])
    if max_out < 0:
        raise ValueError("NON_MAX_SUPPRESSION max_output_size %d < 0" % max_out)
    iou_t = np.float32(np.asarray(op.inputs[3].data).reshape(-1)[0])
    score_t = np.float32(np.asarray(op.inputs[4].data).reshape(-1)[0])
    sigma = np.float32(np.asarray(op.inputs[5].data).reshape(-1)[0]) if soft else np.float32(0)
    if sigma < 0:
        raise ValueError("NON_MAX_SUPPRESSION_V5 sigma %g < 0" % sigma)
    sel, sel_scores = _soft_nms(boxes, scores, max_out, iou_t, score_t, sigma)
    indices = np.zeros(max_out, np.int32)
    indices[:len(sel)] = sel
    count = np.array(len(sel), np.int32)
    if not soft:
        return [indices, count]
    out_scores = np.zeros(max_out, np.float32)
    out_scores[:len(sel)] = sel_scores
    return [indices, out_scores, count]


@register("NON_MAX_SUPPRESSION_V4", (np.float32,), shape=nms_shape)
def non_max_suppression_v4(op):
    return _nms(op, soft=False)


@register("NON_MAX_SUPPRESSION_V5", (np.float32,), shape=nms_shape)
def non_max_suppression_v5(op):
    return _nms(op, soft=True)


# -- WHERE -------------------------------------------------------------------------------------

def where_shape(op):
    value = known(op, 0)
    if value is None:
        return None
    return [(int(np.count_nonzero(value[0])), len(op.inputs[0].shape))]


@register("WHERE", WHERE_TYPES, shape=where_shape)
def where(op):
    return np.argwhere(op.inputs[0].data).astype(np.int64).reshape(-1, op.inputs[0].data.ndim)


# -- UNIQUE ------------------------------------------------------------------------------------

def _unique(x: np.ndarray):
    """Values in order of first occurrence, and each element's index into them."""
    values, first, inverse = np.unique(x, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return values[order], rank[inverse.reshape(-1)]


def unique_shape(op):
    if len(op.inputs[0].shape) != 1:
        raise ValueError("UNIQUE needs a 1-D input, got %s" % list(op.inputs[0].shape))
    value = known(op, 0)
    if value is None:
        return None
    return [(len(_unique(value[0])[0]),), tuple(op.inputs[0].shape)]


@register("UNIQUE", UNIQUE_TYPES, shape=unique_shape)
def unique(op):
    values, idx = _unique(op.inputs[0].data)
    return [values, idx.astype(op.outputs[1].dtype)]


# -- BUCKETIZE ---------------------------------------------------------------------------------

def _boundaries(op) -> np.ndarray:
    b = np.asarray(getattr(op.options, "boundaries", np.zeros(0)), np.float32).reshape(-1)
    if np.any(b[1:] < b[:-1]):
        raise ValueError("BUCKETIZE boundaries must be sorted")
    return b


def bucketize_shape(op):
    _boundaries(op)
    return [tuple(op.inputs[0].shape)]


@register("BUCKETIZE", BUCKETIZE_TYPES, shape=bucketize_shape)
def bucketize(op):
    # upper_bound compares value < boundary with C++'s usual conversions: a double input
    # widens the float boundaries, an integer input is converted to float.
    x = op.inputs[0].data
    common = np.float64 if x.dtype == np.float64 else np.float32
    return np.searchsorted(_boundaries(op).astype(common), x.astype(common),
                           side="right").astype(np.int32)


# -- SKIP_GRAM ---------------------------------------------------------------------------------

_SPACE = frozenset(b" \t\n\v\f\r")


def _words(text: bytes) -> list:
    """skip_gram.cc's split: the first byte is never taken for a separator."""
    words, prev = [], 0
    for i in range(1, len(text)):
        if text[i] in _SPACE:
            if i > prev and text[prev] not in _SPACE:
                words.append(text[prev:i])
            prev = i + 1
    if len(text) > prev:
        words.append(text[prev:])
    return words


def _skip_grams(words: list, n: int, max_skip: int, include_all: bool) -> list:
    """The kernel's enumeration, in its order: a stack of word indices, deepened while the
    next word is within max_skip of the previous one, emitting n-grams as it backs out."""
    if len(words) < n:
        return []
    grams, stack, depth = [], [0] * n, 1
    while depth >= 0:
        if depth < n and stack[depth] + 1 < len(words) and (
                depth == 0 or stack[depth] - stack[depth - 1] <= max_skip):
            stack[depth] += 1
            depth += 1
            if depth < n:
                stack[depth] = stack[depth - 1]
        else:
            if depth > 0 and (depth <= n if include_all else depth == n):
                grams.append(b" ".join(words[stack[i]] for i in range(depth)))
            depth -= 1
    return grams


@register("SKIP_GRAM", (object,))
def skip_gram(op):
    text = op.inputs[0].data.reshape(-1)[0]
    grams = _skip_grams(_words(bytes(text)), int(op.options.ngram_size),
                        int(op.options.max_skip_size), bool(op.options.include_all_ngrams))
    out = np.empty(len(grams), dtype=object)
    out[:] = grams
    return out
