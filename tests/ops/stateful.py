"""Comparing stateful ops (variable tensors) with LiteRT over several invokes."""
from __future__ import annotations

from typing import List

import numpy as np

from qrun import Interpreter, OpResolverType
from qrun.interpreter.loader import load_model
from tests.oracle import assert_same, litert, random_inputs


def check_invokes_against_litert(model: bytes, invokes: int, seed: int = 0) -> List[np.ndarray]:
    """Runs `invokes` invokes with fresh random inputs on qrun and LiteRT BUILTIN_REF, so
    that state carried in variable tensors is exercised; outputs and the variable tensors
    must agree after each invoke (bit-exact for integers), and again after
    reset_all_variables."""
    lite = litert()
    theirs_it = lite.Interpreter(model_content=model,
                                 experimental_op_resolver_type=lite.OpResolverType.BUILTIN_REF)
    ours_it = Interpreter(model_content=model,
                          experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    outs = []
    for it in (theirs_it, ours_it):
        it.allocate_tensors()
    variables = [t.index for t in load_model(content=model).subgraphs[0].tensors
                 if t.is_variable]
    for k in list(range(invokes)) + [0]:
        if len(outs) == invokes:
            for it in (theirs_it, ours_it):
                it.reset_all_variables()
        inputs = random_inputs(theirs_it.get_input_details(), seed * 1000 + k)
        results = []
        for it in (theirs_it, ours_it):
            for d, x in zip(it.get_input_details(), inputs):
                it.set_tensor(d["index"], x)
            it.invoke()
            results.append([it.get_tensor(d["index"]) for d in it.get_output_details()]
                           + [it.get_tensor(i) for i in variables])
        assert_same(results[1], results[0], what="invoke %d" % len(outs))
        outs.append(results[1])
    return outs


def extract_op(path, op_index: int) -> bytes:
    """A one-op model holding operator `op_index` of the .tflite at `path`, with its
    constants, variable tensors and intermediates; its other inputs become model inputs."""
    from qrun.modelbuilder import ModelBuilder

    op = load_model(str(path)).subgraphs[0].operators[op_index]
    b = ModelBuilder()

    def tensor(t, **kw):
        q = t.quantization
        quant = {} if not len(q.scales) else dict(
            scale=q.scales, zero_point=q.zero_points, quantized_dimension=q.quantized_dimension)
        return b.add_tensor(t.shape, t.dtype, data=t.constant, is_variable=t.is_variable,
                            **quant, **kw)

    inputs = []
    for t in op.inputs:
        if t is None:
            inputs.append(-1)
            continue
        inputs.append(tensor(t))
        if not t.is_constant and not t.is_variable:
            b.inputs.append(inputs[-1])
    outputs = [b.mark_output(tensor(t)) for t in op.outputs]
    intermediates = [tensor(t) for t in op.intermediates]
    b.add_op(op.opname, inputs, outputs, custom_options=op.custom_options or None,
             intermediates=intermediates, **vars(op.options))
    return b.build()


def shared_model_bytes(name: str) -> bytes:
    from tests.oracle import shared_model

    return shared_model(name).read_bytes()
