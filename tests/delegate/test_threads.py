"""The C thread pool: N threads give the 1-thread answer bit for bit (op grids on every ISA,
shared models), the pool's lifetime (workers start with the interpreter, sleep when idle, are
joined when it goes, never hang an exiting process), and interpreters in many Python threads."""
from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np
import pytest

from qrun import Interpreter
from qrun.modelbuilder import ModelBuilder
from tests.delegate.test_conv import conv_model
from tests.delegate.test_depthwise import depthwise_model
from tests.delegate.test_elementwise import binary_model, unary_model
from tests.delegate.test_fully_connected import fc_model
from tests.delegate.test_pool import pool_model
from tests.delegate.util import ISAS, check_delegate, forced_isa, model_inputs
from tests.oracle import SHARED_MODELS

pytestmark = pytest.mark.skipif(not ISAS, reason="qrun's C kernels are not built")

THREADS = (2, 3, 4)
ROOT = Path(__file__).resolve().parents[2]


def _q(dtype):
    return dict(scale=0.05, zero_point=3 if dtype == np.int8 else 131)


def _single_op(op, dtype, in_shapes, out_shape, consts=(), out_dtype=None, out_q=None,
               **options):
    b = ModelBuilder()
    xs = [b.add_input(s, dtype, **_q(dtype)) for s in in_shapes]
    cs = [b.add_constant(np.asarray(c, np.int32)) for c in consts]
    out_dtype = out_dtype or dtype
    y = b.add_tensor(out_shape, out_dtype, **(out_q or _q(out_dtype)))
    b.add_op(op, xs + cs, [y], **options)
    b.mark_output(y)
    return b.build()


def _softmax(dtype, shape=(64, 1000)):
    q = dict(scale=1 / 256, zero_point=-128 if dtype == np.int8 else 0)
    return _single_op("SOFTMAX", dtype, [shape], shape, out_q=q, beta=1.0)


def _quantize_float():
    b = ModelBuilder()
    x = b.add_input((1, 64, 64, 16), np.float32)
    y = b.add_tensor((1, 64, 64, 16), np.int8, scale=0.01, zero_point=-3)
    b.add_op("QUANTIZE", [x], [y])
    b.mark_output(y)
    return b.build()


# Every op kind of the executor, at sizes the executor splits into several chunks.
CASES = {
    "igemm_int8pc": lambda: conv_model("int8pc", ((1, 24, 22, 19), 37, (3, 3), (1, 1), (1, 1),
                                                  "SAME"), "RELU", 1),
    "igemm_uint8_strided": lambda: conv_model("uint8", ((2, 25, 23, 8), 21, (3, 3), (2, 2),
                                                        (1, 1), "VALID"), "NONE", 2),
    "gemm_1x1_int8": lambda: conv_model("int8", ((1, 28, 27, 40), 67, (1, 1), (1, 1), (1, 1),
                                                 "VALID"), "RELU6", 3),
    "fully_connected": lambda: fc_model("int8pc", ((37, 300), 129, False), "NONE", 4),
    # Few rows: the tiles are channel blocks too (N tails; uint8's row-sum term per block).
    "fully_connected_one_row": lambda: fc_model("int8pc", ((1, 1280), 1001, False), "NONE", 14),
    "gemm_1x1_7x7_uint8": lambda: conv_model("uint8", ((1, 7, 7, 96), 203, (1, 1), (1, 1),
                                                       (1, 1), "VALID"), "RELU6", 13),
    "igemm_5x6_int8": lambda: conv_model("int8", ((1, 5, 6, 40), 150, (3, 3), (1, 1), (1, 1),
                                                  "SAME"), "NONE", 15),
    "depthwise_int8pc": lambda: depthwise_model("int8pc", ((1, 30, 29, 72), 1, (3, 3), (1, 1),
                                                           (1, 1), "SAME"), "RELU6", 5),
    "depthwise_uint8_5x5": lambda: depthwise_model("uint8", ((1, 27, 26, 35), 1, (5, 5),
                                                             (2, 2), (1, 1), "SAME"), "NONE", 6),
    "depthwise_rows_int8": lambda: depthwise_model("int8", ((1, 40, 90, 3), 1, (3, 3), (1, 1),
                                                            (1, 1), "SAME"), "NONE", 8),
    "depthwise_rows_uint8": lambda: depthwise_model("uint8", ((1, 30, 50, 24), 1, (3, 3),
                                                             (1, 1), (1, 1), "SAME"), "RELU6", 9),
    "add_broadcast": lambda: binary_model("ADD", np.int8, ((2, 40, 33, 24), (1, 1, 33, 24)),
                                          "NONE", 7),
    "add_same_shape": lambda: binary_model("ADD", np.int8, ((1, 56, 56, 24), (1, 56, 56, 24)),
                                           "NONE", 10),
    "mul_uint8": lambda: binary_model("MUL", np.uint8, ((1, 48, 41, 32), (1, 48, 1, 32)),
                                      "RELU", 8),
    "lut_hard_swish": lambda: unary_model("HARD_SWISH", np.int8, np.int8, 9,
                                          shape=(1, 96, 97, 16)),
    "avg_pool": lambda: pool_model("AVERAGE_POOL_2D", np.uint8,
                                   ((1, 41, 40, 48), (3, 3), (1, 1), "SAME"), "NONE", 7),
    "max_pool": lambda: pool_model("MAX_POOL_2D", np.int8,
                                   ((2, 40, 39, 24), (2, 2), (2, 2), "VALID"), "RELU", -5),
    "mean": lambda: _single_op("MEAN", np.int8, [(64, 33, 40, 24)], (64, 1, 1, 24),
                               consts=[[1, 2]], keep_dims=True),
    "concatenation": lambda: _single_op("CONCATENATION", np.int8,
                                        [(1, 64, 63, 20), (1, 64, 63, 12)], (1, 64, 63, 32),
                                        axis=3),
    "pad": lambda: _single_op("PAD", np.uint8, [(1, 80, 81, 24)], (1, 82, 85, 24),
                              consts=[[[0, 0], [1, 1], [2, 2], [0, 0]]]),
    "transpose": lambda: _single_op("TRANSPOSE", np.int8, [(1, 24, 70, 65)], (1, 65, 70, 24),
                                    consts=[[0, 3, 2, 1]]),
    "resize_bilinear": lambda: _single_op("RESIZE_BILINEAR", np.int8, [(1, 33, 31, 24)],
                                          (1, 65, 61, 24), consts=[[65, 61]]),
    "resize_bilinear_uint8": lambda: _single_op("RESIZE_BILINEAR", np.uint8, [(1, 20, 20, 21)],
                                                (1, 77, 79, 21), consts=[[77, 79]],
                                                half_pixel_centers=True),
    "arg_max": lambda: _single_op("ARG_MAX", np.int8, [(1, 129, 130, 21)], (1, 129, 130),
                                  consts=[[3]], out_dtype=np.int64, out_q={}, output_type=4),
    "softmax": lambda: _softmax(np.int8),
    "softmax_uint8": lambda: _softmax(np.uint8),
    "softmax_rows_of_16": lambda: _softmax(np.int8, (4, 301, 16)),
    "quantize_float": _quantize_float,
}


