"""Resource variables (VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE) and hash tables
(HASHTABLE, HASHTABLE_IMPORT, HASHTABLE_FIND, HASHTABLE_SIZE), as TFLite's kernels keep them:
in the interpreter-wide Runtime, shared by all subgraphs and kept across invokes.

A resource tensor holds the int32 resource id. Variable ids come from (container,
shared_name) in order of first use; a hash table's id is its table_id.
"""
from __future__ import annotations

from typing import Dict

import numpy as np

from ..registry import register, uses_runtime
from ..schema import TENSOR_DTYPES

_RESOURCE = np.int32
_STRING = np.dtype(object)


def _resource_id(op) -> int:
    return int(op.inputs[0].data.reshape(-1)[0])


def _same_as_declared(op):
    return [op.outputs[0].shape]


def _no_outputs(op):
    return []


def _read_variable_shape(op):
    # As TFLite's builtin kernel: the declared shape, or the variable's (at run time) when
    # the output is declared as a scalar (which TFLite cannot tell from unranked).
    out = op.outputs[0]
    return [out.shape] if len(out.shape_signature) else None


def _find_shape(op):
    return [op.inputs[1].shape]


def _size_shape(op):
    return [(1,)]


# -- resource variables ----------------------------------------------------------------

@register("VAR_HANDLE", (_RESOURCE,), shape=_same_as_declared)
@uses_runtime
def var_handle(op, runtime):
    key = (getattr(op.options, "container", None) or "",
           getattr(op.options, "shared_name", None) or "")
    rid = runtime.resource_ids.setdefault(key, len(runtime.resource_ids))
    return np.full(op.outputs[0].shape, rid, np.int32)


@register("ASSIGN_VARIABLE", (_RESOURCE,), shape=_no_outputs)
@uses_runtime
def assign_variable(op, runtime):
    runtime.variables[_resource_id(op)] = np.array(op.inputs[1].data, copy=True)
    return []


@register("READ_VARIABLE", (_RESOURCE,), shape=_read_variable_shape)
@uses_runtime
def read_variable(op, runtime):
    rid = _resource_id(op)
    value = runtime.variables.get(rid)
    if value is None:
        raise RuntimeError("READ_VARIABLE: resource variable %d has not been assigned" % rid)
    out = op.outputs[0]
    if value.dtype != out.dtype:
        raise RuntimeError("READ_VARIABLE: resource variable %d holds %s, the output is %s"
                           % (rid, value.dtype.name, out.dtype.name))
    if not len(out.shape_signature):
        return value
    # A declared shape is kept: TFLite copies that many leading elements of the variable.
    n = int(np.prod(out.shape, dtype=np.int64))
    if value.size < n:
        raise RuntimeError("READ_VARIABLE: resource variable %d has %d elements, fewer than "
                           "the %d of its output of shape %s" % (rid, value.size, n,
                                                                  list(out.shape)))
    return value.reshape(-1)[:n].reshape(out.shape)


# -- hash tables ---------------------------------------------------------------------------

class HashTable:
    """A static table: TFLite imports its keys and values once, later imports are ignored."""

    def __init__(self, key_dtype: np.dtype, value_dtype: np.dtype):
        self.key_dtype = key_dtype
        self.value_dtype = value_dtype
        self.entries: Dict = {}
        self.initialized = False

    def import_(self, keys: np.ndarray, values: np.ndarray) -> None:
        if self.initialized:
            return
        # Of repeated keys the first one's value stays (TFLite inserts without replacing).
        self.entries = dict(zip(keys.reshape(-1).tolist()[::-1],
                                values.reshape(-1).tolist()[::-1]))
        self.initialized = True

    def find(self, keys: np.ndarray, default) -> np.ndarray:
        get = self.entries.get
        found = [get(k, default) for k in keys.reshape(-1).tolist()]
        return np.array(found, dtype=self.value_dtype).reshape(keys.shape)


def _table_types(op):
    key = TENSOR_DTYPES.get(op.options.key_dtype)
    value = TENSOR_DTYPES.get(op.options.value_dtype)
    if not ((key == np.int64 and value == _STRING) or (key == _STRING and value == np.int64)):
        raise ValueError("HASHTABLE supports int64 -> string and string -> int64 tables only "
                         "(as TFLite), got key type %d and value type %d"
                         % (op.options.key_dtype, op.options.value_dtype))
    return key, value


def _hashtable_shape(op):
    _table_types(op)
    return _same_as_declared(op)


def _table(op, runtime) -> HashTable:
    rid = _resource_id(op)
    table = runtime.hashtables.get(rid)
    if table is None:
        raise RuntimeError("%s: hash table %d does not exist" % (op.opname, rid))
    return table


@register("HASHTABLE", (_RESOURCE,), shape=_hashtable_shape)
@uses_runtime
def hashtable(op, runtime):
    rid = int(op.options.table_id)
    if rid not in runtime.hashtables:
        runtime.hashtables[rid] = HashTable(*_table_types(op))
    return np.full(op.outputs[0].shape, rid, np.int32)


@register("HASHTABLE_IMPORT", (_RESOURCE,), shape=_no_outputs)
@uses_runtime
def hashtable_import(op, runtime):
    table = _table(op, runtime)
    keys, values = op.inputs[1].data, op.inputs[2].data
    if keys.dtype != table.key_dtype or values.dtype != table.value_dtype:
        raise RuntimeError("HASHTABLE_IMPORT: keys %s / values %s do not match the table's "
                           "%s -> %s" % (keys.dtype, values.dtype, table.key_dtype,
                                         table.value_dtype))
    table.import_(keys, values)
    return []


@register("HASHTABLE_FIND", (_RESOURCE,), shape=_find_shape)
@uses_runtime
def hashtable_find(op, runtime):
    table = _table(op, runtime)
    keys, default = op.inputs[1].data, op.inputs[2].data
    if keys.dtype != table.key_dtype or default.dtype != table.value_dtype:
        raise RuntimeError("HASHTABLE_FIND: keys %s / default %s do not match the table's "
                           "%s -> %s" % (keys.dtype, default.dtype, table.key_dtype,
                                         table.value_dtype))
    return table.find(keys, default.reshape(-1)[0])


@register("HASHTABLE_SIZE", (_RESOURCE,), shape=_size_shape)
@uses_runtime
def hashtable_size(op, runtime):
    return np.array([len(_table(op, runtime).entries)], np.int64)
