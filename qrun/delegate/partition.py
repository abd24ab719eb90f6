"""The partitioner: maximal runs of supported ops become one DelegateStep (one C call)."""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from ..interpreter.graph import KernelStep, Step
from .fusion import ConcatSlices, Fusions, PadFolds, concat_slice_writes, pad_fold_reads
from .plan import PlanContext, PlanError
from .table import OPS, unsupported_reason


class DelegateStep(Step):
    """A partition: its ops' plan, run by one qrun_execute call (cffi releases the GIL)."""
    backend = "c"

    def __init__(self, ops, ctx, entries, pool, node_ops):
        """entries: the (kind name, params cdata) nodes of the ops, from the plan builders;
        ctx owns every buffer they point to; pool: the delegate's thread pool (NULL: one
        thread); node_ops: the op of each node (for the profiler)."""
        self.ops = list(ops)
        self.node_ops = list(node_ops)
        self.isa = ctx.backend.isa
        lib = ctx.backend.lib
        nodes = ctx.new("qrun_node[]", len(entries))
        for node, (kind, params) in zip(nodes, entries):
            node.kind = getattr(lib, "QRUN_OP_" + kind)
            node.params = params
        self._plan = ctx.new("qrun_plan *")
        self._plan.num_nodes = len(entries)
        self._plan.pool = pool
        self._pool = pool   # the pool lives as long as a plan uses it
        self._plan.nodes = nodes
        self._plan.arena_bytes = ctx.arena_bytes
        self._arena = ctx.ffi.from_buffer("uint8_t[]", ctx.graph.arena)
        ctx.graph = None   # the plan is built: no step -> graph reference cycle
        self._ctx = ctx
        self._execute = lib.qrun_execute
        self._timestamps = None

    def plan_buffers(self) -> Dict[int, int]:
        """{id: bytes} of the buffers the plan owns (packed weights, indirection, tables,
        params); ids let a memory report count a buffer shared by partitions once."""
        ffi = self._ctx.ffi
        return {id(buf): ffi.sizeof(buf) for buf in self._ctx._owned}

    def set_profiling(self, enabled: bool) -> None:
        """Timestamps around every node in C (num_nodes + 1 of them) or none (zero cost)."""
        ffi = self._ctx.ffi
        self._timestamps = ffi.new("int64_t[]", self._plan.num_nodes + 1) if enabled else None
        self._plan.timestamps_ns = ffi.NULL if self._timestamps is None else self._timestamps

    def node_seconds(self) -> List[float]:
        """Each node's time in the last run (profiling on)."""
        ts = self._timestamps
        return [(ts[i + 1] - ts[i]) * 1e-9 for i in range(self._plan.num_nodes)]

    def run(self) -> None:
        rc = self._execute(self._plan, self._arena)
        if rc != 0:
            raise RuntimeError("qrun C executor failed at node %d of the partition of ops %s"
                               % (-rc - 1, [op.index for op in self.ops]))


class Delegate:
    def __init__(self, backend, num_threads: int = 1):
        self.backend = backend
        self.num_threads = num_threads
        self.isa = backend.isa
        self._pool = None
        self.rejected: Dict[int, str] = {}

    @property
    def pool(self):
        """The C thread pool of num_threads threads, created with the first partition and
        shared by all of them (NULL for one thread)."""
        if self._pool is None:
            self._pool = self.backend.thread_pool(self.num_threads)
        return self._pool

    def why_not(self, graph, step: Step) -> Optional[str]:
        """None when `step`'s op runs in C, else the reason it stays on numpy."""
        if not isinstance(step, KernelStep):
            return "not a kernel step"
        op = step.op
        if step.dynamic:
            return "dynamic output"
        for t in op.inputs + op.outputs:
            if t is not None and not t.is_constant and t.index not in graph.arena_offsets:
                return "tensor %d is not in the arena" % t.index
        return unsupported_reason(op)

    def extra_uses(self, graph) -> Dict[int, Tuple[int, int]]:
        """For the memory planner: {tensor index: (first, last) op positions} the partitions
        may also use a tensor at: a folded PAD's input read by its convolution
        (fusion.pad_fold_reads), a concatenation's output written by its inputs' producers
        (fusion.concat_slice_writes)."""
        if graph.preserve_all_tensors:
            return {}
        uses: Dict[int, Tuple[int, int]] = {}
        for found in (pad_fold_reads(graph), concat_slice_writes(graph)):
            for t, k in found.items():
                lo, hi = uses.get(t, (k, k))
                uses[t] = (min(lo, k), max(hi, k))
        return uses

    def partition(self, graph, steps: List[Step]) -> List[Step]:
        """Maximal runs of supported ops become DelegateSteps. An op whose plan builder finds
        sizes the C kernels must not see stays on numpy; `self.rejected` says why."""
        self.rejected = {}
        if graph.arena is None or graph.arena.size == 0:
            return steps
        result: List[Step] = []
        self._shared: Dict[tuple, object] = {}
        run = _Run(PlanContext(self.backend, graph, self._shared))
        supported = lambda s: self.why_not(graph, s) is None   # noqa: E731
        fusions = Fusions(graph, steps, supported)
        folds = PadFolds(graph, steps, supported)
        slices = ConcatSlices(graph, steps, supported)
        for step in steps:
            if self.why_not(graph, step) is None:
                try:
                    built = fusions.build(step.op, run.ctx)
                    if built is None:
                        built = folds.build(step.op, run.ctx)
                    if built is None:
                        built = slices.build(step.op, run.ctx)
                    if built is None:
                        built = OPS[step.op.opname].build(step.op, run.ctx)
                except PlanError as exc:
                    self.rejected[step.op.index] = str(exc)
                else:
                    run.add(step.op, built)
                    continue
            run = self._flush(graph, run, result)
            result.append(step)
        self._flush(graph, run, result)
        return result

    def _flush(self, graph, run: "_Run", result: List[Step]) -> "_Run":
        if not run.ops:
            return run
        result.append(DelegateStep(run.ops, run.ctx, run.entries, self.pool, run.node_ops))
        return _Run(PlanContext(self.backend, graph, self._shared))


class _Run:
    """The ops of the partition being built, their nodes, and the context owning them."""

    def __init__(self, ctx: PlanContext):
        self.ctx = ctx
        self.ops: list = []
        self.entries: List[tuple] = []
        self.node_ops: list = []

    def add(self, op, built) -> None:
        self.ops.append(op)
        nodes = built if isinstance(built, list) else [built]
        self.entries.extend(nodes)
        self.node_ops.extend([op] * len(nodes))