@pytest.mark.parametrize("op,dtype,shapes", [
    ("ADD", np.int8, ((1, 56, 56, 24), (1, 56, 56, 24))),     # 75264 = 24 rows of 3136
    ("SUB", np.uint8, ((2, 7, 10007), (2, 7, 10007))),         # prime: no row divides it
    ("MUL", np.int8, ((1, 30, 40, 24), (24,))),
    ("MAXIMUM", np.uint8, ((1, 40, 50, 9), (1, 40, 50, 9)))])
def test_long_rows_are_split_for_the_pool(op, dtype, shapes):
    # ADD & co split a long contiguous axis into rows (the pool's tiles): still exact.
    if op == "MAXIMUM":
        b = ModelBuilder()
        x = [b.add_input(s, dtype, **_q(dtype)) for s in shapes]
        y = b.add_tensor(shapes[0], dtype, **_q(dtype))
        b.add_op(op, x, [y])
        b.mark_output(y)
        model = b.build()
    else:
        model = binary_model(op, dtype, shapes, "NONE", 12)
    check_delegate(model, seed=12, lsb=0 if op == "MAXIMUM" else 1)


class Run:
    """One interpreter with `threads` threads on a forced ISA: its outputs and how many tile
    ranges its pool handed out."""

    def __init__(self, model: bytes, threads: int, isa: Optional[str] = None,
                 path: Optional[str] = None):
        with forced_isa(isa):
            self.it = (Interpreter(model_path=path, num_threads=threads) if path else
                       Interpreter(model_content=model, num_threads=threads))
            self.it.allocate_tensors()

    def invoke(self, inputs: Sequence[np.ndarray]) -> List[np.ndarray]:
        for d, x in zip(self.it.get_input_details(), inputs):
            self.it.set_tensor(d["index"], x)
        self.it.invoke()
        return [self.it.get_tensor(d["index"]).copy() for d in self.it.get_output_details()]

    def chunks(self) -> int:
        delegate = self.it._graphs[0].delegate
        return delegate.backend.lib.qrun_pool_chunks_dispatched(delegate.pool)


def _assert_equal(ours, expected, what):
    assert len(ours) == len(expected)
    for a, b in zip(ours, expected):
        assert a.dtype == b.dtype and a.shape == b.shape, what
        diff = np.flatnonzero(a.ravel() != b.ravel())
        assert diff.size == 0, "%s: %d elements differ, first at %d: %s vs %s" % (
            what, diff.size, diff[0], a.ravel()[diff[0]], b.ravel()[diff[0]])


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_op_grid_threads_equal_one_thread(case, isa):
    model = CASES[case]()
    inputs = model_inputs(model, 11)
    one = Run(model, 1, isa)
    expected = one.invoke(inputs)
    for d in one.it._get_ops_details():
        assert d["backend"] == "c", "%s ran on %s" % (d["op_name"], d["backend"])
    for threads in THREADS:
        run = Run(model, threads, isa)
        for repeat in range(2):   # the second invoke reuses the pool's workers
            _assert_equal(run.invoke(inputs), expected,
                          "%s, %s, %d threads, invoke %d" % (case, isa, threads, repeat))
        # The op was split: every tile range boundary was exercised.
        assert run.chunks() >= 2 * threads, (case, threads, run.chunks())


