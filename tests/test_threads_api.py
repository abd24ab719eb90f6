"""Interpreters and Python threads: independent interpreters run concurrently and give the
sequential answers; one interpreter invoked from two threads at once raises a clear error;
the C thread pool (num_threads > 1) neither deadlocks nor keeps a process from exiting."""
from __future__ import annotations

import gc
import subprocess
import sys
import threading

import numpy as np
import pytest

from qrun import Interpreter

from .oracle import shared_model

MODEL = str(shared_model("mobilenet_v1_0.25_128_quant.tflite"))
ITERATIONS = 40
# Deadlock guard only (a hung join fails instead of hanging the suite); never a speed check.
JOIN_SECONDS = 600


def make(num_threads=1):
    it = Interpreter(model_path=MODEL, num_threads=num_threads)
    it.allocate_tensors()
    return it


def inputs(n, seed):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (1, 128, 128, 3), dtype=np.uint8) for _ in range(n)]


def run(it, x):
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


def run_threads(targets):
    errors = []

    def guarded(fn):
        def body():
            try:
                fn()
            except BaseException as exc:   # reported by the main thread
                errors.append(exc)
        return body
    threads = [threading.Thread(target=guarded(fn), daemon=True) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_SECONDS)
    assert not any(t.is_alive() for t in threads), "threads deadlocked"
    if errors:
        raise errors[0]


@pytest.mark.parametrize("num_threads", [1, 2])
def test_two_interpreters_in_two_threads_equal_sequential_runs(num_threads):
    xs = [inputs(ITERATIONS, seed) for seed in (1, 2)]
    reference = make()
    expected = [[run(reference, x) for x in batch] for batch in xs]
    got = [[], []]
    interpreters = [make(num_threads), make(num_threads)]

    def worker(k):
        return lambda: got[k].extend(run(interpreters[k], x) for x in xs[k])
    run_threads([worker(0), worker(1)])
    for k in range(2):
        for i, (a, b) in enumerate(zip(got[k], expected[k])):
            np.testing.assert_array_equal(a, b, err_msg="thread %d iteration %d" % (k, i))


def test_one_interpreter_from_two_threads_raises_a_clear_error():
    it = make()
    x = inputs(1, 3)[0]
    expected = run(make(), x)
    it.set_tensor(it.get_input_details()[0]["index"], x)
    stop = threading.Event()
    collisions = []

    def hammer():
        while not stop.is_set():
            try:
                it.invoke()
            except RuntimeError as exc:
                collisions.append(str(exc))

    def main_side():
        try:
            for _ in range(2000):
                try:
                    it.invoke()
                except RuntimeError as exc:
                    collisions.append(str(exc))
                if len(collisions) >= 3:
                    break
        finally:
            stop.set()
    run_threads([hammer, main_side])
    assert collisions, "two threads never invoked at the same time in 2000 tries"
    assert all("already running in another thread" in m for m in collisions), collisions
    # The interpreter is intact afterwards: the same answer as a fresh one.
    it.invoke()
    np.testing.assert_array_equal(it.get_tensor(it.get_output_details()[0]["index"]), expected)


def test_many_python_threads_with_c_thread_pools_do_not_deadlock():
    x = inputs(1, 4)[0]
    expected = run(make(), x)
    results = []
    interpreters = [make(num_threads=2) for _ in range(6)]

    def worker(it):
        return lambda: results.extend(run(it, x) for _ in range(10))
    run_threads([worker(it) for it in interpreters])
    assert len(results) == 60
    for r in results:
        np.testing.assert_array_equal(r, expected)


def test_deleting_interpreters_with_pools_frees_them():
    x = inputs(1, 5)[0]
    expected = run(make(), x)
    for _ in range(20):
        it = make(num_threads=4)
        np.testing.assert_array_equal(run(it, x), expected)
        del it
        gc.collect()
    assert threading.active_count() < 50


@pytest.mark.parametrize("delete", [False, True], ids=["kept-at-exit", "deleted"])
def test_process_exits_cleanly_with_a_thread_pool(delete):
    code = ("import numpy as np\n"
            "from qrun import Interpreter\n"
            "it = Interpreter(model_path=%r, num_threads=4)\n"
            "it.allocate_tensors()\n"
            "x = np.ones((1, 128, 128, 3), np.uint8)\n"
            "it.set_tensor(it.get_input_details()[0]['index'], x)\n"
            "it.invoke()\n"
            "%s\n"
            "print('done')\n") % (MODEL, "del it" if delete else "")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=JOIN_SECONDS)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "done"
