"""Load / allocate / invoke / delete models in a loop and report the resident set size.

    python -m tests.memory_churn ITERATIONS WARMUP MODEL...

Prints one JSON line per model: RSS (MiB) after the first cycle, after WARMUP cycles (the
first included) and after ITERATIONS more, the threads alive after the warm-up and at the
end (a thread pool that is never joined shows there before it shows in the RSS), and the
seconds per cycle. Run in its own process so that the figures are this loop's alone
(tests/test_memory.py).
"""
import ctypes
import gc
import json
import os
import sys
import time

import numpy as np

from qrun import Interpreter


def rss_mib() -> float:
    """Resident MiB after returning glibc's free heap pages to the system: what remains is
    live memory, not the allocator's cache of freed arenas."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def threads() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))


def churn(path: str) -> None:
    """One cycle: a new interpreter (two threads: the C thread pool too), allocate, invoke
    (the C delegate wherever it supports the ops), read the outputs, delete."""
    it = Interpreter(model_path=path, num_threads=2)
    it.allocate_tensors()
    for d in it.get_input_details():
        it.set_tensor(d["index"], np.ones(tuple(d["shape"]), d["dtype"]))
    it.invoke()
    for d in it.get_output_details():
        it.get_tensor(d["index"])
    del it


def main(argv) -> None:
    iterations, warmup, paths = int(argv[0]), int(argv[1]), argv[2:]
    for path in paths:
        churn(path)
        first = rss_mib()
        for _ in range(warmup - 1):
            churn(path)
        warm, warm_threads = rss_mib(), threads()
        start = time.perf_counter()
        for _ in range(iterations):
            churn(path)
        seconds = (time.perf_counter() - start) / iterations
        print(json.dumps({"model": os.path.basename(path), "iterations": iterations,
                          "rss_first_mib": round(first, 1), "rss_warm_mib": round(warm, 1),
                          "rss_end_mib": round(rss_mib(), 1), "threads_warm": warm_threads,
                          "threads_end": threads(), "cycle_s": round(seconds, 4)}),
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
