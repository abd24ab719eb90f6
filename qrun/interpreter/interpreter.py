"""The tflite_runtime / ai_edge_litert Interpreter API over qrun's graph runtime."""
from __future__ import annotations

import enum
import math
import os
import sys
import threading
from typing import Dict, List, Optional

import numpy as np

from .graph import Graph, user_arena_cap
from .loader import load_model
from .model import Tensor
from .runtime import Runtime
from .schema import TENSOR_TYPE_NAMES


class OpResolverType(enum.Enum):
    """LiteRT's resolver choices. AUTO and BUILTIN run supported ops in the C delegate;
    BUILTIN_REF and BUILTIN_WITHOUT_DEFAULT_DELEGATES run every op on the numpy kernels."""
    AUTO = 0
    BUILTIN = 1
    BUILTIN_REF = 2
    BUILTIN_WITHOUT_DEFAULT_DELEGATES = 3


_NOT_ALLOCATED = "Invoke called on model that is not ready."
_VIEW_HELD = ("There is at least 1 reference to internal data\n      in the interpreter in the "
              "form of a numpy array or slice. Be sure to\n      only hold the function returned "
              "from tensor() if you are using raw\n      data access.")


def _type_name(dtype: np.dtype) -> str:
    names = {np.dtype(np.float32): "FLOAT32", np.dtype(np.float16): "FLOAT16",
             np.dtype(np.float64): "FLOAT64", np.dtype(np.int8): "INT8",
             np.dtype(np.uint8): "UINT8", np.dtype(np.int16): "INT16",
             np.dtype(np.uint16): "UINT16", np.dtype(np.int32): "INT32",
             np.dtype(np.uint32): "UINT32", np.dtype(np.int64): "INT64",
             np.dtype(np.uint64): "UINT64", np.dtype(np.bool_): "BOOL",
             np.dtype(np.complex64): "COMPLEX64", np.dtype(np.complex128): "COMPLEX128"}
    return names.get(np.dtype(dtype), np.dtype(dtype).name.upper())


def _as_strings(value: np.ndarray) -> np.ndarray:
    """A STRING tensor's value as an object array of bytes (str is encoded as UTF-8)."""
    out = np.empty(value.shape, dtype=object)
    out.reshape(-1)[:] = [v.encode("utf-8") if isinstance(v, str) else bytes(v)
                          for v in value.reshape(-1).tolist()]
    return out


