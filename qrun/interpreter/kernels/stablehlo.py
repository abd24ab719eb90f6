"""The StableHLO ops of LiteRT's builtin resolver, but for COMPOSITE and CASE (subgraph
calls): STABLEHLO_ADD, STABLEHLO_MULTIPLY, STABLEHLO_MAXIMUM, STABLEHLO_MINIMUM (same-shape
elementwise, integers wrap), STABLEHLO_PAD (edge padding, negative to crop, and interior
padding), STABLEHLO_GATHER (XLA gather: one fancy index over every slice at once),
STABLEHLO_RNG_BIT_GENERATOR (Philox4x32 and Threefry2x32 streams, as tflite::rng),
STABLEHLO_REDUCE_WINDOW (base dilation and padding with the init value, then the windows of
REDUCE_WINDOW) and STABLEHLO_SCATTER (every update's target at once, then one unbuffered
ufunc in update order). The reduction of the last two is the single op of their body
subgraph, as LiteRT reads it.
"""
from __future__ import annotations

import numpy as np

from ..registry import register, uses_runtime
from .math_extra import reduce_windows, window_output_shape
from .random_ops import philox4x32

TYPES = (np.float32, np.float16, np.int8, np.int16, np.int32, np.int64, np.uint8)


def elementwise_shape(op):
    a, b = op.inputs[0], op.inputs[1]
    if a.dtype != b.dtype or tuple(a.shape) != tuple(b.shape):
        raise ValueError("%s needs operands of one type and shape, got %s %s and %s %s"
                         % (op.opname, a.dtype, list(a.shape), b.dtype, list(b.shape)))
    return [tuple(a.shape)]


def _elementwise(fn):
    def kernel(op):
        return fn(op.inputs[0].data, op.inputs[1].data).astype(op.outputs[0].dtype)
    return kernel


for _name, _fn in (("STABLEHLO_ADD", np.add), ("STABLEHLO_MULTIPLY", np.multiply),
                   ("STABLEHLO_MAXIMUM", np.maximum), ("STABLEHLO_MINIMUM", np.minimum)):
    register(_name, TYPES, shape=elementwise_shape)(_elementwise(_fn))


def _pad_params(op):
    rank = len(op.inputs[0].shape)
    params = [np.asarray(getattr(op.options, name, ()), np.int64).reshape(-1)
              for name in ("edge_padding_low", "edge_padding_high", "interior_padding")]
    if any(len(p) != rank for p in params) or np.any(params[2] < 0):
        raise ValueError("STABLEHLO_PAD needs %d low, high and non-negative interior paddings"
                         % rank)
    return params


def pad_shape(op):
    if tuple(op.inputs[1].shape) not in ((), (1,)):
        raise ValueError("STABLEHLO_PAD padding value must be a scalar")
    low, high, interior = _pad_params(op)
    shape = []
    for n, lo, hi, gap in zip(op.inputs[0].shape, low, high, interior):
        size = lo + hi + (n + (n - 1) * gap if n else 0)
        if size < 0:
            raise ValueError("STABLEHLO_PAD crops dimension of %d below 0" % n)
        shape.append(int(size))
    return [tuple(shape)]


def pad_crop(x: np.ndarray, value, low, high, interior) -> np.ndarray:
    """Interior padding first (a dilation), then the edges: padded with `value` where
    positive, cropped where negative."""
    spread = tuple(n + (n - 1) * g if n else 0 for n, g in zip(x.shape, interior))
    full = np.full(tuple(s + max(lo, 0) + max(hi, 0) for s, lo, hi in zip(spread, low, high)),
                   value, x.dtype)
    full[tuple(slice(max(lo, 0), max(lo, 0) + s, g + 1)
               for lo, s, g in zip(low, spread, interior))] = x
    return full[tuple(slice(max(-lo, 0), n - max(-hi, 0))
                      for lo, hi, n in zip(low, high, full.shape))]


@register("STABLEHLO_PAD", TYPES, shape=pad_shape)
def stablehlo_pad(op):
    value = np.asarray(op.inputs[1].data).reshape(-1)[0]
    return pad_crop(op.inputs[0].data, value, *_pad_params(op))


# -- STABLEHLO_GATHER --------------------------------------------------------------------------

GATHER_TYPES = (np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64,
                np.uint8, np.uint16, np.uint32)


def _gather_params(op):
    o = op.options
    params = {name: [int(v) for v in np.asarray(getattr(o, name, ()), np.int64).reshape(-1)]
              for name in ("offset_dims", "collapsed_slice_dims", "start_index_map",
                           "slice_sizes")}
    params["index_vector_dim"] = int(getattr(o, "index_vector_dim", 0))
    return params


