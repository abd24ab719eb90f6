"""Structure-aware mutations of .tflite flatbuffers for the loader fuzzer.

A byte mutator rarely gets past the flatbuffer's offsets to the fields that matter, so this one
walks the file with the TFLite schema (its own bounds-checked reader, independent of the loader
under test), records where each field of interest sits (offsets, vector lengths, shapes, tensor
types, quantization, opcodes, op inputs, buffer sizes, vtable entries, option scalars) and
overwrites a few of them in place with values chosen for the field's role.
"""
from __future__ import annotations

import random
import struct
from typing import List, NamedTuple

# table -> {field number: (role, kind, argument)}. kind: "s" scalar (argument: struct format),
# "t" table (argument: table name), "v" vector of scalars (argument: (role of elements, format)),
# "vt" vector of tables (argument: table name), "str" string, "opts" options table of any type.
SCHEMA = {
    "Model": {0: ("version", "s", "<I"), 1: ("opcodes", "vt", "OperatorCode"),
              2: ("subgraphs", "vt", "SubGraph"), 3: ("string", "str", None),
              4: ("buffers", "vt", "Buffer"), 5: ("index", "v", ("index", "<i")),
              7: ("signatures", "vt", "SignatureDef")},
    "OperatorCode": {0: ("opcode", "s", "<b"), 1: ("string", "str", None),
                     2: ("version", "s", "<i"), 3: ("opcode", "s", "<i")},
    "SubGraph": {0: ("tensors", "vt", "Tensor"), 1: ("io", "v", ("index", "<i")),
                 2: ("io", "v", ("index", "<i")), 3: ("operators", "vt", "Operator"),
                 4: ("string", "str", None)},
    "Tensor": {0: ("shape", "v", ("dim", "<i")), 1: ("type", "s", "<b"),
               2: ("buffer_index", "s", "<I"), 3: ("string", "str", None),
               4: ("quantization", "t", "Quantization"), 5: ("flag", "s", "<B"),
               7: ("shape_signature", "v", ("dim", "<i"))},
    "Quantization": {0: ("minmax", "v", ("scale", "<f")), 1: ("minmax", "v", ("scale", "<f")),
                     2: ("scale", "v", ("scale", "<f")), 3: ("zero_point", "v", ("zp", "<q")),
                     6: ("qdim", "s", "<i")},
    "Operator": {0: ("opcode_index", "s", "<I"), 1: ("op_io", "v", ("index", "<i")),
                 2: ("op_io", "v", ("index", "<i")), 3: ("options_type", "s", "<B"),
                 4: ("options", "opts", None), 5: ("custom", "v", ("byte", "<B")),
                 8: ("op_io", "v", ("index", "<i")), 9: ("u64", "s", "<Q"),
                 10: ("u64", "s", "<Q")},
    "Buffer": {0: ("data", "v", ("byte", "<B")), 1: ("u64", "s", "<Q"), 2: ("u64", "s", "<Q")},
    "SignatureDef": {0: ("tensor_maps", "vt", "TensorMap"), 1: ("tensor_maps", "vt", "TensorMap"),
                     2: ("string", "str", None), 4: ("index", "s", "<I")},
    "TensorMap": {0: ("string", "str", None), 1: ("index", "s", "<I")},
}
# Elements recorded per vector: enough to reach every shape and op input, not every weight byte.
MAX_ELEMENTS = 64


class Field(NamedTuple):
    pos: int
    fmt: str
    role: str


