"""The TFLite schema as qrun sees it: op names, tensor types and builtin options.

The generated accessors of the `tflite` package read the flatbuffer; this module turns
what they return into plain Python values once, at load time, so that nothing after the
loader touches flatbuffer tables.
"""
from __future__ import annotations

import inspect
import re
from types import SimpleNamespace
from typing import Dict, Optional

import numpy as np
import tflite

SCHEMA_VERSION = 3
FILE_IDENTIFIER = b"TFL3"

BUILTIN_OP_NAMES: Dict[int, str] = {
    code: name for name, code in vars(tflite.BuiltinOperator).items()
    if not name.startswith("_") and isinstance(code, int)
}

# TensorType -> numpy dtype; None where numpy has no equivalent we can run.
# RESOURCE (13) tensors hold an int32 resource id, as in TFLite.
TENSOR_DTYPES: Dict[int, Optional[np.dtype]] = {
    0: np.dtype(np.float32), 1: np.dtype(np.float16), 2: np.dtype(np.int32),
    3: np.dtype(np.uint8), 4: np.dtype(np.int64), 5: np.dtype(object),
    6: np.dtype(np.bool_), 7: np.dtype(np.int16), 8: np.dtype(np.complex64),
    9: np.dtype(np.int8), 10: np.dtype(np.float64), 11: np.dtype(np.complex128),
    12: np.dtype(np.uint64), 13: np.dtype(np.int32), 14: None, 15: np.dtype(np.uint32),
    16: np.dtype(np.uint16), 17: None, 18: None,
}
TENSOR_TYPE_NAMES: Dict[int, str] = {
    code: name for name, code in vars(tflite.TensorType).items()
    if not name.startswith("_") and isinstance(code, int)
}

_OPTION_CLASS_NAMES: Dict[int, str] = {
    code: name for name, code in vars(tflite.BuiltinOptions).items()
    if not name.startswith("_") and isinstance(code, int) and name != "NONE"
}
_OPTION2_CLASS_NAMES: Dict[int, str] = {
    code: name for name, code in vars(tflite.BuiltinOptions2).items()
    if not name.startswith("_") and isinstance(code, int) and name != "NONE"
}
_SKIP_SUFFIXES = ("Length", "IsNone", "AsNumpy")
_getter_cache: Dict[type, list] = {}


def _snake(name: str) -> str:
    # DilationHFactor -> dilation_h_factor, as the schema spells the field.
    return re.sub(r"(?<=[a-z0-9])([A-Z])|(?<=[A-Z])([A-Z])(?=[a-z])", r"_\g<0>", name).lower()


def _getters(cls: type) -> list:
    """(snake_name, method_name, is_vector) for every field accessor of an options class."""
    found = _getter_cache.get(cls)
    if found is not None:
        return found
    found = []
    for name, fn in vars(cls).items():
        if name == "Init" or name.startswith(("_", "GetRootAs")) or not callable(fn):
            continue
        if name.endswith(_SKIP_SUFFIXES) or "BufferHasIdentifier" in name:
            continue
        params = list(inspect.signature(fn).parameters)
        if len(params) == 1:
            found.append((_snake(name), name, False))
        elif len(params) == 2 and hasattr(cls, name + "AsNumpy"):
            found.append((_snake(name), name, True))
    _getter_cache[cls] = found
    return found


# The options table each builtin op reads, where the name alone does not say it.
_OPTIONS_OF_OP = {
    "AVERAGE_POOL_2D": "Pool2DOptions", "MAX_POOL_2D": "Pool2DOptions",
    "L2_POOL_2D": "Pool2DOptions", "L2_NORMALIZATION": "L2NormOptions",
    "MAXIMUM": "MaximumMinimumOptions", "MINIMUM": "MaximumMinimumOptions",
    "UNIDIRECTIONAL_SEQUENCE_RNN": "SequenceRNNOptions", "CONV_3D_TRANSPOSE": "Conv3DOptions",
    "RANDOM_STANDARD_NORMAL": "RandomOptions", "RANDOM_UNIFORM": "RandomOptions",
    "MULTINOMIAL": "RandomOptions",
    **{op: "ReducerOptions" for op in ("MEAN", "SUM", "REDUCE_PROD", "REDUCE_MAX",
                                       "REDUCE_MIN", "REDUCE_ANY", "REDUCE_ALL")},
}
_OPTIONS_BY_KEY = {name[:-len("Options")].lower(): name for name in _OPTION_CLASS_NAMES.values()
                   if name.endswith("Options")}
# A flatbuffer table with no fields (vtable of 4 bytes, then the table): every getter
# returns the schema default.
_EMPTY_TABLE = bytearray(b"\x04\x00\x04\x00\x04\x00\x00\x00")


def expected_options_class(opname: str) -> Optional[str]:
    """The options class of a builtin op (CONV_2D -> Conv2DOptions), None for ops without."""
    return _OPTIONS_OF_OP.get(opname) or _OPTIONS_BY_KEY.get(opname.replace("_", "").lower())


def parse_builtin_options(op, opname: str = "") -> SimpleNamespace:
    """Reads an Operator's builtin options table into a namespace of snake_case fields.

    Vector fields become int/float numpy arrays; absent tables give an empty namespace.
    """
    opts = SimpleNamespace()
    code = op.BuiltinOptionsType()
    table = op.BuiltinOptions()
    class_name = _OPTION_CLASS_NAMES.get(code)
    if table is None and op.BuiltinOptions2Type():
        # Ops whose options are in the second union (REDUCE_WINDOW, STABLEHLO_*).
        table = op.BuiltinOptions2()
        class_name = _OPTION2_CLASS_NAMES.get(op.BuiltinOptions2Type())
    expected = expected_options_class(opname)
    if expected is not None and (table is None or class_name != expected):
        # As LiteRT does (builtin_options_as_X() is null): absent or mismatched options
        # mean the defaults of the op's own options table.
        class_name, table = expected, SimpleNamespace(Bytes=_EMPTY_TABLE, Pos=4)
    if table is None or class_name is None:
        return opts
    cls = getattr(tflite, class_name, None)
    if cls is None:
        return opts
    obj = cls()
    obj.Init(table.Bytes, table.Pos)
    for snake, name, is_vector in _getters(cls):
        if is_vector:
            if getattr(obj, name + "Length")() == 0:
                value = np.zeros(0, np.int32)
            else:
                value = np.array(getattr(obj, name + "AsNumpy")())
        else:
            value = getattr(obj, name)()
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            elif value is not None and not isinstance(value, (int, float, bool)):
                continue  # nested tables are not used by any kernel
        setattr(opts, snake, value)
    return opts


class Padding:
    SAME = 0
    VALID = 1


class Activation:
    NONE = 0
    RELU = 1
    RELU_N1_TO_1 = 2
    RELU6 = 3
    TANH = 4
    SIGN_BIT = 5
