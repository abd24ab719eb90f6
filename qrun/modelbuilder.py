"""Writes .tflite models in code, through the `tflite` package's flatbuffer builder functions.

Used by the op tests (one-op models over grids of parameters) and by models/make_models.py:

    b = ModelBuilder()
    x = b.add_input([1, 8, 8, 3], np.int8, scale=0.5, zero_point=-3)
    w = b.add_constant(weights, scale=per_channel_scales, zero_point=0, quantized_dimension=0)
    y = b.add_tensor([1, 8, 8, 4], np.int8, scale=0.25, zero_point=1)
    b.add_op("CONV_2D", [x, w, bias], [y], padding="SAME", stride_w=1, stride_h=1)
    b.mark_output(y)
    data = b.build()
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import flatbuffers
import numpy as np
import tflite

_DTYPE_CODES = {np.dtype(np.float32): 0, np.dtype(np.float16): 1, np.dtype(np.int32): 2,
                np.dtype(np.uint8): 3, np.dtype(np.int64): 4, np.dtype(np.bool_): 6,
                np.dtype(np.int16): 7, np.dtype(np.int8): 9, np.dtype(np.float64): 10,
                np.dtype(np.uint32): 15, np.dtype(np.uint16): 16, np.dtype(object): 5}

# Ops whose options table is not named after the op.
_OPTIONS_OF_OP = {
    "AVERAGE_POOL_2D": "Pool2DOptions", "MAX_POOL_2D": "Pool2DOptions",
    "L2_POOL_2D": "Pool2DOptions", "CONV_2D": "Conv2DOptions",
    "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions", "L2_NORMALIZATION": "L2NormOptions",
    "LOCAL_RESPONSE_NORMALIZATION": "LocalResponseNormalizationOptions",
    "SVDF": "SVDFOptions", "UNIDIRECTIONAL_SEQUENCE_LSTM": "UnidirectionalSequenceLSTMOptions",
    "LSTM": "LSTMOptions", "BATCH_TO_SPACE_ND": "BatchToSpaceNDOptions",
    "SPACE_TO_BATCH_ND": "SpaceToBatchNDOptions", "MEAN": "ReducerOptions",
    "SUM": "ReducerOptions", "REDUCE_PROD": "ReducerOptions", "REDUCE_MAX": "ReducerOptions",
    "REDUCE_MIN": "ReducerOptions", "REDUCE_ANY": "ReducerOptions",
    "REDUCE_ALL": "ReducerOptions", "MAXIMUM": "MaximumMinimumOptions",
    "MINIMUM": "MaximumMinimumOptions", "PADV2": "PadV2Options", "TOPK_V2": "TopKV2Options",
    "BATCH_MATMUL": "BatchMatMulOptions", "LOG_SOFTMAX": "LogSoftmaxOptions",
    "FULLY_CONNECTED": "FullyConnectedOptions", "TRANSPOSE_CONV": "TransposeConvOptions",
    "SELECT_V2": "SelectV2Options", "RESIZE_NEAREST_NEIGHBOR": "ResizeNearestNeighborOptions",
    "RESIZE_BILINEAR": "ResizeBilinearOptions", "GATHER_ND": "GatherNdOptions",
    "MIRROR_PAD": "MirrorPadOptions", "CONCATENATION": "ConcatenationOptions",
    "BIDIRECTIONAL_SEQUENCE_LSTM": "BidirectionalSequenceLSTMOptions",
    "UNIDIRECTIONAL_SEQUENCE_RNN": "SequenceRNNOptions", "RNN": "RNNOptions",
}
_ENUMS = {
    "padding": {"SAME": 0, "VALID": 1},
    "fused_activation_function": {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3,
                                  "TANH": 4, "SIGN_BIT": 5},
    "mode": {"REFLECT": 0, "SYMMETRIC": 1},
}


def _camel(snake: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in snake.split("_"))


def options_class_name(opname: str) -> str:
    if opname in _OPTIONS_OF_OP:
        return _OPTIONS_OF_OP[opname]
    return "".join(p.capitalize() for p in opname.split("_")) + "Options"


class ModelBuilder:
    def __init__(self, description: str = "qrun model builder"):
        self.description = description
        self.buffers: List[Optional[bytes]] = [None]
        self.tensors: List[dict] = []
        self.ops: List[dict] = []
        self.inputs: List[int] = []
        self.outputs: List[int] = []
        self.signatures: List[dict] = []
        self.name = "main"
        self.subgraphs: List["ModelBuilder"] = []   # subgraphs 1.. (control-flow bodies)

    def add_subgraph(self, name: str) -> "ModelBuilder":
        """A builder for the next subgraph (index len(subgraphs)), sharing this model's buffers;
        give it tensors, ops, inputs and outputs as for the main one, then build() the main."""
        sub = ModelBuilder(self.description)
        sub.buffers = self.buffers
        sub.name = name
        self.subgraphs.append(sub)
        sub.index = len(self.subgraphs)
        return sub

    # -- tensors ---------------------------------------------------------------------------

    def add_tensor(self, shape: Sequence[int], dtype, scale=None, zero_point=None,
                   quantized_dimension: int = 0, name: Optional[str] = None,
                   data: Optional[np.ndarray] = None, shape_signature=None,
                   is_variable: bool = False, type_code: Optional[int] = None) -> int:
        dtype = np.dtype(dtype)
        buffer = 0
        if data is not None:
            arr = np.ascontiguousarray(np.asarray(data, dtype=dtype).reshape(shape))
            self.buffers.append(string_buffer(arr) if dtype == object else arr.tobytes())
            buffer = len(self.buffers) - 1
        index = len(self.tensors)
        self.tensors.append(dict(
            shape=[int(d) for d in shape], type=_DTYPE_CODES[dtype] if type_code is None
            else type_code, buffer=buffer, name=name or "t%d" % index,
            scale=None if scale is None else np.atleast_1d(np.asarray(scale, np.float32)),
            zero_point=None if zero_point is None and scale is None else np.atleast_1d(
                np.asarray(0 if zero_point is None else zero_point, np.int64)),
            quantized_dimension=int(quantized_dimension),
            shape_signature=None if shape_signature is None else [int(d) for d in shape_signature],
            is_variable=is_variable))
        t = self.tensors[-1]
        if t["scale"] is not None and len(t["zero_point"]) != len(t["scale"]):
            t["zero_point"] = np.broadcast_to(t["zero_point"], t["scale"].shape).copy()
        return index

    def add_input(self, shape, dtype, **kw) -> int:
        i = self.add_tensor(shape, dtype, **kw)
        self.inputs.append(i)
        return i

    def add_constant(self, data: np.ndarray, dtype=None, **kw) -> int:
        data = np.asarray(data)
        return self.add_tensor(data.shape, dtype or data.dtype, data=data, **kw)

    def mark_output(self, index: int) -> int:
        self.outputs.append(index)
        return index

    # -- operators ---------------------------------------------------------------------------

    def add_op(self, opname: str, inputs: Sequence[int], outputs: Sequence[int],
               options_type: Optional[str] = None, custom_options: Optional[bytes] = None,
               version: int = 1, intermediates: Sequence[int] = (), **options) -> int:
        """Adds an operator. `opname` is a BuiltinOperator name, or any other string for a
        custom op. Keyword options are the options table's fields in snake_case; enum fields
        (padding, fused_activation_function, mode) also take their names."""
        self.ops.append(dict(opname=opname, inputs=list(inputs), outputs=list(outputs),
                             options=options, options_type=options_type,
                             custom_options=custom_options, version=version,
                             intermediates=list(intermediates)))
        return len(self.ops) - 1

    def set_signature(self, key: str, inputs: Dict[str, int], outputs: Dict[str, int],
                      subgraph_index: int = 0) -> None:
        """The model's only signature (replacing any added before)."""
        self.signatures = []
        self.add_signature(key, inputs, outputs, subgraph_index)

    def add_signature(self, key: str, inputs: Dict[str, int], outputs: Dict[str, int],
                      subgraph_index: int = 0) -> None:
        self.signatures.append(dict(key=key, inputs=inputs, outputs=outputs,
                                    subgraph_index=subgraph_index))

    # -- serialization -------------------------------------------------------------------------

    def build(self) -> bytes:
        b = flatbuffers.Builder(1024)
        opcode_keys: List[tuple] = []
        graphs = [self] + self.subgraphs
        for op in (op for g in graphs for op in g.ops):
            key = (op["opname"], op["version"])
            if key not in opcode_keys:
                opcode_keys.append(key)

        buffers = []
        for data in self.buffers:
            vec = None
            if data is not None:
                b.StartVector(1, len(data), 16)
                b.head = b.head - len(data)
                b.Bytes[b.head:b.head + len(data)] = data
                vec = b.EndVector(len(data)) if _old_endvector() else b.EndVector()
            tflite.BufferStart(b)
            if vec is not None:
                tflite.BufferAddData(b, vec)
            buffers.append(tflite.BufferEnd(b))

        subgraphs = [g._build_subgraph(b, opcode_keys) for g in graphs]

        opcodes = []
        for name, version in opcode_keys:
            builtin = getattr(tflite.BuiltinOperator, name, None)
            custom = b.CreateString(name) if builtin is None else None
            tflite.OperatorCodeStart(b)
            code = tflite.BuiltinOperator.CUSTOM if builtin is None else builtin
            tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
            tflite.OperatorCodeAddBuiltinCode(b, code)
            tflite.OperatorCodeAddVersion(b, version)
            if custom is not None:
                tflite.OperatorCodeAddCustomCode(b, custom)
            opcodes.append(tflite.OperatorCodeEnd(b))

        signatures = []
        for sig in self.signatures:
            maps = []
            for m in (sig["inputs"], sig["outputs"]):
                entries = []
                for k, idx in m.items():
                    s = b.CreateString(k)
                    tflite.TensorMapStart(b)
                    tflite.TensorMapAddName(b, s)
                    tflite.TensorMapAddTensorIndex(b, idx)
                    entries.append(tflite.TensorMapEnd(b))
                maps.append(_offset_vector(b, entries))
            key = b.CreateString(sig["key"])
            tflite.SignatureDefStart(b)
            tflite.SignatureDefAddInputs(b, maps[0])
            tflite.SignatureDefAddOutputs(b, maps[1])
            tflite.SignatureDefAddSignatureKey(b, key)
            tflite.SignatureDefAddSubgraphIndex(b, sig["subgraph_index"])
            signatures.append(tflite.SignatureDefEnd(b))

        m_opcodes = _offset_vector(b, opcodes)
        m_subgraphs = _offset_vector(b, subgraphs)
        m_buffers = _offset_vector(b, buffers)
        m_sigs = _offset_vector(b, signatures) if signatures else None
        desc = b.CreateString(self.description)
        tflite.ModelStart(b)
        tflite.ModelAddVersion(b, 3)
        tflite.ModelAddOperatorCodes(b, m_opcodes)
        tflite.ModelAddSubgraphs(b, m_subgraphs)
        tflite.ModelAddDescription(b, desc)
        tflite.ModelAddBuffers(b, m_buffers)
        if m_sigs is not None:
            tflite.ModelAddSignatureDefs(b, m_sigs)
        b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
        return bytes(b.Output())

    def _build_subgraph(self, b, opcode_keys) -> int:
        tensors = [self._build_tensor(b, t) for t in self.tensors]
        operators = [self._build_op(b, op, opcode_keys) for op in self.ops]
        sg_tensors = _offset_vector(b, tensors)
        sg_ops = _offset_vector(b, operators)
        sg_in = _int_vector(b, self.inputs, np.int32)
        sg_out = _int_vector(b, self.outputs, np.int32)
        name = b.CreateString(self.name)
        tflite.SubGraphStart(b)
        tflite.SubGraphAddTensors(b, sg_tensors)
        tflite.SubGraphAddOperators(b, sg_ops)
        tflite.SubGraphAddInputs(b, sg_in)
        tflite.SubGraphAddOutputs(b, sg_out)
        tflite.SubGraphAddName(b, name)
        return tflite.SubGraphEnd(b)

    def _build_tensor(self, b, t: dict) -> int:
        shape = _int_vector(b, t["shape"], np.int32)
        sig = (_int_vector(b, t["shape_signature"], np.int32)
               if t["shape_signature"] is not None else None)
        name = b.CreateString(t["name"])
        quant = None
        if t["scale"] is not None:
            scale = _numpy_vector(b, t["scale"].astype(np.float32))
            zp = _numpy_vector(b, t["zero_point"].astype(np.int64))
            tflite.QuantizationParametersStart(b)
            tflite.QuantizationParametersAddScale(b, scale)
            tflite.QuantizationParametersAddZeroPoint(b, zp)
            tflite.QuantizationParametersAddQuantizedDimension(b, t["quantized_dimension"])
            quant = tflite.QuantizationParametersEnd(b)
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape)
        tflite.TensorAddType(b, t["type"])
        tflite.TensorAddBuffer(b, t["buffer"])
        tflite.TensorAddName(b, name)
        if quant is not None:
            tflite.TensorAddQuantization(b, quant)
        if t["is_variable"]:
            tflite.TensorAddIsVariable(b, True)
        if sig is not None:
            tflite.TensorAddShapeSignature(b, sig)
        return tflite.TensorEnd(b)

    def _build_op(self, b, op: dict, opcode_keys) -> int:
        ins = _int_vector(b, op["inputs"], np.int32)
        outs = _int_vector(b, op["outputs"], np.int32)
        inter = _int_vector(b, op["intermediates"], np.int32) if op["intermediates"] else None
        custom = (_numpy_vector(b, np.frombuffer(op["custom_options"], np.uint8))
                  if op["custom_options"] else None)
        opts, opts_code, second = None, 0, False
        if op["options"] or op["options_type"]:
            cls_name = op["options_type"] or options_class_name(op["opname"])
            opts = _build_options(b, cls_name, op["options"])
            # Options of newer ops live in the second union (BuiltinOptions2).
            second = not hasattr(tflite.BuiltinOptions, cls_name)
            opts_code = getattr(tflite.BuiltinOptions2 if second else tflite.BuiltinOptions,
                                cls_name)
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, opcode_keys.index((op["opname"], op["version"])))
        tflite.OperatorAddInputs(b, ins)
        tflite.OperatorAddOutputs(b, outs)
        if inter is not None:
            tflite.OperatorAddIntermediates(b, inter)
        if opts is not None and second:
            tflite.OperatorAddBuiltinOptions2Type(b, opts_code)
            tflite.OperatorAddBuiltinOptions2(b, opts)
        elif opts is not None:
            tflite.OperatorAddBuiltinOptionsType(b, opts_code)
            tflite.OperatorAddBuiltinOptions(b, opts)
        if custom is not None:
            tflite.OperatorAddCustomOptions(b, custom)
        return tflite.OperatorEnd(b)


