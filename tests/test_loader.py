"""The loader on broken files: truncated, corrupted, random, empty, not a model, and models
crafted with one inconsistency each. Every one must raise ModelError (a ValueError) whose
message names the problem: never another exception, a crash, a hang or a giant allocation.
"""
from __future__ import annotations

import contextlib
import resource
import signal
import tracemalloc

import numpy as np
import pytest
import tflite

from qrun import Interpreter
from qrun.interpreter import ModelError, load_model
from qrun.modelbuilder import ModelBuilder

from .oracle import SHARED_MODELS, litert

SHARED = sorted(SHARED_MODELS.glob("*.tflite"))
SMALL_MODELS = ["hello_world_int8", "simple_add_model_int8", "split_concat_uint8",
                "keras_lstm_mnist_ptq", "ssd_mobilenet_v1_coco_quant_postprocess_head_layers",
                "mobilenet_v1_0.25_128_quant"]
SECONDS_PER_LOAD = 5
# Loading must never allocate much more than the file itself.
MAX_TRACED_BYTES = 32 << 20
MAX_RSS_GROWTH_KB = 256 << 10


@contextlib.contextmanager
def deadline(seconds: float):
    """Fails the test instead of hanging."""
    def expire(signum, frame):
        raise TimeoutError("loading took more than %g s" % seconds)
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def bounded_memory(limit: int = MAX_TRACED_BYTES):
    """Every allocation traced (slow: for small inputs)."""
    tracemalloc.start()
    try:
        yield
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < limit, "loading allocated %d bytes at peak" % peak


