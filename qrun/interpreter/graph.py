"""A subgraph made runnable: shapes propagated, kernels bound, tensors placed in the arena."""
from __future__ import annotations

import functools
import os
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import kernels  # noqa: F401  (fills the kernel table)
from .folding import fold, foldable
from .model import Operator, Subgraph, Tensor
from .planner import ALIGNMENT, Allocation, find_aliases, plan_arena
from .registry import SHAPES, dtype_key, find_kernel
from .schema import TENSOR_TYPE_NAMES

DEFAULT_MAX_ARENA_BYTES = 16 << 30
# Without a user cap, the arena may hold at most DERIVED_LIMIT_FACTOR times the activation
# bytes the model declares (scaled by how much resize_tensor_input grew the inputs), and at
# least MIN_DERIVED_LIMIT: a crafted shape cannot make qrun allocate gigabytes for a tiny model.
DERIVED_LIMIT_FACTOR = 4
MIN_DERIVED_LIMIT = 256 << 20
CAP_ENV = "QRUN_MAX_ARENA_BYTES"


def user_arena_cap(max_arena_bytes: Optional[int] = None) -> Optional[int]:
    """The arena cap the user set (bytes): `max_arena_bytes` (Interpreter(max_arena_bytes=))
    if given, else QRUN_MAX_ARENA_BYTES; None when neither is set."""
    if max_arena_bytes is not None:
        if not isinstance(max_arena_bytes, int) or isinstance(max_arena_bytes, bool):
            raise ValueError("max_arena_bytes=%r is not a number of bytes" % (max_arena_bytes,))
        if max_arena_bytes <= 0:
            raise ValueError("max_arena_bytes=%d must be positive" % max_arena_bytes)
        return max_arena_bytes
    value = os.environ.get(CAP_ENV)
    if not value:
        return None
    try:
        cap = int(value)
    except ValueError:
        raise ValueError("%s=%r is not a number of bytes" % (CAP_ENV, value)) from None
    if cap <= 0:
        raise ValueError("%s=%d must be positive" % (CAP_ENV, cap))
    return cap


def _declared_bytes(tensors) -> int:
    """Bytes of these tensors at their declared shapes (unknown dimensions counted as 1)."""
    return sum(functools.reduce(lambda a, d: a * max(d, 1), t.shape_signature, 1)
               * t.dtype.itemsize for t in tensors)


class UnsupportedOperatorError(RuntimeError):
    """The model uses ops that qrun has no kernel for; the message lists all of them."""


class Step:
    """One unit of invoke(): a numpy kernel call or a delegated partition."""
    ops: List[Operator]
    backend: str = "numpy"

    def run(self) -> None:
        raise NotImplementedError

    def set_profiling(self, enabled: bool) -> None:
        """Steps with inner timers (a partition's nodes) switch them here."""


class KernelStep(Step):
    def __init__(self, op: Operator, fn: Callable, dynamic: bool):
        self.ops = [op]
        self.op = op
        self.fn = fn
        self.dynamic = dynamic

    def run(self) -> None:
        op = self.op
        try:
            result = self.fn(op)
        except (ArithmeticError, IndexError, KeyError, TypeError, AttributeError) as exc:
            # A hostile model's parameters (a zero scale, an index past a dimension) reach
            # the reference kernels only at run time: an error naming the op, not a crash.
            raise RuntimeError("%s failed: %s: %s" % (describe_op(op), type(exc).__name__,
                                                      exc)) from exc
        if result is None:
            return
        results = result if isinstance(result, (list, tuple)) else [result]
        if len(results) != len(op.outputs):
            raise RuntimeError("Operator %d (%s): kernel returned %d outputs, expected %d"
                               % (op.index, op.opname, len(results), len(op.outputs)))
        for t, value in zip(op.outputs, results):
            value = np.asarray(value)
            if value.dtype != t.dtype:
                raise RuntimeError("Operator %d (%s): kernel produced %s for tensor %d of type %s"
                                   % (op.index, op.opname, value.dtype, t.index, t.dtype))
            if self.dynamic or t.data is None:
                # (ascontiguousarray alone would turn a 0-d result into shape (1,))
                t.data = np.ascontiguousarray(value).reshape(value.shape)
                t.shape = tuple(value.shape)
            elif value.shape != t.data.shape:
                raise RuntimeError("Operator %d (%s): kernel produced shape %s for tensor %d of "
                                   "shape %s" % (op.index, op.opname, list(value.shape),
                                                 t.index, list(t.data.shape)))
            else:
                np.copyto(t.data, value)