def gather_shape(op):
    operand, indices = tuple(op.inputs[0].shape), tuple(op.inputs[1].shape)
    p = _gather_params(op)
    ivd = p["index_vector_dim"]
    if len(p["slice_sizes"]) != len(operand) or not 0 <= ivd <= len(indices) or any(
            not 0 <= s <= n for s, n in zip(p["slice_sizes"], operand)) or any(
            p["slice_sizes"][d] != 1 for d in p["collapsed_slice_dims"]):
        raise ValueError("STABLEHLO_GATHER slice_sizes %s, collapsed dims %s and "
                         "index_vector_dim %d do not fit operand %s and indices %s"
                         % (p["slice_sizes"], p["collapsed_slice_dims"], ivd, list(operand),
                            list(indices)))
    vector = indices[ivd] if ivd < len(indices) else 1
    if len(p["start_index_map"]) != vector:
        raise ValueError("STABLEHLO_GATHER start_index_map %s for index vectors of %d"
                         % (p["start_index_map"], vector))
    batch = list(indices[:ivd] + indices[ivd + 1:])
    offsets = [s for d, s in enumerate(p["slice_sizes"]) if d not in p["collapsed_slice_dims"]]
    if len(offsets) != len(p["offset_dims"]):
        raise ValueError("STABLEHLO_GATHER has %d offset dims for %d slice dims"
                         % (len(p["offset_dims"]), len(offsets)))
    shape = [offsets.pop(0) if d in p["offset_dims"] else batch.pop(0)
             for d in range(len(indices) - (ivd < len(indices)) + len(p["offset_dims"]))]
    return [tuple(shape)]


@register("STABLEHLO_GATHER", GATHER_TYPES, shape=gather_shape)
def stablehlo_gather(op):
    operand, p = op.inputs[0].data, _gather_params(op)
    idx = op.inputs[1].data.astype(np.int64)
    ivd = p["index_vector_dim"]
    idx = idx[..., None] if ivd == idx.ndim else np.moveaxis(idx, ivd, -1)
    vectors = idx.reshape(-1, idx.shape[-1])
    count, rank = len(vectors), operand.ndim
    sizes = np.asarray(p["slice_sizes"], np.int64)
    start = np.zeros((count, rank), np.int64)
    start[:, p["start_index_map"]] = vectors
    # Starts are moved back so that each slice fits (the reference clamps from above).
    start = np.clip(start, 0, np.asarray(operand.shape, np.int64) - sizes)
    grid = []
    for d in range(rank):
        along = [1] * (rank + 1)
        along[1 + d] = int(sizes[d])
        grid.append(start[:, d].reshape([count] + [1] * rank) + np.arange(sizes[d]).reshape(along))
    slices = operand[tuple(grid)]                      # [count] + slice_sizes
    kept = [d for d in range(rank) if d not in p["collapsed_slice_dims"]]
    slices = slices.reshape(idx.shape[:-1] + tuple(int(sizes[d]) for d in kept))
    batch_rank = idx.ndim - 1
    order, b, o = [], 0, batch_rank
    for d in range(slices.ndim):   # offset dims where offset_dims says, batch dims between
        if d in p["offset_dims"]:
            order.append(o)
            o += 1
        else:
            order.append(b)
            b += 1
    return slices.transpose(order)


# -- STABLEHLO_RNG_BIT_GENERATOR ---------------------------------------------------------------

DEFAULT, PHILOX, THREEFRY = 0, 1, 2
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def _threefry2x32(c0: np.ndarray, c1: np.ndarray, k0: int, k1: int) -> list:
    """tflite::rng::Threefry2x32 (20 rounds) on arrays of counters."""
    u32 = np.uint32
    keys = (u32(k0), u32(k1), u32(k0 ^ k1 ^ 0x1BD11BDA))
    x0, x1 = c0 + keys[0], c1 + keys[1]
    schedule = ((0, 1, 2, 1), (1, 2, 0, 2), (0, 0, 1, 3), (1, 1, 2, 4), (0, 2, 0, 5))
    for r, i0, i1, b in schedule:
        for rot in _ROTATIONS[r]:
            x0 = x0 + x1
            x1 = (x1 << u32(rot)) | (x1 >> u32(32 - rot))
            x1 = x1 ^ x0
        x0 = x0 + keys[i0]
        x1 = x1 + keys[i1] + u32(b)
    return [x0, x1]


def rng_bit_generator_shape(op):
    state = tuple(op.inputs[0].shape)
    algorithm = int(getattr(op.options, "algorithm", DEFAULT))
    if op.inputs[0].dtype != np.uint64 or len(state) != 1 or state[0] not in (
            (2,) if algorithm == THREEFRY else (2, 3)):
        raise ValueError("STABLEHLO_RNG_BIT_GENERATOR needs a uint64 state of 2 (THREEFRY) "
                         "or 2 to 3 (PHILOX) values, got %s %s"
                         % (op.inputs[0].dtype, list(state)))
    if algorithm not in (DEFAULT, PHILOX, THREEFRY):
        raise ValueError("STABLEHLO_RNG_BIT_GENERATOR algorithm %d is unknown" % algorithm)
    return [state, tuple(op.outputs[1].shape)]


