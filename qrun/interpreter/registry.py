"""The kernel table: (op name, input dtype) -> reference numpy kernel, and op -> shape rule.

A kernel takes the Operator (inputs and outputs are Tensor objects whose `.data` holds the
values) and returns its output arrays (one array, or a list for ops with several outputs);
the graph copies them into the arena. A shape rule returns the output shapes from the input
shapes (and constant inputs); an op without one, or whose rule returns None, has outputs
sized at run time.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import numpy as np

KernelFn = Callable[..., object]
ShapeFn = Callable[..., Optional[List[Tuple[int, ...]]]]


@dataclass(frozen=True)
class KernelEntry:
    op: str
    dtype: np.dtype
    fn: KernelFn


KERNELS: Dict[Tuple[str, np.dtype], KernelEntry] = {}
SHAPES: Dict[str, ShapeFn] = {}
# Which input decides the dtype key, for ops whose first input is not the data
# (e.g. TRANSPOSE_CONV's output_shape, SELECT's condition).
DTYPE_INPUT: Dict[str, int] = {}


def register(op: str, dtypes: Iterable, shape: Optional[ShapeFn] = None,
             dtype_input: int = 0) -> Callable[[KernelFn], KernelFn]:
    """Decorator: registers `fn` as the kernel of `op` for each dtype in `dtypes`."""
    def wrap(fn: KernelFn) -> KernelFn:
        for dt in dtypes:
            # None keys ops without tensors (CALL_ONCE).
            dt = None if dt is None else np.dtype(dt)
            key = (op, dt)
            if key in KERNELS:
                raise RuntimeError("kernel for %s/%s registered twice" % (op, dt))
            KERNELS[key] = KernelEntry(op, dt, fn)
        if shape is not None:
            SHAPES[op] = shape
        if dtype_input:
            DTYPE_INPUT[op] = dtype_input
        return fn
    return wrap


def uses_runtime(fn: Callable) -> Callable:
    """Marks a kernel or shape rule that also takes the interpreter's Runtime (other
    subgraphs, resources) as `runtime=`; the Graph binds it at prepare."""
    fn.uses_runtime = True
    return fn


def dtype_key(op) -> Optional[np.dtype]:
    """The dtype that selects the kernel of an operator: that of its data input."""
    i = DTYPE_INPUT.get(op.opname, 0)
    tensors = op.inputs if op.inputs else op.outputs
    if i < len(tensors) and tensors[i] is not None:
        return tensors[i].dtype
    return op.outputs[0].dtype if op.outputs else None


def find_kernel(op) -> Optional[KernelEntry]:
    return KERNELS.get((op.opname, dtype_key(op)))


def supported_table() -> Dict[str, List[str]]:
    """op name -> sorted dtype names: the source of the README's op table."""
    table: Dict[str, List[str]] = {}
    for (op, dt) in KERNELS:
        name = "no tensors" if dt is None else "string" if dt.hasobject else dt.name
        table.setdefault(op, []).append(name)
    return {op: sorted(v) for op, v in sorted(table.items())}
