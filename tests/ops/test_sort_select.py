"""TOPK_V2, NON_MAX_SUPPRESSION_V4/V5, WHERE, UNIQUE and BUCKETIZE against LiteRT BUILTIN_REF:
every dtype LiteRT accepts, odd and batched shapes, constant and run-time parameters."""
from __future__ import annotations

import numpy as np
import pytest

from qrun.modelbuilder import ModelBuilder
from tests.oracle import check_against_litert
from tests.ops.test_data_movement import Op

TOPK_TYPES = [np.float32, np.uint8, np.int8, np.int16, np.int32, np.int64]


@pytest.mark.parametrize("dtype", TOPK_TYPES)
# (LiteRT cannot read back an empty run-time-sized output, so k=0 only as a constant.)
@pytest.mark.parametrize("shape,k,runtime_k", [
    ((7,), 3, False), ((2, 5), 5, False), ((2, 3, 9), 1, False), ((3, 4), 0, False),
    ((7,), 3, True), ((2, 5), 5, True), ((2, 3, 9), 4, True)])
def test_topk(dtype, shape, k, runtime_k):
    out = shape[:-1] + (k,)
    Op(seed=k).data(shape, dtype).index(np.int32(k), runtime=runtime_k).run(
        "TOPK_V2", [(out, dtype), (out, np.int32, None)])


def test_topk_ties():
    b = ModelBuilder()
    x = b.add_input((2, 8), np.int8, scale=0.1, zero_point=0)
    k = b.add_constant(np.int32(5))
    v = b.mark_output(b.add_tensor((2, 5), np.int8, scale=0.1, zero_point=0))
    i = b.mark_output(b.add_tensor((2, 5), np.int32))
    b.add_op("TOPK_V2", [x, k], [v, i])
    data = np.array([[3, 1, 3, 3, -128, 1, 7, 3], [-128] * 8], np.int8)
    check_against_litert(b.build(), inputs=[data])


def _boxes(n, seed):
    rng = np.random.default_rng(seed)
    corner = rng.uniform(0, 1, (n, 2))
    size = rng.uniform(0.05, 0.5, (n, 2))
    boxes = np.concatenate([corner, corner + size], axis=1)
    flip = rng.integers(0, 2, n).astype(bool)  # corners in either order
    boxes[flip] = boxes[flip][:, [2, 3, 0, 1]]
    return boxes.astype(np.float32), rng.permutation(n).astype(np.float32) / n


@pytest.mark.parametrize("n,max_out", [(10, 4), (25, 25), (7, 10), (1, 1), (30, 0)])
@pytest.mark.parametrize("iou,score", [(0.5, 0.0), (0.3, 0.4), (0.0, -1.0), (1.0, 0.9)])
@pytest.mark.parametrize("sigma", [None, 0.0, 0.5])
def test_non_max_suppression(n, max_out, iou, score, sigma):
    boxes, scores = _boxes(n, n + max_out)
    b = ModelBuilder()
    ins = [b.add_input((n, 4), np.float32), b.add_input((n,), np.float32),
           b.add_constant(np.int32(max_out)), b.add_constant(np.float32(iou)),
           b.add_constant(np.float32(score))]
    outs = [b.add_tensor((max_out,), np.int32)]
    if sigma is not None:
        ins.append(b.add_constant(np.float32(sigma)))
        outs.append(b.add_tensor((max_out,), np.float32))
    outs.append(b.add_tensor((), np.int32))
    for o in outs:
        b.mark_output(o)
    b.add_op("NON_MAX_SUPPRESSION_V4" if sigma is None else "NON_MAX_SUPPRESSION_V5", ins, outs)
    check_against_litert(b.build(), inputs=[boxes, scores])


WHERE_TYPES = [np.bool_, np.float32, np.int32, np.int64, np.int8, np.uint8, np.uint32]