class Interpreter:
    """Drop-in for tflite_runtime.interpreter.Interpreter."""

    def __init__(self, model_path=None, model_content=None, experimental_delegates=None,
                 num_threads=None,
                 experimental_op_resolver_type=OpResolverType.AUTO,
                 experimental_preserve_all_tensors=False,
                 experimental_disable_delegate_clustering=False,
                 experimental_default_delegate_latest_features=False,
                 experimental_compress_quantization_zero_points=False,
                 experimental_disable_delegate_node_fusion=False,
                 experimental_force_delegate_node_profiling=False, *, max_arena_bytes=None):
        """LiteRT's arguments, and (qrun's, keyword only) max_arena_bytes: the most bytes
        allocate_tensors() may give the arena and one input may take after
        resize_tensor_input; it replaces QRUN_MAX_ARENA_BYTES and the limit derived from the
        model (README, "Untrusted models")."""
        if not isinstance(experimental_op_resolver_type, OpResolverType):
            # Accept LiteRT's own enum members by name, so code written for it keeps working.
            name = getattr(experimental_op_resolver_type, "name", None)
            if name not in OpResolverType.__members__:
                raise ValueError("Unrecognized passed in op resolver type: {}".format(
                    experimental_op_resolver_type))
            experimental_op_resolver_type = OpResolverType[name]
        if num_threads is not None:
            if not isinstance(num_threads, int) or isinstance(num_threads, bool):
                raise ValueError("type of num_threads should be int")
            if num_threads < 1 and num_threads != -1:
                raise ValueError("num_threads should >= 1 (or -1 for all cores)")
        user_arena_cap(max_arena_bytes)   # a bad cap fails here, not at allocate_tensors()
        if experimental_delegates:
            raise ValueError("qrun does not load external delegates; it runs its own C kernels "
                             "(experimental_delegates=%r)" % (experimental_delegates,))
        if model_path and not model_content:
            self._model = load_model(path=model_path)
        elif model_content and not model_path:
            self._model = load_model(content=model_content)
        elif not model_content and not model_path:
            raise ValueError("`model_path` or `model_content` must be specified.")
        else:
            raise ValueError("Can't both provide `model_path` and `model_content`")
        self._model_content = model_content
        self._resolver = experimental_op_resolver_type
        self._num_threads = (os.cpu_count() or 1) if num_threads == -1 else int(num_threads or 1)
        self._preserve_all_tensors = bool(experimental_preserve_all_tensors)
        self._experimental_compress_quantization_zero_points = (
            experimental_compress_quantization_zero_points)
        self._runtime = Runtime(self._model, self._preserve_all_tensors, max_arena_bytes)
        self._graphs: Dict[int, Graph] = self._runtime.graphs
        self._invoke_lock = threading.Lock()
        self._delegate_once = None
        self._signature_defs = self.get_signature_list()

    # -- graph and delegate --------------------------------------------------------------

    @property
    def uses_delegate(self) -> bool:
        return self._resolver in (OpResolverType.AUTO, OpResolverType.BUILTIN)

    def _delegate(self):
        if not self.uses_delegate:
            return None
        if self._delegate_once is None:
            # One delegate per interpreter: its C thread pool starts once, not per allocation.
            from ..delegate import get_delegate
            self._delegate_once = get_delegate(self._num_threads)
        return self._delegate_once

    def _graph(self, subgraph_index: int = 0) -> Graph:
        return self._runtime.graph(subgraph_index)

    def _check_subgraph(self, subgraph_index: int) -> None:
        n = len(self._model.subgraphs)
        if not 0 <= subgraph_index < n:
            raise ValueError("subgraph_index is out of range: %d for the model, which has %d "
                             "subgraphs." % (subgraph_index, n))

    def _tensor_obj(self, tensor_index, subgraph_index: int = 0) -> Tensor:
        self._check_subgraph(subgraph_index)
        tensors = self._model.subgraphs[subgraph_index].tensors
        try:
            i = int(tensor_index)
        except (TypeError, ValueError):
            raise ValueError("Invalid tensor index %r" % (tensor_index,)) from None
        if not 0 <= i < len(tensors):
            raise ValueError("Invalid tensor index %d exceeds max tensor index %d"
                             % (i, len(tensors)))
        return tensors[i]

    def _allocate(self, subgraph_index: int = 0) -> None:
        self._runtime.prepare(self._graph(subgraph_index), self._delegate())

    def _safe_to_run(self) -> bool:
        return all(not g.prepared or g.internal_arena_refs() == g.baseline_refs
                   for g in self._graphs.values())

    def _ensure_safe(self) -> None:
        if not self._safe_to_run():
            raise RuntimeError(_VIEW_HELD)

    # -- the LiteRT API --------------------------------------------------------------------

    def allocate_tensors(self):
        self._ensure_safe()
        self._allocate(0)

    def invoke(self):
        self._ensure_safe()
        self._invoke(0)

    def _invoke(self, subgraph_index: int) -> None:
        g = self._graphs.get(subgraph_index)
        if g is None or not g.prepared:
            raise RuntimeError(_NOT_ALLOCATED)
        if not self._invoke_lock.acquire(blocking=False):
            raise RuntimeError("Interpreter.invoke() is already running in another thread; "
                               "one Interpreter cannot be invoked from two threads at once "
                               "(create one Interpreter per thread)")
        try:
            g.run()
        finally:
            self._invoke_lock.release()

    def _tensor_details(self, t: Tensor) -> dict:
        q = t.quantization
        return {
            "name": t.name,
            "index": t.index,
            "shape": np.array(t.shape, dtype=np.int32),
            "shape_signature": np.array(t.shape_signature, dtype=np.int32),
            "dtype": np.bytes_ if t.dtype.hasobject else t.dtype.type,   # STRING, as LiteRT
            "quantization": (q.scale, q.zero_point) if len(q.scales) == 1 else (0.0, 0),
            "quantization_parameters": {
                "scales": q.scales.astype(np.float32),
                "zero_points": q.zero_points.astype(np.int32),
                "quantized_dimension": int(q.quantized_dimension),
                "block_size": 0,
            },
            "sparsity_parameters": {},
        }

    def _get_tensor_details(self, tensor_index, subgraph_index):
        return self._tensor_details(self._tensor_obj(tensor_index, subgraph_index))

    def get_tensor_details(self, subgraph_index=0):
        self._check_subgraph(subgraph_index)
        return [self._tensor_details(t) for t in self._model.subgraphs[subgraph_index].tensors]

    def get_input_details(self):
        sg = self._model.subgraphs[0]
        return [self._tensor_details(sg.tensors[i]) for i in sg.inputs]

    def get_output_details(self):
        sg = self._model.subgraphs[0]
        return [self._tensor_details(sg.tensors[i]) for i in sg.outputs]

    def num_subgraphs(self):
        return len(self._model.subgraphs)

    def set_tensor(self, tensor_index, value, subgraph_index=0):
        t = self._tensor_obj(tensor_index, subgraph_index)
        g = self._graphs.get(subgraph_index)
        if t.is_constant:
            raise ValueError("Cannot set tensor: tensor %d (%s) is a constant of the model"
                             % (t.index, t.name))
        if g is None or not g.prepared or t.data is None:
            raise ValueError("Cannot set tensor: Tensor is unallocated. Try calling "
                             "allocate_tensors() first")
        value = np.asarray(value)
        if t.dtype.hasobject and value.dtype.kind in "SUO":
            value = _as_strings(value)
        if value.dtype != t.dtype:
            raise ValueError("Cannot set tensor: Got value of type %s but expected type %s for "
                             "input %d, name: %s " % (_type_name(value.dtype), _type_name(t.dtype),
                                                      t.index, t.name))
        if value.ndim != len(t.shape):
            raise ValueError("Cannot set tensor: Dimension mismatch. Got %d but expected %d for "
                             "input %d." % (value.ndim, len(t.shape), t.index))
        for d, (got, want) in enumerate(zip(value.shape, t.shape)):
            if got != want:
                raise ValueError("Cannot set tensor: Dimension mismatch. Got %d but expected %d "
                                 "for dimension %d of input %d." % (got, want, d, t.index))
        np.copyto(t.data, value)

    def get_tensor(self, tensor_index, subgraph_index=0):
        t = self._tensor_obj(tensor_index, subgraph_index)
        if t.data is None:
            raise ValueError("Tensor data is null. Run allocate_tensors() first")
        return np.array(t.data, copy=True)

    def tensor(self, tensor_index):
        t = self._tensor_obj(tensor_index)

        def view():
            if t.data is None:
                raise ValueError("Tensor data is null. Run allocate_tensors() first")
            return t.data.view()
        return view

    def resize_tensor_input(self, input_index, tensor_size, strict=False):
        self._ensure_safe()
        self._resize(0, input_index, tensor_size, strict)

    def _resize(self, subgraph_index, input_index, tensor_size, strict) -> None:
        # LiteRT raises RuntimeError for every rejected resize (bad index, bad dims, strict).
        try:
            t = self._tensor_obj(input_index, subgraph_index)
        except ValueError as exc:
            raise RuntimeError(str(exc)) from None
        sg = self._model.subgraphs[subgraph_index]
        if t.index not in sg.inputs:
            raise RuntimeError("Tensor %d (%s) is not an input of the model; only inputs can be "
                               "resized" % (t.index, t.name))
        try:
            shape = tuple(int(d) for d in np.asarray(tensor_size, dtype=np.int64).reshape(-1))
        except (TypeError, ValueError):
            raise ValueError("tensor_size must be a list of integers, got %r"
                             % (tensor_size,)) from None
        if any(d < 0 for d in shape):
            raise RuntimeError("Cannot resize input %d to %s: dimensions must be >= 0"
                               % (t.index, list(shape)))
        if strict:
            if len(shape) != len(t.shape_signature):
                raise RuntimeError("Cannot resize input %d strictly: rank %d != %d"
                                   % (t.index, len(shape), len(t.shape_signature)))
            for d, (new, sig) in enumerate(zip(shape, t.shape_signature)):
                if sig != -1 and new != sig:
                    raise RuntimeError("Attempting to resize dimension %d of tensor %d with value "
                                       "%d to %d. ResizeInputTensorStrict only allows mutating "
                                       "unknown dimensions identified by -1."
                                       % (d, t.index, sig, new))
        nbytes = math.prod(shape) * t.dtype.itemsize
        cap = self._graph(subgraph_index).arena_cap()
        if nbytes > cap:
            raise ValueError("Cannot resize input %d (%s) to %s: %d bytes, over the %d-byte cap "
                             "(Interpreter(max_arena_bytes=) or QRUN_MAX_ARENA_BYTES sets it)"
                             % (t.index, t.name, list(shape), nbytes, cap))
        if shape != t.shape:
            t.shape = shape
            g = self._graphs.get(subgraph_index)
            if g is not None:
                g.prepared = False

    def get_signature_list(self):
        return {s.key: {"inputs": list(s.inputs), "outputs": list(s.outputs)}
                for s in self._model.signatures}

    def _get_full_signature_list(self):
        return {s.key: {"inputs": dict(s.inputs), "outputs": dict(s.outputs)}
                for s in self._model.signatures}

    def get_signature_runner(self, signature_key=None):
        if signature_key is None:
            if len(self._signature_defs) != 1:
                raise ValueError(
                    "SignatureDef signature_key is None and model has {0} Signatures. "
                    "None is only allowed when the model has 1 SignatureDef".format(
                        len(self._signature_defs)))
            signature_key = next(iter(self._signature_defs))
        return SignatureRunner(interpreter=self, signature_key=signature_key)

    def reset_all_variables(self):
        for g in self._graphs.values():
            g.reset_variables()

    def _get_op_details(self, op_index):
        ops = self._model.subgraphs[0].operators
        if not 0 <= int(op_index) < len(ops):
            raise ValueError("Invalid node index %r (the model has %d nodes)"
                             % (op_index, len(ops)))
        op = ops[int(op_index)]
        g = self._graphs.get(0)
        backend, isa = "numpy", None
        if g is not None and g.prepared and op.index in g.folded:
            backend = "constant"   # folded at prepare: its outputs are constants
        elif g is not None and g.prepared:
            for step in g.steps:
                if op in step.ops:
                    backend, isa = step.backend, getattr(step, "isa", None)
                    break
        return {
            "index": op.index,
            "op_name": op.opname,
            "inputs": np.array(op.input_indices, dtype=np.int32),
            "outputs": np.array(op.output_indices, dtype=np.int32),
            "operand_types": [t.dtype.type for t in op.inputs if t is not None],
            "result_types": [t.dtype.type for t in op.outputs],
            "backend": backend,
            "isa": isa,
        }

    def _get_ops_details(self):
        return [self._get_op_details(i) for i in range(len(self._model.subgraphs[0].operators))]

    @property
    def experimental_compress_quantization_zero_points(self):
        return self._experimental_compress_quantization_zero_points

    @property
    def arena_bytes(self) -> int:
        """Bytes of the activation arena of the main subgraph (0 before allocate_tensors)."""
        g = self._graphs.get(0)
        return g.arena_bytes if g is not None and g.arena is not None else 0

    @property
    def model(self):
        """The loaded model (subgraphs, tensors, operators), read-only by convention."""
        return self._model