MODELS = ["tf2_mobilenet_v2_1.0_224_ptq.tflite", "mobilenet_v2_1.0_224_quant.tflite",
          "efficientnet_lite0_int8.tflite", "mobilenet_v3_small_224_1.0_uint8.tflite",
          "edgetpu_deeplab_slim_257_os16_full_integer_quant.tflite",
          "mobilenet_v2_quantized_1x3x224x224.tflite", "vww_96_int8.tflite"]


@pytest.mark.parametrize("name", MODELS)
def test_models_threads_equal_one_thread(name):
    path = str(SHARED_MODELS / name)
    model = Path(path).read_bytes()
    inputs = model_inputs(model, 0)
    expected = Run(model, 1, path=path).invoke(inputs)
    for threads in THREADS:
        run = Run(model, threads, path=path)
        _assert_equal(run.invoke(inputs), expected, "%s, %d threads" % (name, threads))
        assert run.chunks() > 0


def _small_model():
    return conv_model("int8", ((1, 24, 22, 19), 37, (3, 3), (1, 1), (1, 1), "SAME"), "NONE", 1)


def _tasks() -> set:
    return set(os.listdir("/proc/self/task"))


def _state(tid: str) -> str:
    """The task's scheduler state letter (R running, S sleeping, ...)."""
    try:
        stat = Path("/proc/self/task/%s/stat" % tid).read_text()
    except FileNotFoundError:
        return "gone"
    return stat[stat.rindex(")") + 2]


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_workers_start_with_the_interpreter_sleep_when_idle_and_are_joined():
    gc.collect()
    before = _tasks()
    one = Run(_small_model(), 1)
    assert _tasks() == before, "one thread must start no worker"
    del one
    run = Run(_small_model(), 4)
    workers = _tasks() - before
    assert len(workers) == 3
    run.invoke(model_inputs(_small_model(), 0))
    # Idle: after their short spin the workers sleep (a generous bound: the machine is shared).
    deadline = time.monotonic() + 30
    while any(_state(t) not in ("S", "gone") for t in workers) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert all(_state(t) == "S" for t in workers), [_state(t) for t in workers]
    del run
    gc.collect()
    assert not (_tasks() & workers), "the workers outlived their interpreter"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_one_pool_per_interpreter():
    run = Run(_small_model(), 3)
    pool = run.it._graphs[0].delegate.pool
    tasks = _tasks()
    run.it.allocate_tensors()   # a new plan, the same pool and workers
    assert run.it._graphs[0].delegate.pool == pool
    assert _tasks() == tasks


def test_all_cores():
    run = Run(_small_model(), -1)
    expected = Run(_small_model(), 1).invoke(model_inputs(_small_model(), 0))
    _assert_equal(run.invoke(model_inputs(_small_model(), 0)), expected, "num_threads=-1")
    if (os.cpu_count() or 1) > 1:
        assert run.chunks() > 0


def test_many_python_threads_on_different_interpreters():
    model = _small_model()
    inputs = model_inputs(model, 3)
    expected = Run(model, 1).invoke(inputs)
    results, errors = {}, []

    def work(k):
        try:
            run = Run(model, 1 + k % 4)
            results[k] = [run.invoke(inputs) for _ in range(20)]
        except Exception as exc:  # reported below, with the thread
            errors.append((k, exc))

    threads = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)   # a hang guard, not a speed requirement
    assert not any(t.is_alive() for t in threads), "deadlock: a thread never finished"
    assert not errors, errors
    for runs in results.values():
        for out in runs:
            _assert_equal(out, expected, "concurrent interpreters")


@pytest.mark.parametrize("release", ["kept", "deleted"])
def test_process_exits_with_a_live_pool(release):
    code = ("import numpy as np\n"
            "from qrun import Interpreter\n"
            "from tests.delegate.test_threads import _small_model\n"
            "it = Interpreter(model_content=_small_model(), num_threads=4)\n"
            "it.allocate_tensors()\n"
            "it.invoke()\n"
            + ("del it\n" if release == "deleted" else "") +
            "print('done')\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=str(ROOT), capture_output=True,
                         text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "done"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_runs_on_its_own_thread():
    # The workers do not exist in a forked child: the pool must not wait for them.
    model = _small_model()
    inputs = model_inputs(model, 5)
    run = Run(model, 3)
    expected = run.invoke(inputs)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        os.close(r)
        ok = all((a == b).all() for a, b in zip(run.invoke(inputs), expected))
        os.write(w, b"1" if ok else b"0")
        os._exit(0)
    os.close(w)
    try:
        with os.fdopen(r, "rb") as f:
            answer = f.read()
    finally:
        os.waitpid(pid, 0)
    assert answer == b"1"