@contextlib.contextmanager
def bounded_rss(limit_kb: int = MAX_RSS_GROWTH_KB):
    """The process's peak resident size grows by less than limit_kb (cheap, coarse)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    yield
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown < limit_kb, "peak resident size grew by %d kB" % grown


def loads(data: bytes) -> bool:
    """True when `data` loads; False when it raises ModelError; any other exception fails."""
    with deadline(SECONDS_PER_LOAD):
        try:
            load_model(content=data)
        except ModelError as exc:
            assert str(exc), "ModelError without a message"
            return False
    return True


def litert_loads(data: bytes) -> bool:
    try:
        litert().Interpreter(model_content=data)
    except (ValueError, RuntimeError):
        return False
    return True


# -- truncated, corrupted and random files -------------------------------------------------------

@pytest.mark.parametrize("path", SHARED, ids=[p.stem for p in SHARED])
def test_truncated(path):
    data = path.read_bytes()
    n = len(data)
    cuts = set(np.linspace(0, n - 1, 48).astype(int).tolist()) | set(range(n - 64, n, 3))
    cuts |= {1, 4, 7, 8, 12, 16, 32}
    for cut in sorted(c for c in cuts if 0 <= c < n):
        # Flatbuffers may end in padding that nothing references: LiteRT's verifier is the
        # judge of whether such a cut still holds the whole model.
        if loads(data[:cut]):
            assert litert_loads(data[:cut]), "qrun loaded %s cut at %d of %d bytes" % (
                path.name, cut, n)


def test_truncated_file_on_disk(tmp_path):
    data = (SHARED_MODELS / "mobilenet_v1_0.25_128_quant.tflite").read_bytes()
    path = tmp_path / "cut.tflite"
    path.write_bytes(data[:len(data) // 3])
    with pytest.raises(ModelError, match="truncated or corrupt|past the end"):
        Interpreter(model_path=str(path))


def structure_positions(data: bytes) -> np.ndarray:
    """Byte positions outside constant tensor data: the flatbuffer tables, vectors, strings."""
    model = load_model(content=data)
    base = np.frombuffer(data, np.uint8).__array_interface__["data"][0]
    mask = np.ones(len(data), bool)
    for sg in model.subgraphs:
        for t in sg.tensors:
            if t.constant is not None:
                start = t.constant.__array_interface__["data"][0] - base
                mask[start:start + t.constant.nbytes] = False
    return np.flatnonzero(mask)


@pytest.mark.parametrize("name", SMALL_MODELS)
def test_corrupted_bytes(name):
    data = (SHARED_MODELS / (name + ".tflite")).read_bytes()
    positions = structure_positions(data)
    rng = np.random.default_rng(len(data))
    outcomes = {True: 0, False: 0}
    with bounded_rss():
        for _ in range(300):
            buf = bytearray(data)
            for p in rng.choice(positions, size=int(rng.integers(1, 4))):
                buf[p] = int(rng.integers(0, 256))
            ok = loads(bytes(buf))
            if ok:
                # A model that loads must also describe itself without error.
                it = Interpreter(model_content=bytes(buf))
                it.get_tensor_details()
                it.get_input_details()
                it._get_ops_details()
            outcomes[ok] += 1
    assert outcomes[False] > 0, "no corruption was detected at all"


@pytest.mark.parametrize("size", [1, 7, 8, 9, 64, 1000, 1 << 16])
def test_random_bytes(size):
    rng = np.random.default_rng(size)
    with bounded_memory():
        for k in range(20):
            data = bytearray(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
            if k % 2 and size >= 8:
                data[4:8] = b"TFL3"                   # get past the identifier check
                data[0:4] = int(rng.integers(8, max(size - 4, 9))).to_bytes(4, "little")
            assert not loads(bytes(data))


# -- files that are not models ---------------------------------------------------------------

def test_empty_file(tmp_path):
    path = tmp_path / "empty.tflite"
    path.write_bytes(b"")
    with pytest.raises(ModelError, match="empty"):
        Interpreter(model_path=str(path))
    with pytest.raises(ModelError, match="only 0 bytes"):
        load_model(content=b"")


@pytest.mark.parametrize("data", [
    b"[build-system]\nrequires = [\"setuptools\"]\n",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64),
    b"PK\x03\x04" + bytes(100),
    b"\x7fELF\x02\x01\x01" + bytes(100),
], ids=["text", "png", "zip", "elf"])
def test_not_a_tflite_file(tmp_path, data):
    path = tmp_path / "model.tflite"
    path.write_bytes(data)
    with pytest.raises(ModelError, match="not a valid TFLite flatbuffer"):
        Interpreter(model_path=str(path))


def test_directory_and_missing_file(tmp_path):
    for path in (tmp_path, tmp_path / "missing.tflite"):
        with pytest.raises(ValueError, match="Could not open"):
            Interpreter(model_path=str(path))


def test_model_content_of_wrong_type():
    with pytest.raises(ValueError, match="model_content must be bytes"):
        load_model(content="a string")


def test_root_offset_past_end():
    with pytest.raises(ModelError, match="root offset"):
        load_model(content=b"\xff\xff\x00\x00TFL3" + bytes(32))


# -- models crafted with one inconsistency ------------------------------------------------------

def builder():
    """x[1,4] -FULLY_CONNECTED(w[3,4] per-channel, bias[3])-> y[1,3] -RESHAPE-> z[3]."""
    b = ModelBuilder()
    names = {}
    names["x"] = b.add_input([1, 4], np.int8, scale=0.5, zero_point=0, name="x")
    names["w"] = b.add_constant(np.ones((3, 4), np.int8), scale=[0.1, 0.2, 0.3], zero_point=0,
                                quantized_dimension=0, name="w")
    names["bias"] = b.add_constant(np.zeros(3, np.int32), name="bias")
    names["y"] = b.add_tensor([1, 3], np.int8, scale=0.5, zero_point=0, name="y")
    names["z"] = b.add_tensor([3], np.int8, scale=0.5, zero_point=0, name="z")
    b.add_op("FULLY_CONNECTED", [names["x"], names["w"], names["bias"]], [names["y"]])
    b.add_op("RESHAPE", [names["y"]], [names["z"]], new_shape=[3])
    b.mark_output(names["z"])
    return b, names


def test_crafted_base_model_loads_and_litert_agrees():
    b, _ = builder()
    data = b.build()
    assert loads(data) and litert_loads(data)


def _set(table, index, key, value):
    def mutate(b, t):
        table(b)[t[index] if isinstance(index, str) else index][key] = value
    return mutate


def _tensors(b):
    return b.tensors


def _ops(b):
    return b.ops


def _add_tensor(**kw):
    def mutate(b, t):
        b.add_tensor(**kw)
    return mutate


def _cycle(b, t):
    # FULLY_CONNECTED reads z, which RESHAPE (after it) computes from FULLY_CONNECTED's y.
    b.ops[0]["inputs"][0] = t["z"]


def _unproduced(b, t):
    orphan = b.add_tensor([1, 4], np.int8, scale=0.5, zero_point=0, name="orphan")
    b.ops[0]["inputs"][0] = orphan


def _second_writer(b, t):
    b.add_op("RESHAPE", [t["y"]], [t["z"]], new_shape=[3])


def _set_attr(name, value):
    def mutate(b, t):
        setattr(b, name, value)
    return mutate


def _signature(b, t):
    b.set_signature("serving_default", {"input": 40}, {"output": t["z"]})


def _extra_output(b, t):
    b.outputs.append(b.add_tensor([3], np.int8, name="extra"))


def _zero_points(b, t):
    b.tensors[t["w"]]["zero_point"] = np.zeros(2, np.int64)


CRAFTED = [
    ("buffer-index", _set(_tensors, "w", "buffer", 99),
     r"Tensor 1 \(w\): buffer index 99 out of range"),
    ("op-input-index", lambda b, t: b.ops[0]["inputs"].__setitem__(0, 50),
     r"Operator 0 \(FULLY_CONNECTED\): input tensor index 50 out of range"),
    ("op-output-index", _set(_ops, 1, "outputs", [50]),
     r"Operator 1 \(RESHAPE\): output tensor index 50 out of range"),
    ("graph-input-index", _set_attr("inputs", [50]), r"graph input tensor index 50 out of range"),
    ("graph-output-index", _set_attr("outputs", [-2]),
     r"graph output tensor index -2 out of range"),
    ("constant-size", _set(_tensors, "w", "shape", [3, 5]),
     r"Tensor 1 \(w\): constant buffer 1 holds 12 bytes but shape \[3, 5\] of int8 needs 15"),
    ("per-channel-count", _add_tensor(shape=[4, 2], dtype=np.int8, scale=[0.1, 0.2, 0.3],
                                      zero_point=0, quantized_dimension=0, name="pc"),
     r"Tensor 5 quantization: 3 per-channel scales but dimension 0 has 4 channels"),
    ("quantized-dimension", _add_tensor(shape=[3, 2], dtype=np.int8, scale=[0.1, 0.2, 0.3],
                                        zero_point=0, quantized_dimension=2, name="qd"),
     r"Tensor 5 quantization: quantized_dimension 2 is outside the tensor's rank 2"),
    ("zero-point-count", _zero_points, r"Tensor 1 quantization: 3 scales but 2 zero points"),
    ("negative-dimension", _add_tensor(shape=[2, -3], dtype=np.int8),
     r"Tensor 5: negative dimension in shape \[2, -3\]"),
    ("rank", _add_tensor(shape=[1] * 17, dtype=np.int8), r"Tensor 5: rank 17 exceeds 16"),
    ("tensor-type", _add_tensor(shape=[2], dtype=np.int8, type_code=99),
     r"Tensor 5: unknown tensor type 99"),
    ("cycle", _cycle, r"operator 0 \(FULLY_CONNECTED\) reads tensor 4 \(z\), which is produced "
                      r"later by operator 1 \(the graph is cyclic or out of order\)"),
    ("unproduced-input", _unproduced,
     r"operator 0 \(FULLY_CONNECTED\) reads tensor 5 \(orphan\), which is never produced"),
    ("written-twice", _second_writer, r"tensor 4 \(z\) is written by operators 1 and 2"),
    ("writes-constant", _set(_ops, 1, "outputs", [2]),
     r"operator 1 \(RESHAPE\) writes tensor 2 \(bias\), which is constant"),
    ("writes-graph-input", _set(_ops, 1, "outputs", [0]),
     r"operator 1 \(RESHAPE\) writes graph input tensor 0 \(x\)"),
    ("output-never-produced", _extra_output,
     r"graph output tensor 5 \(extra\) is never produced"),
    ("signature-tensor-index", _signature,
     r"Signature 0 \(serving_default\): tensor input index 40 out of range"),
]


@pytest.mark.parametrize("mutate,message", [c[1:] for c in CRAFTED], ids=[c[0] for c in CRAFTED])
def test_crafted(mutate, message):
    b, names = builder()
    mutate(b, names)
    data = b.build()
    with pytest.raises(ModelError, match=message):
        with deadline(SECONDS_PER_LOAD):
            load_model(content=data)


@pytest.mark.parametrize("field,value,message", [
    ("ModelAddVersion", 2, r"Model schema version 2 is not supported \(expected 3\)"),
    ("OperatorAddOpcodeIndex", 7, r"Operator 0: opcode index 7 out of range \(2 operator codes\)"),
    ("OperatorCodeAddBuiltinCode", 1000, r"Operator code 0 has unknown builtin code 1000"),
])
def test_crafted_header_fields(monkeypatch, field, value, message):
    original = getattr(tflite, field)
    monkeypatch.setattr(tflite, field, lambda b, _: original(b, value))
    data = builder()[0].build()
    monkeypatch.undo()
    with pytest.raises(ModelError, match=message):
        load_model(content=data)


def test_wrong_identifier():
    data = bytearray(builder()[0].build())
    data[4:8] = b"TFL2"
    with pytest.raises(ModelError, match="file identifier is b'TFL2', expected b'TFL3'"):
        load_model(content=bytes(data))
