"""Reads a .tflite flatbuffer into a Model and validates it before anything runs.

Every offset, length and index read from the file is checked against the file itself, so a
truncated or hostile file raises ValueError naming what is wrong instead of crashing,
hanging or allocating more than the file could describe.
"""
from __future__ import annotations

import math
import mmap
import os
import struct
from typing import List, Optional, Union

import numpy as np
import tflite

from .model import Model, Operator, Quantization, SignatureDef, Subgraph, Tensor
from .schema import (BUILTIN_OP_NAMES, FILE_IDENTIFIER, SCHEMA_VERSION, TENSOR_DTYPES,
                     TENSOR_TYPE_NAMES, parse_builtin_options)

# Exceptions that the generated accessors raise when an offset points outside the buffer.
_ACCESS_ERRORS = (struct.error, IndexError, ValueError, TypeError, OverflowError,
                  UnicodeDecodeError, AttributeError, MemoryError)
MAX_RANK = 16
# Tensor types whose zero points must be values of the type (kernels store them in C ints).
_ZERO_POINT_DTYPES = (np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16))


class ModelError(ValueError):
    """A model file that is not a valid TFLite model."""


def load_model(path: Optional[Union[str, os.PathLike]] = None,
               content: Optional[bytes] = None) -> Model:
    if path is not None:
        source = _map_file(path)
    else:
        if not isinstance(content, (bytes, bytearray, memoryview)):
            raise ValueError("model_content must be bytes, got %s" % type(content).__name__)
        source = bytes(content) if isinstance(content, memoryview) else content
    try:
        return _read(source)
    except ModelError:
        raise
    except _ACCESS_ERRORS as exc:
        raise ModelError("The model is not a valid TFLite flatbuffer: it is truncated or "
                         "corrupt (%s: %s)" % (type(exc).__name__, exc)) from None
    except RecursionError:
        raise ModelError("The model is not a valid TFLite flatbuffer: nesting too deep") from None


def _map_file(path) -> Union[mmap.mmap, bytes]:
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise ModelError("Could not load '%s': the file is empty" % path)
            return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        raise ValueError("Could not open '%s': %s" % (path, exc.strerror or exc)) from None


def _u32(buf, pos: int) -> int:
    return struct.unpack_from("<I", buf, pos)[0]


def _vector_bounds_ok(table, field_offset: int, elem_size: int, nbytes: int) -> bool:
    """True when the vector at a table field lies inside the file (or is absent)."""
    o = table._tab.Offset(field_offset)
    if o == 0:
        return True
    pos = o + table._tab.Pos
    vec = pos + _u32(table._tab.Bytes, pos)
    if vec + 4 > nbytes:
        return False
    length = _u32(table._tab.Bytes, vec)
    return vec + 4 + length * elem_size <= nbytes


def _string(obj, name: str, field_offset: int, nbytes: int, what: str) -> str:
    """A string field, checked to lie inside the file with its terminating zero: the
    generated accessors silently cut a string that runs past the end."""
    if not _vector_bounds_ok(obj, field_offset, 1, nbytes - 1):
        raise ModelError("%s: %s string runs past the end of the file" % (what, name))
    value = getattr(obj, name)()
    return value.decode("utf-8", "replace") if value else ""


def _int_vector(obj, name: str, what: str, nbytes: int, field_offset: int) -> np.ndarray:
    if not _vector_bounds_ok(obj, field_offset, 4, nbytes):
        raise ModelError("%s: %s vector runs past the end of the file" % (what, name))
    if getattr(obj, name + "Length")() == 0:
        return np.zeros(0, np.int64)
    return np.asarray(getattr(obj, name + "AsNumpy")(), dtype=np.int64)


def _read(buf) -> Model:
    nbytes = len(buf)
    if nbytes < 8:
        raise ModelError("The model is not a valid TFLite flatbuffer: only %d bytes" % nbytes)
    if bytes(buf[4:8]) != FILE_IDENTIFIER:
        raise ModelError("The model is not a valid TFLite flatbuffer: file identifier is %r, "
                         "expected %r" % (bytes(buf[4:8]), FILE_IDENTIFIER))
    if _u32(buf, 0) + 4 > nbytes:
        raise ModelError("The model is not a valid TFLite flatbuffer: root offset %d is past "
                         "the end of the %d-byte file" % (_u32(buf, 0), nbytes))
    fb = tflite.Model.GetRootAs(buf, 0)
    version = fb.Version()
    if version != SCHEMA_VERSION:
        raise ModelError("Model schema version %d is not supported (expected %d)"
                         % (version, SCHEMA_VERSION))

    opcodes = _read_opcodes(fb, nbytes)
    buffers = _read_buffers(fb, buf, nbytes)
    subgraphs = [_read_subgraph(fb.Subgraphs(i), i, opcodes, buffers, nbytes)
                 for i in range(fb.SubgraphsLength())]
    if not subgraphs:
        raise ModelError("The model has no subgraphs")
    signatures = _read_signatures(fb, subgraphs, nbytes)
    return Model(version=version,
                 description=_string(fb, "Description", 10, nbytes, "Model"),
                 subgraphs=subgraphs, signatures=signatures, nbytes=nbytes, source=buf)