def string_buffer(strings: np.ndarray) -> bytes:
    """TFLite's string tensor format: int32 count, count + 1 int32 offsets, the bytes."""
    items = [s.encode("utf-8") if isinstance(s, str) else bytes(s) for s in strings.reshape(-1)]
    offsets = np.cumsum([4 * (len(items) + 2)] + [len(x) for x in items])
    header = np.concatenate([[len(items)], offsets]).astype("<i4")
    return header.tobytes() + b"".join(items)


def _old_endvector() -> bool:
    """flatbuffers < 2 needs EndVector(n); later versions take the count from StartVector."""
    import inspect
    params = list(inspect.signature(flatbuffers.Builder.EndVector).parameters.values())[1:]
    return bool(params) and params[0].default is inspect.Parameter.empty


def _numpy_vector(b, arr: np.ndarray) -> int:
    return b.CreateNumpyVector(np.ascontiguousarray(arr))


def _int_vector(b, values, dtype) -> int:
    return _numpy_vector(b, np.asarray(list(values), dtype=dtype))


def _offset_vector(b, offsets: List[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for o in reversed(offsets):
        b.PrependUOffsetTRelative(o)
    return b.EndVector(len(offsets)) if _old_endvector() else b.EndVector()


def _build_options(b, cls_name: str, fields: dict) -> int:
    vectors = {}
    for key, value in fields.items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            vectors[key] = _numpy_vector(b, value.astype(np.float32))  # e.g. BUCKETIZE
        elif isinstance(value, (list, tuple, np.ndarray)) and cls_name.startswith("Stablehlo"):
            vectors[key] = _int_vector(b, value, np.int64)  # StableHLO's vectors are int64
        elif isinstance(value, (list, tuple, np.ndarray)):
            vectors[key] = _int_vector(b, value, np.int32)
        elif isinstance(value, str) and key not in _ENUMS:
            vectors[key] = b.CreateString(value)
    getattr(tflite, cls_name + "Start")(b)
    for key, value in fields.items():
        adder = getattr(tflite, "%sAdd%s" % (cls_name, _camel(key)), None)
        if adder is None:
            raise ValueError("%s has no field %s" % (cls_name, key))
        if key in vectors:
            value = vectors[key]
        elif isinstance(value, str):
            value = _ENUMS[key][value]
        adder(b, value)
    return getattr(tflite, cls_name + "End")(b)