@pytest.mark.parametrize("dtype", WHERE_TYPES)
@pytest.mark.parametrize("shape", [(7,), (2, 3, 5), (1, 2, 3, 4)])
def test_where(dtype, shape):
    rng = np.random.default_rng(len(shape))
    value = (rng.integers(0, 3, shape) * rng.integers(-2, 3, shape)).astype(dtype)
    b = ModelBuilder()
    x = b.add_input(shape, dtype)
    y = b.mark_output(b.add_tensor((1, len(shape)), np.int64))
    b.add_op("WHERE", [x], [y])
    check_against_litert(b.build(), inputs=[value])


@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.uint8, np.int16, np.int32, np.int64])
@pytest.mark.parametrize("idx_type", [np.int32, np.int64])
@pytest.mark.parametrize("n", [1, 9, 40])
def test_unique(dtype, idx_type, n):
    rng = np.random.default_rng(n)
    value = rng.integers(0, 6, n).astype(dtype) * np.array(3, dtype)
    b = ModelBuilder()
    x = b.add_input((n,), dtype)
    y = b.mark_output(b.add_tensor((n,), dtype))
    i = b.mark_output(b.add_tensor((n,), idx_type))
    b.add_op("UNIQUE", [x], [y, i], idx_out_type=2 if idx_type == np.int32 else 4)
    check_against_litert(b.build(), inputs=[value])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("boundaries", [[-5.0, 0.0, 0.5, 3.0, 7.25], [0.0], []])
def test_bucketize(dtype, boundaries):
    rng = np.random.default_rng(len(boundaries))
    value = rng.uniform(-8, 8, (2, 3, 5)).round(1).astype(dtype)
    value.flat[:len(boundaries)] = boundaries
    b = ModelBuilder()
    x = b.add_input(value.shape, dtype)
    y = b.mark_output(b.add_tensor(value.shape, np.int32))
    b.add_op("BUCKETIZE", [x], [y], boundaries=np.asarray(boundaries, np.float32))
    check_against_litert(b.build(), inputs=[value])


SENTENCES = [b"the quick brown fox jumps over", b" leading  and\ttrailing spaces ", b"one",
             b"a b c d e f g h", b""]


@pytest.mark.parametrize("text", SENTENCES)
@pytest.mark.parametrize("ngram,skip,include_all", [(1, 0, False), (2, 0, False),
                                                    (2, 1, True), (3, 2, False), (3, 1, True)])
def test_skip_gram(text, ngram, skip, include_all):
    b = ModelBuilder()
    x = b.add_input((1,), np.bytes_, type_code=5)
    y = b.mark_output(b.add_tensor((1,), np.bytes_, type_code=5))
    b.add_op("SKIP_GRAM", [x], [y], ngram_size=ngram, max_skip_size=skip,
             include_all_ngrams=include_all)
    check_against_litert(b.build(), inputs=[np.array([text], dtype=object)])


@pytest.mark.parametrize("n", [6, 13, 32])
@pytest.mark.parametrize("sigma", [None, 0.4])
def test_non_max_suppression_ties(n, sigma):
    """Equal scores: the order among them is that of the kernel's std::priority_queue."""
    boxes, _ = _boxes(n, n)
    boxes[:, 2:] = boxes[:, :2] + 0.01  # small boxes: few overlaps
    scores = np.random.default_rng(n).integers(0, 3, n).astype(np.float32) / 4
    b = ModelBuilder()
    ins = [b.add_input((n, 4), np.float32), b.add_input((n,), np.float32),
           b.add_constant(np.int32(n)), b.add_constant(np.float32(0.5)),
           b.add_constant(np.float32(0.1))]
    outs = [b.add_tensor((n,), np.int32)]
    if sigma is not None:
        ins.append(b.add_constant(np.float32(sigma)))
        outs.append(b.add_tensor((n,), np.float32))
    outs.append(b.add_tensor((), np.int32))
    for o in outs:
        b.mark_output(o)
    b.add_op("NON_MAX_SUPPRESSION_V4" if sigma is None else "NON_MAX_SUPPRESSION_V5", ins, outs)
    check_against_litert(b.build(), inputs=[boxes, scores])
