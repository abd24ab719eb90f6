"""WHILE, IF and CALL_ONCE: ops that run other subgraphs of the model, through the Graphs the
interpreter's Runtime keeps per subgraph (prepared for the shapes the op passes them).

As in TFLite's kernels, values are copied into a subgraph's inputs and out of its outputs, and
an op's outputs are sized at prepare time when the subgraphs' output shapes are static (for
WHILE: equal to its inputs'), at run time otherwise.
"""
from __future__ import annotations

import numpy as np

from ..registry import register, uses_runtime
from ..schema import TENSOR_DTYPES

# WHILE carries loop variables of any type; the first one keys the kernel.
_ANY_DTYPE = sorted({d for d in TENSOR_DTYPES.values() if d is not None}, key=str)


def _prepare(runtime, index: int, tensors, what: str):
    return runtime.prepare_subgraph(index, [t.shape for t in tensors],
                                    [t.dtype for t in tensors], what)


def _check_outputs(g, count: int, what: str) -> None:
    n = len(g.subgraph.outputs)
    if n != count:
        raise ValueError("%s: subgraph %d has %d outputs, expected %d"
                         % (what, g.subgraph.index, n, count))


# -- WHILE -------------------------------------------------------------------------------

@uses_runtime
def _while_shapes(op, runtime):
    what = "WHILE"
    if len(op.inputs) != len(op.outputs):
        raise ValueError("WHILE has %d inputs and %d outputs; they must match"
                         % (len(op.inputs), len(op.outputs)))
    cond = _prepare(runtime, op.options.cond_subgraph_index, op.inputs, what)
    _check_outputs(cond, 1, what + " condition")
    flag = cond.subgraph.tensors[cond.subgraph.outputs[0]]
    if flag.dtype != np.bool_:
        raise ValueError("WHILE condition subgraph must output a bool, not %s" % flag.dtype.name)
    body = _prepare(runtime, op.options.body_subgraph_index, op.inputs, what)
    _check_outputs(body, len(op.inputs), what + " body")
    for t, i in zip(op.inputs, body.subgraph.outputs):
        if body.subgraph.tensors[i].dtype != t.dtype:
            raise ValueError("WHILE body output %d is %s, the loop variable is %s"
                             % (i, body.subgraph.tensors[i].dtype.name, t.dtype.name))
    shapes = [t.shape for t in op.inputs]
    if runtime.output_shapes(body) != shapes:
        return None   # the loop variables change shape: sized at run time
    return shapes


@register("WHILE", _ANY_DTYPE, shape=_while_shapes)
@uses_runtime
def while_loop(op, runtime):
    cond_index, body_index = op.options.cond_subgraph_index, op.options.body_subgraph_index
    values = [t.data for t in op.inputs]
    while True:
        (flag,) = runtime.invoke_subgraph(cond_index, values, "WHILE")
        if not flag.reshape(-1)[0]:
            return values
        values = runtime.invoke_subgraph(body_index, values, "WHILE")


# -- IF ------------------------------------------------------------------------------------

@uses_runtime
def _if_shapes(op, runtime):
    cond = op.inputs[0]
    if cond.dtype != np.bool_ or int(np.prod(cond.shape)) != 1:
        raise ValueError("IF condition must be a single bool, got %s of shape %s"
                         % (cond.dtype.name, list(cond.shape)))
    branches = [_prepare(runtime, index, op.inputs[1:], "IF")
                for index in (op.options.then_subgraph_index, op.options.else_subgraph_index)]
    for g in branches:
        _check_outputs(g, len(op.outputs), "IF branch")
    # As TFLite: any run-time-sized tensor in a branch, or branches of different output
    # shapes, make the outputs run-time sized.
    if any(g.dynamic for g in branches):
        return None
    then_shapes, else_shapes = (runtime.output_shapes(g) for g in branches)
    return then_shapes if then_shapes == else_shapes else None


@register("IF", (np.bool_,), shape=_if_shapes)
@uses_runtime
def if_then_else(op, runtime):
    take_then = bool(op.inputs[0].data.reshape(-1)[0])
    index = op.options.then_subgraph_index if take_then else op.options.else_subgraph_index
    return runtime.invoke_subgraph(index, [t.data for t in op.inputs[1:]], "IF")


# -- CALL_ONCE -----------------------------------------------------------------------------

@uses_runtime
def _call_once_shapes(op, runtime):
    if op.inputs or op.outputs:
        raise ValueError("CALL_ONCE takes no inputs and no outputs")
    init = runtime.graph(op.options.init_subgraph_index)
    if init.subgraph.inputs or init.subgraph.outputs:
        raise ValueError("CALL_ONCE: init subgraph %d must have no inputs and no outputs"
                         % init.subgraph.index)
    init.check_kernels()   # missing ops of the init subgraph are reported at allocate time
    return []


@register("CALL_ONCE", (None,), shape=_call_once_shapes)
@uses_runtime
def call_once(op, runtime):
    """Runs the init subgraph once in the interpreter's life (TFLite's initialization status
    is per interpreter, shared by every CALL_ONCE naming the same subgraph)."""
    index = op.options.init_subgraph_index
    if index not in runtime.initialized_subgraphs:
        init = runtime.graph(index)
        runtime.prepare(init)
        runtime.run(init)
        runtime.initialized_subgraphs.add(index)
    return []