class SignatureRunner:
    """Runs one SignatureDef: keyword inputs by signature name, outputs as a dict."""

    def __init__(self, interpreter=None, signature_key=None):
        if not interpreter:
            raise ValueError("None interpreter provided.")
        if not signature_key:
            raise ValueError("None signature_key provided.")
        self._interpreter = interpreter
        self._signature_key = signature_key
        defs = interpreter._get_full_signature_list()
        if signature_key not in defs:
            raise ValueError('Invalid signature_key provided: "%s".' % signature_key)
        self._signature_def = defs[signature_key]
        self._inputs = self._signature_def["inputs"]
        self._outputs = self._signature_def["outputs"].items()
        self._subgraph_index = next(s.subgraph_index for s in interpreter._model.signatures
                                    if s.key == signature_key)

    def __call__(self, **kwargs):
        if len(kwargs) != len(self._inputs):
            raise ValueError("Invalid number of inputs provided for running a SignatureDef, "
                             "expected %s vs provided %s" % (len(self._inputs), len(kwargs)))
        it = self._interpreter
        sgi = self._subgraph_index
        for name, value in kwargs.items():
            if name not in self._inputs:
                raise ValueError("Invalid Input name (%s) for SignatureDef" % name)
            it._resize(sgi, self._inputs[name], np.shape(value), False)
        g = it._graph(sgi)
        if not g.prepared:
            it._allocate(sgi)
        for name, value in kwargs.items():
            it.set_tensor(self._inputs[name], value, sgi)
        it._invoke(sgi)
        return {name: it.get_tensor(index, sgi) for name, index in self._outputs}

    def get_input_details(self):
        return {name: self._interpreter._get_tensor_details(i, self._subgraph_index)
                for name, i in self._inputs.items()}

    def get_output_details(self):
        return {name: self._interpreter._get_tensor_details(i, self._subgraph_index)
                for name, i in self._outputs}