class _Walker:
    def __init__(self, data: bytes):
        self.data = data
        self.fields: List[Field] = []
        self.seen = set()

    def _get(self, fmt: str, pos: int):
        if pos < 0 or pos + struct.calcsize(fmt) > len(self.data):
            raise IndexError(pos)
        return struct.unpack_from(fmt, self.data, pos)[0]

    def _ref(self, pos: int) -> int:
        """Records a uoffset and returns the position it points to."""
        target = pos + self._get("<I", pos)
        self.fields.append(Field(pos, "<I", "uoffset"))
        return target

    def _vector(self, pos: int):
        start = self._ref(pos)
        n = self._get("<I", start)
        self.fields.append(Field(start, "<I", "veclen"))
        return start + 4, n

    def table(self, pos: int, name: str) -> None:
        if (pos, name) in self.seen or len(self.seen) > 20000:
            return
        self.seen.add((pos, name))
        vtable = pos - self._get("<i", pos)
        vt_size = self._get("<H", vtable)
        nfields = max(0, min((vt_size - 4) // 2, 64))
        for k in range(nfields):
            entry = vtable + 4 + 2 * k
            off = self._get("<H", entry)
            if off == 0:
                continue
            self.fields.append(Field(entry, "<H", "vtable"))
            spec = SCHEMA.get(name, {}).get(k)
            if spec is None:
                if name == "Options":
                    for fmt in ("<B", "<i") if (pos + off) % 4 == 0 else ("<B",):
                        if pos + off + struct.calcsize(fmt) <= len(self.data):
                            self.fields.append(Field(pos + off, fmt, "option"))
                continue
            try:
                self._field(pos + off, spec)
            except (IndexError, struct.error):
                continue

    def _field(self, fpos: int, spec) -> None:
        role, kind, arg = spec
        if kind == "s":
            self._get(arg, fpos)
            self.fields.append(Field(fpos, arg, role))
        elif kind == "t":
            self.table(self._ref(fpos), arg)
        elif kind == "opts":
            self.table(self._ref(fpos), "Options")
        elif kind == "str":
            self._vector(fpos)
        elif kind == "v":
            elem_role, fmt = arg
            start, n = self._vector(fpos)
            size = struct.calcsize(fmt)
            for i in range(min(n, MAX_ELEMENTS)):
                self._get(fmt, start + i * size)
                self.fields.append(Field(start + i * size, fmt, elem_role))
        elif kind == "vt":
            start, n = self._vector(fpos)
            for i in range(min(n, 4096)):
                try:
                    self.table(self._ref(start + 4 * i), arg)
                except (IndexError, struct.error):
                    break


def fields_of(data: bytes) -> List[Field]:
    """The mutable fields of a model file (as many as the walker can reach)."""
    w = _Walker(data)
    try:
        w.table(w._ref(0), "Model")
    except (IndexError, struct.error):
        pass
    return w.fields


_I32_EDGES = [0, 1, -1, 2, 3, 4, 7, 8, 255, 256, 65535, 65536, 1 << 20, 1 << 24, (1 << 31) - 1,
              -(1 << 31), -2, 1 << 30]
_F32_EDGES = [0.0, -0.0, -1.0, 1.0, float("nan"), float("inf"), float("-inf"), 1e-45, 1e-30,
              3.4e38, 1e10, 2.0 ** -32]
_I64_EDGES = [0, 1, -1, -128, 127, 128, -129, 255, 256, 1 << 31, (1 << 63) - 1, -(1 << 63)]
_U64_EDGES = [0, 1, 2, 8, 16, 1 << 31, 1 << 32, (1 << 63) - 1, (1 << 64) - 1]


def _value(field: Field, old, rng: random.Random, size: int, pool):
    role = field.role
    if role == "scale":
        return rng.choice(_F32_EDGES + [old * 256.0, old / 256.0, -old])
    if role == "zp":
        return rng.choice(_I64_EDGES + [old + 1, old - 1, old + 128])
    if role == "u64":
        return rng.choice(_U64_EDGES + [size, size - 1, max(old - 1, 0), old + 1])
    if role in ("uoffset", "veclen"):
        return rng.choice([0, 1, old + 1, max(old - 1, 0), old + 4, max(old - 4, 0), old * 2,
                           size, size - old, 0x7FFFFFFF, 0xFFFFFFFF, 0x40000000,
                           rng.randrange(max(size, 1))]) & 0xFFFFFFFF
    if role == "vtable":
        return rng.choice([0, 2, 4, old + 4, max(old - 4, 0), 0xFFFF, rng.randrange(256)])
    if role == "type":
        return rng.choice(list(range(19)) + [-1, 100, 127])
    if role == "opcode":
        return rng.randrange(-2, 210) if field.fmt == "<i" else rng.randrange(-128, 128)
    if role == "options_type":
        return rng.randrange(0, 130)
    if role in ("byte", "flag"):
        return rng.randrange(256)
    if role in ("index", "buffer_index", "opcode_index") and pool and rng.random() < 0.5:
        return rng.choice(pool)     # another valid-looking index: rewires the graph
    candidates = _I32_EDGES + [old + 1, old - 1, old * 2, old * 1000, -old]
    if role == "dim" and pool and rng.random() < 0.5:
        return rng.choice(pool)
    return rng.choice(candidates)


def _fits(fmt: str, value) -> bool:
    try:
        struct.pack(fmt, value)
        return True
    except (struct.error, OverflowError):
        return False


def mutate(data: bytes, rng: random.Random, max_edits: int = 3) -> bytes:
    """1..max_edits field overwrites; a truncation now and then. Returns the new bytes."""
    out = bytearray(data)
    fields = fields_of(data)
    if not fields or rng.random() < 0.03:
        cut = rng.randrange(len(out) + 1)
        return bytes(out[:cut])
    for _ in range(rng.randint(1, max_edits)):
        f = rng.choice(fields)
        if rng.random() < 0.6:      # favour the semantic fields over the plumbing
            semantic = [g for g in fields if g.role not in ("uoffset", "veclen", "vtable", "byte")]
            if semantic:
                f = rng.choice(semantic)
        old = struct.unpack_from(f.fmt, out, f.pos)[0]
        pool = [struct.unpack_from(g.fmt, out, g.pos)[0] for g in fields
                if g.role == f.role and g.fmt == f.fmt][:256]
        value = _value(f, old, rng, len(out), pool)
        if _fits(f.fmt, value):
            struct.pack_into(f.fmt, out, f.pos, value)
    return bytes(out)
