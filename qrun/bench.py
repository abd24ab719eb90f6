"""`qrun --bench`: repeated invokes timed the way TFLite's benchmark_model reports them.

As in benchmark_model, the measured runs go on until both --num-runs and --min-secs are
reached, and stop at --max-secs whatever the count.
"""
from __future__ import annotations

import statistics
import sys
import time
from typing import Callable, List, Optional, TextIO

import numpy as np


class ProgressBar:
    """A one-line bar on a terminal, shown only once the work has taken over a second."""

    DELAY = 1.0
    REDRAW = 0.1     # seconds between redraws: a fast model must not time the terminal
    WIDTH = 30

    def __init__(self, stream: Optional[TextIO] = None):
        self.stream = sys.stderr if stream is None else stream
        self.enabled = self.stream.isatty()
        self.start = time.perf_counter()
        self.drawn_at = float("-inf")
        self.shown = False

    def update(self, fraction: float, text: str) -> None:
        now = time.perf_counter()
        if not self.enabled or now - self.start < self.DELAY or now - self.drawn_at < self.REDRAW:
            return
        self.drawn_at = now
        filled = int(round(min(max(fraction, 0.0), 1.0) * self.WIDTH))
        self.stream.write("\r[%s%s] %s" % ("#" * filled, "." * (self.WIDTH - filled), text))
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r%s\r" % (" " * (self.WIDTH + 40)))
            self.stream.flush()


def _progress(runs: int, elapsed: float, num_runs: int, min_secs: float,
              max_secs: float) -> float:
    """Done when both the run count and min_secs are reached, or at max_secs."""
    def part(x: float, whole: float) -> float:
        return 1.0 if whole <= 0 else min(x / whole, 1.0)
    return max(min(part(runs, num_runs), part(elapsed, min_secs)), part(elapsed, max_secs))


def timed_runs(invoke: Callable[[], None], num_runs: int, min_secs: float,
               max_secs: float) -> List[float]:
    """Seconds of each invoke."""
    times: List[float] = []
    bar = ProgressBar()
    start = time.perf_counter()
    try:
        while True:
            elapsed = time.perf_counter() - start
            if (len(times) >= num_runs and elapsed >= min_secs) or (times and elapsed >= max_secs):
                break
            t0 = time.perf_counter()
            invoke()
            times.append(time.perf_counter() - t0)
            bar.update(_progress(len(times), elapsed, num_runs, min_secs, max_secs),
                       "%d runs, %.1f s" % (len(times), elapsed))
    finally:
        bar.close()
    return times


def statistics_ms(seconds: List[float]) -> dict:
    ms = np.array(seconds) * 1e3
    return {
        "count": int(ms.size),
        "min_ms": float(ms.min()),
        "median_ms": float(np.median(ms)),
        "mean_ms": float(ms.mean()),
        "p90_ms": float(np.percentile(ms, 90)),
        "std_ms": float(statistics.pstdev(ms.tolist())) if ms.size > 1 else 0.0,
        "inferences_per_s": float(1e3 / ms.mean()),
    }


def benchmark(invoke: Callable[[], None], num_runs: int, warmup_runs: int, min_secs: float,
              max_secs: float) -> dict:
    """Warmup runs (after the caller's first run), then the measured runs' statistics."""
    for _ in range(warmup_runs):
        invoke()
    result = {"warmup_runs": warmup_runs}
    result.update(statistics_ms(timed_runs(invoke, num_runs, min_secs, max_secs)))
    return result