class AliasStep(KernelStep):
    """An op whose output is its input's bytes (planner.find_aliases): nothing to run."""

    def run(self) -> None:
        pass


def describe_op(op: Operator) -> str:
    types = ",".join(TENSOR_TYPE_NAMES.get(t.type_code, "?") if t is not None else "-"
                     for t in op.inputs)
    return "operator %d %s(%s)" % (op.index, op.opname, types)


class Graph:
    """Runs one subgraph. prepare() after any shape change; run() per invoke."""

    def __init__(self, subgraph: Subgraph, preserve_all_tensors: bool = False,
                 max_arena_bytes: Optional[int] = None, runtime=None):
        """max_arena_bytes: the user's cap (see user_arena_cap()); without one, the limit is
        derived from the model (arena_limit())."""
        self.subgraph = subgraph
        self.runtime = runtime   # interpreter-wide state (other subgraphs, resources)
        self.preserve_all_tensors = preserve_all_tensors
        self.max_arena_bytes = user_arena_cap(max_arena_bytes)
        self.declared_bytes = _declared_bytes(t for t in subgraph.tensors if not t.is_constant)
        self.declared_input_bytes = _declared_bytes(subgraph.tensors[i] for i in subgraph.inputs)
        self.steps: List[Step] = []
        self.arena: Optional[np.ndarray] = None
        self.arena_bytes = 0
        self.arena_offsets: Dict[int, int] = {}
        self.dynamic: set = set()
        self.aliases: Dict[int, tuple] = {}
        # The delegate's shape-independent plan buffers (packed weights), kept across prepare().
        self.delegate_weights: Dict[tuple, object] = {}
        self.prepared = False
        self.delegate = None
        self.folded: set = set()   # indices of the ops folded into constants (folding.py)
        self._variables_ready = False
        self.step_seconds: Optional[List[float]] = None

    # -- preparation -----------------------------------------------------------------

    def check_kernels(self) -> Dict[int, Callable]:
        found, missing = {}, []
        for op in self.subgraph.operators:
            entry = find_kernel(op)
            if entry is None:
                missing.append(describe_op(op))
            else:
                found[op.index] = entry.fn
        if missing:
            raise UnsupportedOperatorError(
                "qrun has no kernel for %d operator%s of this model: %s"
                % (len(missing), "s" if len(missing) > 1 else "", "; ".join(missing)))
        return found

    def propagate_shapes(self, functions: Dict[int, Callable]) -> None:
        """Output shapes from input shapes, op by op; an op whose inputs are all constant is
        folded into constant outputs the first time (folding.py)."""
        dynamic = set()
        known: Dict[tuple, np.ndarray] = {}
        for op in self.subgraph.operators:
            if op.index in self.folded:
                continue
            if any(t is not None and t.index in dynamic for t in op.inputs):
                dynamic.update(t.index for t in op.outputs)
                continue
            rule = self._bind(SHAPES.get(op.opname))
            try:
                shapes = rule(op) if rule is not None else None
            except (ValueError, IndexError, KeyError, TypeError, ZeroDivisionError,
                    AttributeError) as exc:   # AttributeError: an omitted (-1) input it needs
                raise RuntimeError("%s failed to prepare: %s" % (describe_op(op), exc)) from None
            if shapes is not None:
                self._set_shapes(op, shapes)
            fn = functions[op.index]
            if foldable(op, fn) and fold(op, fn, known, shaped=shapes is not None):
                self.folded.add(op.index)
            elif shapes is None:
                dynamic.update(t.index for t in op.outputs)
        self.dynamic = dynamic

    @staticmethod
    def _set_shapes(op: Operator, shapes) -> None:
        if len(shapes) != len(op.outputs):
            raise RuntimeError("%s: shape rule gave %d shapes for %d outputs"
                               % (describe_op(op), len(shapes), len(op.outputs)))
        for t, shape in zip(op.outputs, shapes):
            shape = tuple(int(d) for d in shape)
            if any(d < 0 for d in shape):
                raise RuntimeError("%s failed to prepare: negative output dimension in %s"
                                   % (describe_op(op), list(shape)))
            t.shape = shape

    def _bind(self, fn: Optional[Callable]) -> Optional[Callable]:
        """Kernels and shape rules marked `registry.uses_runtime` (control flow, resources)
        get the interpreter-wide Runtime as a keyword argument."""
        if fn is not None and getattr(fn, "uses_runtime", False):
            return functools.partial(fn, runtime=self.runtime)
        return fn

    def _lifetimes(self, extra_uses: Optional[Dict[int, Tuple[int, int]]] = None
                   ) -> List[Allocation]:
        """extra_uses: {tensor index: (first, last) op positions} where the delegate also uses
        a tensor (a PAD's input read by the convolution the PAD is folded into, a
        concatenation's output written by the producer of one of its inputs): its lifetime
        covers them."""
        sg = self.subgraph
        n = len(sg.operators)
        first: Dict[int, int] = {}
        last: Dict[int, int] = {}
        for i in sg.inputs:
            first[i] = -1
            last[i] = n
        for step_index, op in enumerate(sg.operators):
            for t in op.outputs + op.intermediates:
                first.setdefault(t.index, step_index)
                last[t.index] = max(last.get(t.index, step_index), step_index)
            for t in op.inputs:
                if t is not None and not t.is_constant:
                    first.setdefault(t.index, step_index)
                    last[t.index] = max(last.get(t.index, step_index), step_index)
        for t, (lo, hi) in (extra_uses or {}).items():
            if t in last:
                first[t] = min(first[t], lo)
                last[t] = max(last[t], hi)
        for i in sg.outputs:
            last[i] = n
        allocs = []
        for t in sg.tensors:
            if (t.is_constant or t.index in self.dynamic or t.index not in first
                    or t.dtype.hasobject):
                continue
            if t.is_variable:
                first[t.index], last[t.index] = -1, n
            allocs.append(Allocation(t.index, t.nbytes, first[t.index], last[t.index]))
        return allocs

    def arena_limit(self) -> int:
        """The user's cap if set, else the limit derived from the model (see
        DERIVED_LIMIT_FACTOR), never above DEFAULT_MAX_ARENA_BYTES."""
        if self.max_arena_bytes is not None:
            return self.max_arena_bytes
        sg = self.subgraph
        now = sum(sg.tensors[i].nbytes for i in sg.inputs)
        growth = max(1.0, now / max(self.declared_input_bytes, 1))
        derived = int(DERIVED_LIMIT_FACTOR * growth * self.declared_bytes)
        return min(DEFAULT_MAX_ARENA_BYTES, max(MIN_DERIVED_LIMIT, derived))

    def arena_cap(self) -> int:
        """The most any one tensor may take, whatever the inputs: the user's cap if set, else
        DEFAULT_MAX_ARENA_BYTES (resize_tensor_input checks inputs against it)."""
        return DEFAULT_MAX_ARENA_BYTES if self.max_arena_bytes is None else self.max_arena_bytes

    def _limit_hint(self) -> str:
        return ("the user cap (max_arena_bytes or %s)" % CAP_ENV
                if self.max_arena_bytes is not None else
                "the limit derived from the model's declared tensor sizes (set %s to raise it)"
                % CAP_ENV)

    def plan_memory(self, extra_uses: Optional[Dict[int, Tuple[int, int]]] = None) -> None:
        allocs = self._lifetimes(extra_uses)
        limit = self.arena_limit()
        # String tensors live outside the arena (a pointer per element): bounded the same way.
        strings = [t for t in self.subgraph.tensors if t.dtype.hasobject and not t.is_constant
                   and t.index not in self.dynamic]
        for t in [self.subgraph.tensors[a.tensor] for a in allocs] + strings:
            if t.nbytes > limit:
                raise RuntimeError("Tensor %d (%s) of shape %s needs %d bytes, over the %d-byte "
                                   "limit: %s" % (t.index, t.name, list(t.shape), t.nbytes,
                                                  limit, self._limit_hint()))
        # Kept tensors keep their own bytes (TFLite shares none then either).
        self.aliases = {} if self.preserve_all_tensors else find_aliases(self.subgraph,
                                                                         self.dynamic)
        offsets, total = plan_arena(allocs, share=not self.preserve_all_tensors,
                                    aliases=self.aliases.values())
        if total > limit:
            raise RuntimeError("The arena would need %d bytes, over the %d-byte limit: %s"
                               % (total, limit, self._limit_hint()))
        owner = np.zeros(total + ALIGNMENT, np.uint8)
        start = (-owner.ctypes.data) % ALIGNMENT
        arena = owner[start:start + total]
        for t in self.subgraph.tensors:
            if t.is_constant:
                t.data = t.constant
            elif t.index in offsets:
                off = offsets[t.index]
                t.data = arena[off:off + t.nbytes].view(t.dtype).reshape(t.shape)
            elif t.dtype.hasobject and t.index not in self.dynamic:
                # String tensors hold Python bytes objects, outside the arena.
                t.data = np.full(t.shape, b"", dtype=object)
            else:
                t.data = None
        self.arena_owner = owner
        self.arena = arena
        self.arena_bytes = total
        self.arena_offsets = offsets

    def prepare(self, delegate=None) -> None:
        functions = self.check_kernels()
        self.propagate_shapes(functions)
        self.plan_memory(delegate.extra_uses(self) if delegate is not None else None)
        steps: List[Step] = [
            (AliasStep if op.index in self.aliases else KernelStep)(
                op, self._bind(functions[op.index]),
                any(t.index in self.dynamic for t in op.outputs))
            for op in self.subgraph.operators if op.index not in self.folded]
        if delegate is not None:
            steps = delegate.partition(self, steps)
        self.steps = steps
        self.step_seconds = None
        self.delegate = delegate
        self.reset_variables()
        self.prepared = True

    def reset_variables(self) -> None:
        """Variable tensors start at zero (int8: at their zero point), as TFLite resets them."""
        for t in self.subgraph.tensors:
            if t.is_variable and t.data is not None:
                fill = t.zero_point if t.dtype == np.int8 else 0
                t.data[...] = fill

    # -- execution ---------------------------------------------------------------------

    def set_profiling(self, enabled: bool) -> None:
        """Time each step of every run into step_seconds (and the nodes inside steps)."""
        for step in self.steps:
            step.set_profiling(enabled)
        self.step_seconds = [0.0] * len(self.steps) if enabled else None

    def run(self) -> None:
        if self.step_seconds is not None:
            self._run_timed(self.step_seconds)
            return
        for step in self.steps:
            step.run()

    def _run_timed(self, seconds: List[float]) -> None:
        clock = time.perf_counter
        for i, step in enumerate(self.steps):
            start = clock()
            step.run()
            seconds[i] = clock() - start

    def internal_arena_refs(self) -> int:
        import sys
        return sys.getrefcount(self.arena_owner) - 1

    @property
    def tensors(self) -> Sequence[Tensor]:
        return self.subgraph.tensors
