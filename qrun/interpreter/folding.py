"""Constant folding: an op whose inputs are all constants runs once, at prepare, on its numpy
kernel, and its outputs become constants. The ops after it then see constant operands (the
delegate takes some ops only with a constant operand), and the folded op leaves invoke()."""
from __future__ import annotations

import hashlib
from typing import Callable, Dict, Tuple

import numpy as np

from .model import Operator

# Ops that must run at every invoke although their inputs are constant: fresh random values.
# (Ops that touch the interpreter's resources or other subgraphs are marked uses_runtime.)
NOT_FOLDED = frozenset(("RANDOM_STANDARD_NORMAL", "RANDOM_UNIFORM", "MULTINOMIAL",
                        "STABLEHLO_RNG_BIT_GENERATOR"))
# A folded output is kept for the interpreter's life, outside the arena: at most this many
# bytes per tensor (a constant broadcast to a huge shape stays an op).
MAX_FOLDED_BYTES = 16 << 20


def foldable(op: Operator, fn: Callable) -> bool:
    inputs = [t for t in op.inputs if t is not None]
    return (not op.is_custom and op.opname not in NOT_FOLDED and not op.intermediates
            and not getattr(fn, "uses_runtime", False) and bool(inputs) and bool(op.outputs)
            and all(t.is_constant for t in inputs)
            and not any(t.is_variable or t.dtype.hasobject or t.is_constant for t in op.outputs))


def fold(op: Operator, fn: Callable, known: Dict[Tuple, np.ndarray], shaped: bool) -> bool:
    """Runs `op` (foldable()) on its constant inputs; on success its outputs become read-only
    constants, equal results sharing one array through `known`. shaped: the output shapes are
    propagated (the kernel may write into them), else the kernel's results give them. False
    (nothing changed) when the kernel fails or gives what the op does not declare: the op then
    stays in the graph and reports the problem at invoke."""
    for t in op.inputs:
        if t is not None:
            t.data = t.constant
    for t in op.outputs:
        t.data = np.zeros(t.shape, t.dtype) if shaped else None
    try:
        result = fn(op)
    except Exception:   # noqa: BLE001 (any failure: the op runs, and raises, at invoke)
        result = None
        ok = False
    else:
        ok = True
    if ok:
        values = [t.data for t in op.outputs] if result is None else \
            list(result) if isinstance(result, (list, tuple)) else [result]
        ok = len(values) == len(op.outputs) and all(
            isinstance(v, np.ndarray) and v.dtype == t.dtype
            and (v.shape == tuple(t.shape) or not shaped) and v.nbytes <= MAX_FOLDED_BYTES for t, v in zip(op.outputs, values))
    for t in op.outputs:
        t.data = None
    if not ok:
        return False
    for t, value in zip(op.outputs, values):
        # A view into a writable array that is not ours is copied; the kernel's own
        # arrays and views of the model's (read-only) constants are kept as they are.
        value = np.ascontiguousarray(value)
        if value.base is not None and value.flags.writeable:
            value = value.copy()
        key = (value.dtype.str, value.shape, hashlib.blake2b(value.tobytes()).digest())
        same = known.get(key)
        if same is None:
            same = known[key] = value
            same.setflags(write=False)
        t.constant, t.shape = same, same.shape
    return True
