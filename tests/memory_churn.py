"""Load / allocate / invoke / delete models in a loop and report the resident set size.

    python -m tests.memory_churn ITERATIONS WARMUP MODEL...

Prints one JSON line per model: RSS (MiB) after WARMUP iterations and after ITERATIONS more.
Run in its own process so that the figures are this loop's alone (tests/test_memory.py).
"""
import ctypes
import gc
import json
import os
import sys

import numpy as np

from qrun import Interpreter


def rss_mib() -> float:
    """Resident MiB after returning glibc's free heap pages to the system: what remains is
    live memory, not the allocator's cache of freed arenas."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def churn(path: str) -> None:
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
        for _ in range(warmup):
            churn(path)
        before = rss_mib()
        for _ in range(iterations):
            churn(path)
        print(json.dumps({"model": os.path.basename(path), "iterations": iterations,
                          "rss_warm_mib": round(before, 1), "rss_end_mib": round(rss_mib(), 1)}),
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