def _read_opcodes(fb, nbytes: int) -> List[tuple]:
    opcodes = []
    for i in range(fb.OperatorCodesLength()):
        oc = fb.OperatorCodes(i)
        code = max(int(oc.BuiltinCode()), int(oc.DeprecatedBuiltinCode()))
        version = int(oc.Version())
        if code == tflite.BuiltinOperator.CUSTOM:
            custom = _string(oc, "CustomCode", 6, nbytes, "Operator code %d" % i)
            if not custom:
                raise ModelError("Operator code %d is CUSTOM without a custom_code name" % i)
            opcodes.append((custom, True, version))
        elif code in BUILTIN_OP_NAMES:
            opcodes.append((BUILTIN_OP_NAMES[code], False, version))
        else:
            raise ModelError("Operator code %d has unknown builtin code %d" % (i, code))
    return opcodes


def _read_buffers(fb, buf, nbytes: int) -> List[Optional[np.ndarray]]:
    buffers: List[Optional[np.ndarray]] = []
    for i in range(fb.BuffersLength()):
        b = fb.Buffers(i)
        offset, size = int(b.Offset()), int(b.Size())
        if offset > 1:
            # Large models keep data outside the flatbuffer, addressed from the file start.
            if offset + size > nbytes:
                raise ModelError("Buffer %d: data at offset %d size %d runs past the end of the "
                                 "%d-byte file" % (i, offset, size, nbytes))
            data = np.frombuffer(buf, np.uint8, count=size, offset=offset)
        else:
            if not _vector_bounds_ok(b, 4, 1, nbytes):
                raise ModelError("Buffer %d: data vector runs past the end of the file" % i)
            if b.DataLength() == 0:
                buffers.append(None)
                continue
            data = b.DataAsNumpy()
        buffers.append(data if data.size else None)
    return buffers


def _read_quantization(t, index: int, shape: tuple, dtype, nbytes: int) -> Quantization:
    q = t.Quantization()
    if q is None:
        return Quantization(np.zeros(0, np.float32), np.zeros(0, np.int64), 0)
    what = "Tensor %d quantization" % index
    if not _vector_bounds_ok(q, 8, 4, nbytes) or not _vector_bounds_ok(q, 10, 8, nbytes):
        raise ModelError("%s: scale or zero_point vector runs past the end of the file" % what)
    scales = (np.asarray(q.ScaleAsNumpy(), np.float32) if q.ScaleLength()
              else np.zeros(0, np.float32))
    zero_points = (np.asarray(q.ZeroPointAsNumpy(), np.int64) if q.ZeroPointLength()
                   else np.zeros(len(scales), np.int64))
    qdim = int(q.QuantizedDimension())
    if len(zero_points) != len(scales):
        raise ModelError("%s: %d scales but %d zero points"
                         % (what, len(scales), len(zero_points)))
    if len(scales) and not np.all(np.isfinite(scales)):
        raise ModelError("%s: scale is not finite" % what)
    if dtype in _ZERO_POINT_DTYPES and len(zero_points):
        lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
        bad = zero_points[(zero_points < lo) | (zero_points > hi)]
        if len(bad):
            raise ModelError("%s: zero point %d is outside the %s range [%d, %d]"
                             % (what, bad[0], dtype.name, lo, hi))
    if len(scales) > 1:
        if not 0 <= qdim < len(shape):
            raise ModelError("%s: quantized_dimension %d is outside the tensor's rank %d"
                             % (what, qdim, len(shape)))
        if shape[qdim] != len(scales):
            raise ModelError("%s: %d per-channel scales but dimension %d has %d channels"
                             % (what, len(scales), qdim, shape[qdim]))
    return Quantization(scales, zero_points, qdim)


