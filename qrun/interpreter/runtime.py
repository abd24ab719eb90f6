"""State one interpreter shares among its subgraphs: their Graphs (for control flow ops),
resource variables, hash tables and CALL_ONCE status, as TFLite keeps them per interpreter.

A Graph reaches its Runtime through a weak proxy, so that an Interpreter -> Runtime -> Graph
chain holds no reference cycle and a deleted interpreter frees its arenas at once.
"""
from __future__ import annotations

import contextlib
import weakref
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .graph import Graph
from .model import Model


class Runtime:
    def __init__(self, model: Model, preserve_all_tensors: bool = False,
                 max_arena_bytes=None):
        self.model = model
        self.preserve_all_tensors = preserve_all_tensors
        self.max_arena_bytes = max_arena_bytes   # each Graph's user cap (None: the default)
        self.graphs: Dict[int, Graph] = {}
        # VAR_HANDLE: (container, shared_name) -> resource id, ids in order of first use.
        self.resource_ids: Dict[Tuple[str, str], int] = {}
        self.variables: Dict[int, np.ndarray] = {}
        self.hashtables: Dict[int, object] = {}
        self.initialized_subgraphs: set = set()
        self._active: set = set()   # subgraphs being prepared or run: a re-entry is recursion

    def graph(self, index: int) -> Graph:
        g = self.graphs.get(index)
        if g is None:
            if not 0 <= index < len(self.model.subgraphs):
                raise ValueError("subgraph index %d out of range (the model has %d subgraphs)"
                                 % (index, len(self.model.subgraphs)))
            g = Graph(self.model.subgraphs[index], self.preserve_all_tensors,
                      self.max_arena_bytes, runtime=weakref.proxy(self))
            self.graphs[index] = g
        return g

    @contextlib.contextmanager
    def _entering(self, g: Graph):
        index = g.subgraph.index
        if index in self._active:
            raise RuntimeError("subgraph %d calls itself (directly or through other subgraphs)"
                             % index)
        self._active.add(index)
        try:
            yield
        finally:
            self._active.discard(index)

    def prepare(self, g: Graph, delegate=None) -> None:
        with self._entering(g):
            g.prepared = False
            g.prepare(delegate)
        # The interpreter's guard against views held into an arena compares with this.
        g.baseline_refs = g.internal_arena_refs()

    def run(self, g: Graph) -> None:
        with self._entering(g):
            g.run()

    def prepare_subgraph(self, index: int, shapes: Sequence[Tuple[int, ...]],
                         dtypes: Sequence[np.dtype], caller: str) -> Graph:
        """The Graph of subgraph `index` prepared for inputs of these shapes (re-prepared only
        when a shape changed)."""
        g = self.graph(index)
        sg = g.subgraph
        if len(shapes) != len(sg.inputs):
            raise ValueError("%s passes %d inputs to subgraph %d, which has %d"
                             % (caller, len(shapes), index, len(sg.inputs)))
        changed = not g.prepared
        for k, (i, shape, dtype) in enumerate(zip(sg.inputs, shapes, dtypes)):
            t = sg.tensors[i]
            if t.dtype != dtype:
                raise ValueError("%s passes %s to input %d of subgraph %d, which is %s"
                                 % (caller, np.dtype(dtype).name, k, index, t.dtype.name))
            if t.shape != tuple(shape):
                t.shape = tuple(shape)
                changed = True
        if changed:
            self.prepare(g)
        return g

    def output_shapes(self, g: Graph):
        """Static output shapes of a prepared subgraph, or None if one is sized at run time."""
        sg = g.subgraph
        if any(i in g.dynamic for i in sg.outputs):
            return None
        return [sg.tensors[i].shape for i in sg.outputs]

    def invoke_subgraph(self, index: int, values: Sequence[np.ndarray],
                        caller: str) -> List[np.ndarray]:
        """Runs subgraph `index` on copies of `values`; returns copies of its outputs."""
        g = self.prepare_subgraph(index, [v.shape for v in values], [v.dtype for v in values],
                                  caller)
        sg = g.subgraph
        for i, v in zip(sg.inputs, values):
            np.copyto(sg.tensors[i].data, v)
        self.run(g)
        return [np.array(sg.tensors[i].data, copy=True) for i in sg.outputs]