@register("STABLEHLO_RNG_BIT_GENERATOR", (np.uint64,), shape=rng_bit_generator_shape)
def rng_bit_generator(op):
    state = np.ascontiguousarray(op.inputs[0].data)
    words = state.view(np.uint32)
    out = op.outputs[1]
    count = int(np.prod(out.shape, dtype=np.int64)) * (out.dtype.itemsize // 4)
    per_call = 2 if op.options.algorithm == THREEFRY else 4
    calls = -(-count // per_call)
    # The counter is the 64-bit pair (ctr[0], ctr[1]), one increment per call.
    start = int(words[2]) | (int(words[3]) << 32)
    counter = (np.uint64(start) + np.arange(calls, dtype=np.uint64))
    c0, c1 = (counter & np.uint64(0xFFFFFFFF)).astype(np.uint32), \
        (counter >> np.uint64(32)).astype(np.uint32)
    k0, k1 = int(words[0]), int(words[1])
    if op.options.algorithm == THREEFRY:
        with np.errstate(over="ignore"):
            bits = _threefry2x32(c0, c1, k0, k1)
    else:
        high = (words[4], words[5]) if len(state) == 3 else (words[0], words[1])
        bits = philox4x32([c0, c1, np.full(calls, high[0]), np.full(calls, high[1])], k0, k1)
    values = np.stack(bits, axis=1).reshape(-1)[:count]
    end = (start + calls) % (1 << 64)
    new_state = words.copy()
    new_state[2:4] = (end & 0xFFFFFFFF, end >> 32)
    return [new_state.view(np.uint64), values.view(out.dtype).reshape(out.shape)]


# -- STABLEHLO_REDUCE_WINDOW -------------------------------------------------------------------

# The one op of the body subgraph -> ReduceWindowFunction (as GetBodyFunction maps them).
_BODY_FUNCTIONS = {"ADD": 1, "STABLEHLO_ADD": 1, "MUL": 2, "STABLEHLO_MULTIPLY": 2,
                   "MINIMUM": 3, "STABLEHLO_MINIMUM": 3, "MAXIMUM": 4, "STABLEHLO_MAXIMUM": 4,
                   "LOGICAL_AND": 5, "STABLEHLO_AND": 5, "LOGICAL_OR": 6, "STABLEHLO_OR": 6}
REDUCE_WINDOW_TYPES = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.float32, np.float64)


def _window_options(op):
    rank = len(op.inputs[0].shape)

    def vector(name, default, count):
        v = [int(x) for x in np.asarray(getattr(op.options, name, ()), np.int64).reshape(-1)]
        return v or [default] * count

    window, strides, base, dilations = (vector(name, 1, rank) for name in (
        "window_dimensions", "window_strides", "base_dilations", "window_dilations"))
    padding = vector("padding", 0, 2 * rank)   # (low, high) pairs
    if any(len(v) != rank for v in (window, strides, base, dilations)) or \
            len(padding) != 2 * rank or min(window + strides + base + dilations) < 1:
        raise ValueError("STABLEHLO_REDUCE_WINDOW needs %d positive window dimensions, "
                         "strides and dilations and %d paddings" % (rank, 2 * rank))
    return window, strides, base, dilations, padding[0::2], padding[1::2]


def _body_function(op, runtime) -> int:
    index = int(getattr(op.options, "body_subgraph_index", 0))
    subgraphs = runtime.model.subgraphs
    if not 0 < index < len(subgraphs) or len(subgraphs[index].operators) != 1:
        raise ValueError("STABLEHLO_REDUCE_WINDOW body subgraph %d must hold exactly one op"
                         % index)
    name = subgraphs[index].operators[0].opname
    if name not in _BODY_FUNCTIONS:
        raise ValueError("STABLEHLO_REDUCE_WINDOW body op %s is not a supported reduction"
                         % name)
    return _BODY_FUNCTIONS[name]


@uses_runtime
def stablehlo_reduce_window_shape(op, runtime):
    _body_function(op, runtime)
    if op.inputs[1].dtype != op.inputs[0].dtype or len(op.inputs[0].shape) > 6:
        raise ValueError("STABLEHLO_REDUCE_WINDOW needs an init value of the input's type and "
                         "a rank of at most 6")
    window, strides, base, dilations, low, high = _window_options(op)
    padded = []
    for n, b, lo, hi in zip(op.inputs[0].shape, base, low, high):
        size = (n - 1) * b + 1 + lo + hi
        if size <= 0:
            raise ValueError("STABLEHLO_REDUCE_WINDOW padding leaves an empty tensor")
        padded.append(size)
    return [window_output_shape(padded, window, strides, dilations)]


@register("STABLEHLO_REDUCE_WINDOW", REDUCE_WINDOW_TYPES, shape=stablehlo_reduce_window_shape)
@uses_runtime
def stablehlo_reduce_window(op, runtime):
    window, strides, base, dilations, low, high = _window_options(op)
    init = np.asarray(op.inputs[1].data).reshape(-1)[0]
    # Dilate and pad (or crop) with the init value, then reduce each window.
    padded = pad_crop(op.inputs[0].data, init, low, high, [b - 1 for b in base])
    return reduce_windows(padded, init, _body_function(op, runtime), window, strides,
                          dilations)


# -- STABLEHLO_SCATTER -------------------------------------------------------------------------

# The body subgraph: no op replaces; one op combines the operand value with the update.
_SCATTER_COMBINE = {"STABLEHLO_ADD": np.add, "STABLEHLO_MULTIPLY": np.multiply,
                    "STABLEHLO_MAXIMUM": np.maximum, "STABLEHLO_MINIMUM": np.minimum}


def _scatter_params(op):
    o = op.options
    params = {name: [int(v) for v in np.asarray(getattr(o, name, ()), np.int64).reshape(-1)]
              for name in ("update_window_dims", "inserted_window_dims",
                           "scatter_dims_to_operand_dims")}
    params["index_vector_dim"] = int(getattr(o, "index_vector_dim", 0))
    return params


def _scatter_combine(op, runtime):
    index = int(getattr(op.options, "update_computation_subgraph_index", 0))
    subgraphs = runtime.model.subgraphs
    if not 0 < index < len(subgraphs) or len(subgraphs[index].operators) > 1:
        raise ValueError("STABLEHLO_SCATTER update computation %d must be a subgraph of at "
                         "most one op" % index)
    ops = subgraphs[index].operators
    if ops and ops[0].opname not in _SCATTER_COMBINE:
        raise ValueError("STABLEHLO_SCATTER update computation %s is not supported"
                         % ops[0].opname)
    return _SCATTER_COMBINE[ops[0].opname] if ops else None


@uses_runtime
def stablehlo_scatter_shape(op, runtime):
    _scatter_combine(op, runtime)
    operand, indices, updates = (tuple(t.shape) for t in op.inputs[:3])
    p = _scatter_params(op)
    ivd = p["index_vector_dim"]
    vector = indices[ivd] if ivd < len(indices) else 1
    if op.inputs[2].dtype != op.inputs[0].dtype or not 0 <= ivd <= len(indices) or \
            len(p["scatter_dims_to_operand_dims"]) != vector or \
            len(p["update_window_dims"]) + len(p["inserted_window_dims"]) != len(operand) or \
            len(updates) - len(p["update_window_dims"]) != len(indices) - (ivd < len(indices)):
        raise ValueError("STABLEHLO_SCATTER dimension numbers %s do not fit operand %s, "
                         "indices %s and updates %s"
                         % (p, list(operand), list(indices), list(updates)))
    return [operand]


@register("STABLEHLO_SCATTER", GATHER_TYPES, shape=stablehlo_scatter_shape)
@uses_runtime
def stablehlo_scatter(op, runtime):
    out = op.inputs[0].data.copy()
    idx, updates = op.inputs[1].data.astype(np.int64), op.inputs[2].data
    p = _scatter_params(op)
    ivd = p["index_vector_dim"]
    idx = idx[..., None] if ivd == idx.ndim else np.moveaxis(idx, ivd, -1)
    # Every update element's position in the updates, as rows of coordinates.
    where = np.indices(updates.shape).reshape(updates.ndim, -1)
    batch = [d for d in range(updates.ndim) if d not in p["update_window_dims"]]
    starts = idx[tuple(where[batch])] if batch else np.broadcast_to(idx, (where.shape[1],) +
                                                                   idx.shape[-1:])
    target = np.zeros((where.shape[1], out.ndim), np.int64)
    target[:, p["scatter_dims_to_operand_dims"]] = starts
    window_dims = [d for d in range(out.ndim) if d not in p["inserted_window_dims"]]
    target[:, window_dims] += where[p["update_window_dims"]].T
    # Updates aimed outside the operand are dropped, as the reference interpreter does.
    keep = np.all((target >= 0) & (target < np.asarray(out.shape)), axis=1)
    flat = np.ravel_multi_index(tuple(target[keep].T), out.shape) if out.ndim else \
        np.zeros(int(keep.sum()), np.int64)
    values = updates.reshape(-1)[keep]
    combine = _scatter_combine(op, runtime)
    view = out.reshape(-1)
    if combine is None:
        view[flat] = values            # in order: a repeated position keeps the last update
    else:
        combine.at(view, flat, values)
    return view.reshape(out.shape)