def _read_strings(raw: np.ndarray, shape, what: str) -> np.ndarray:
    """A STRING constant: int32 count n, n + 1 int32 offsets from the buffer start, bytes."""
    count = math.prod(shape)
    if count == 0 and raw.size == 0:   # an empty constant stores no bytes
        return np.empty(shape, dtype=object)
    head = 4 * (count + 2)
    if raw.size < head or int(raw[:4].view("<i4")[0]) != count:
        raise ModelError("%s: string buffer does not hold %d strings" % (what, count))
    offsets = raw[4:head].view("<i4").astype(np.int64)
    if offsets[0] != head or np.any(np.diff(offsets) < 0) or offsets[-1] > raw.size:
        raise ModelError("%s: string buffer offsets out of order or out of bounds" % what)
    data = raw.tobytes()
    strings = np.empty(count, dtype=object)
    strings[:] = [data[a:b] for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
    strings = strings.reshape(shape)
    strings.flags.writeable = False
    return strings


def _read_tensor(t, index: int, buffers, nbytes: int) -> Tensor:
    if not _vector_bounds_ok(t, 4, 4, nbytes):
        raise ModelError("Tensor %d: shape vector runs past the end of the file" % index)
    shape = tuple(int(d) for d in (t.ShapeAsNumpy() if t.ShapeLength() else ()))
    if len(shape) > MAX_RANK:
        raise ModelError("Tensor %d: rank %d exceeds %d" % (index, len(shape), MAX_RANK))
    if any(d < 0 for d in shape):
        raise ModelError("Tensor %d: negative dimension in shape %s" % (index, list(shape)))
    if not _vector_bounds_ok(t, 18, 4, nbytes):
        raise ModelError("Tensor %d: shape_signature vector runs past the end of the file" % index)
    signature = (tuple(int(d) for d in t.ShapeSignatureAsNumpy())
                 if t.ShapeSignatureLength() else shape)
    if len(signature) != len(shape) or any(d < -1 for d in signature):
        signature = shape
    type_code = int(t.Type())
    dtype = TENSOR_DTYPES.get(type_code)
    if type_code not in TENSOR_TYPE_NAMES:
        raise ModelError("Tensor %d: unknown tensor type %d" % (index, type_code))
    name = _string(t, "Name", 10, nbytes, "Tensor %d" % index)
    buffer_index = int(t.Buffer())
    if not 0 <= buffer_index < max(len(buffers), 1):
        raise ModelError("Tensor %d (%s): buffer index %d out of range (the model has %d "
                         "buffers)" % (index, name, buffer_index, len(buffers)))
    quant = _read_quantization(t, index, shape, dtype, nbytes)
    if t.Sparsity() is not None:
        raise ModelError("Tensor %d (%s) is sparse; qrun does not run sparse tensors"
                         % (index, name))
    constant = buffers[buffer_index] if buffers else None
    if constant is None and buffer_index > 0 and 0 in shape and dtype is not None:
        # An empty constant (e.g. a [0]-shaped shape or dims input) stores no bytes.
        constant = np.zeros(0, np.uint8)
    if constant is not None and dtype == np.dtype(object):
        constant = _read_strings(constant, shape, "Tensor %d (%s)" % (index, name))
    elif constant is not None:
        if dtype is None:
            raise ModelError("Tensor %d (%s): constant of type %s is not supported"
                             % (index, name, TENSOR_TYPE_NAMES[type_code]))
        expected = math.prod(shape) * dtype.itemsize
        if constant.size != expected:
            raise ModelError("Tensor %d (%s): constant buffer %d holds %d bytes but shape %s of "
                             "%s needs %d" % (index, name, buffer_index, constant.size,
                                              list(shape), dtype.name, expected))
        constant = constant.view(dtype).reshape(shape)
        constant.flags.writeable = False
    return Tensor(index=index, name=name, type_code=type_code,
                  dtype=dtype if dtype is not None else np.dtype(np.uint8),
                  shape=shape, shape_signature=signature, quantization=quant,
                  is_variable=bool(t.IsVariable()), buffer_index=buffer_index,
                  constant=constant)


def _read_subgraph(sg, sg_index: int, opcodes, buffers, nbytes: int) -> Subgraph:
    what = "Subgraph %d" % sg_index
    tensors = [_read_tensor(sg.Tensors(i), i, buffers, nbytes) for i in range(sg.TensorsLength())]
    ntensors = len(tensors)
    inputs = [int(i) for i in _int_vector(sg, "Inputs", what, nbytes, 6)]
    outputs = [int(i) for i in _int_vector(sg, "Outputs", what, nbytes, 8)]
    for kind, idxs in (("input", inputs), ("output", outputs)):
        for i in idxs:
            if not 0 <= i < ntensors:
                raise ModelError("%s: graph %s tensor index %d out of range (%d tensors)"
                                 % (what, kind, i, ntensors))

    operators: List[Operator] = []
    for k in range(sg.OperatorsLength()):
        op = sg.Operators(k)
        opwhat = "Operator %d" % k
        opcode_index = int(op.OpcodeIndex())
        if not 0 <= opcode_index < len(opcodes):
            raise ModelError("%s: opcode index %d out of range (%d operator codes)"
                             % (opwhat, opcode_index, len(opcodes)))
        opname, is_custom, version = opcodes[opcode_index]
        opwhat = "Operator %d (%s)" % (k, opname)
        ins = [int(i) for i in _int_vector(op, "Inputs", opwhat, nbytes, 6)]
        outs = [int(i) for i in _int_vector(op, "Outputs", opwhat, nbytes, 8)]
        inter = [int(i) for i in _int_vector(op, "Intermediates", opwhat, nbytes, 20)]
        for kind, idxs, allow_missing in (("input", ins, True), ("output", outs, False),
                                          ("intermediate", inter, False)):
            for i in idxs:
                if not (0 <= i < ntensors or (allow_missing and i == -1)):
                    raise ModelError("%s: %s tensor index %d out of range (%d tensors)"
                                     % (opwhat, kind, i, ntensors))
        if not _vector_bounds_ok(op, 14, 1, nbytes):
            raise ModelError("%s: custom options run past the end of the file" % opwhat)
        custom = (op.CustomOptionsAsNumpy().tobytes() if op.CustomOptionsLength() else b"")
        large_offset, large_size = int(op.LargeCustomOptionsOffset()), int(op.LargeCustomOptionsSize())
        if large_offset > 1:
            raise ModelError("%s: custom options stored outside the flatbuffer (offset %d size "
                             "%d) are not supported" % (opwhat, large_offset, large_size))
        operators.append(Operator(
            index=k, opname=opname, version=version, is_custom=is_custom,
            options=parse_builtin_options(op, "" if is_custom else opname),
            custom_options=custom,
            input_indices=ins, output_indices=outs,
            inputs=[tensors[i] if i >= 0 else None for i in ins],
            outputs=[tensors[i] for i in outs],
            intermediates=[tensors[i] for i in inter]))

    _check_dataflow(what, tensors, operators, inputs, outputs)
    return Subgraph(index=sg_index, name=_string(sg, "Name", 12, nbytes, what),
                    tensors=tensors, operators=operators, inputs=inputs, outputs=outputs)


def _check_dataflow(what, tensors, operators, inputs, outputs) -> None:
    """Every op input must exist before the op runs: constant, variable, graph input or
    produced by an earlier op. In graph order this also proves the graph acyclic."""
    available = set(inputs)
    available.update(t.index for t in tensors if t.is_constant or t.is_variable)
    produced = {}
    for op in operators:
        for i in op.input_indices:
            if i >= 0 and i not in available:
                later = next((o.index for o in operators if o.index > op.index
                              and i in o.output_indices), None)
                reason = ("produced later by operator %d (the graph is cyclic or out of order)"
                          % later if later is not None else "never produced")
                raise ModelError("%s: operator %d (%s) reads tensor %d (%s), which is %s"
                                 % (what, op.index, op.opname, i, tensors[i].name, reason))
        for i in op.output_indices:
            if tensors[i].is_constant:
                raise ModelError("%s: operator %d (%s) writes tensor %d (%s), which is constant"
                                 % (what, op.index, op.opname, i, tensors[i].name))
            if i in produced:
                raise ModelError("%s: tensor %d (%s) is written by operators %d and %d"
                                 % (what, i, tensors[i].name, produced[i], op.index))
            if i in inputs:
                raise ModelError("%s: operator %d (%s) writes graph input tensor %d (%s)"
                                 % (what, op.index, op.opname, i, tensors[i].name))
            produced[i] = op.index
            available.add(i)
    for i in outputs:
        if i not in available:
            raise ModelError("%s: graph output tensor %d (%s) is never produced"
                             % (what, i, tensors[i].name))


def _read_signatures(fb, subgraphs, nbytes: int) -> List[SignatureDef]:
    sigs = []
    for i in range(fb.SignatureDefsLength()):
        s = fb.SignatureDefs(i)
        key = _string(s, "SignatureKey", 8, nbytes, "Signature %d" % i)
        sg_index = int(s.SubgraphIndex())
        if not 0 <= sg_index < len(subgraphs):
            raise ModelError("Signature %d (%s): subgraph index %d out of range"
                             % (i, key, sg_index))
        ntensors = len(subgraphs[sg_index].tensors)
        maps = []
        for count, get in ((s.InputsLength(), s.Inputs), (s.OutputsLength(), s.Outputs)):
            m = {}
            for j in range(count):
                tm = get(j)
                name = _string(tm, "Name", 4, nbytes, "Signature %d (%s)" % (i, key))
                idx = int(tm.TensorIndex())
                if not 0 <= idx < ntensors:
                    raise ModelError("Signature %d (%s): tensor %s index %d out of range"
                                     % (i, key, name, idx))
                m[name] = idx
            maps.append(m)
        sigs.append(SignatureDef(key=key, subgraph_index=sg_index, inputs=maps[0], outputs=maps[1]))
    return sigs
