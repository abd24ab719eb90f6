"""This core's dot-product peak: GMAC/s of back-to-back vpdpbusd (u8 x s8 -> int32) on 512-bit
registers (AVX-512 VNNI), 256-bit ones with the EVEX encoding (AVX-512 VL), and 256-bit ones
with the VEX encoding (AVX-VNNI), 12 independent accumulators each, no loads: the ceiling the
GEMM microkernels are measured against (bench_gemm.py's share of peak), and the answer to
whether the 256-bit forms are worth kernels of their own on this CPU.

Compiles a small C probe with cffi (a C compiler, as for qrun itself) into a temporary folder.

    python benchmarks/bench_peak.py
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from typing import Dict

PROBE = r"""
#include <time.h>

static double probe_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* 12 dot products per step into 12 accumulators (enough chains to hide the latency), in
 * assembly so that the compiler adds no copies or spills: GMAC/s. The operand registers are
 * never set (integer dot products take any bits at the same speed). */
#define PROBE_DOT(op, a, b, r, i) op " %%" a ", %%" b ", %%" r #i "\n\t"
#define PROBE_DOTS(op, a, b, r)                                                             \
    PROBE_DOT(op, a, b, r, 0) PROBE_DOT(op, a, b, r, 1) PROBE_DOT(op, a, b, r, 2)            \
    PROBE_DOT(op, a, b, r, 3) PROBE_DOT(op, a, b, r, 4) PROBE_DOT(op, a, b, r, 5)            \
    PROBE_DOT(op, a, b, r, 6) PROBE_DOT(op, a, b, r, 7) PROBE_DOT(op, a, b, r, 8)            \
    PROBE_DOT(op, a, b, r, 9) PROBE_DOT(op, a, b, r, 10) PROBE_DOT(op, a, b, r, 11)
#define PROBE_CLOBBERS "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",     \
    "xmm8", "xmm9", "xmm10", "xmm11"

#define PROBE(name, dots, macs_per_dot)                                                     \
    double name(long iters) {                                                               \
        const double t0 = probe_now();                                                      \
        for (long k = 0; k < iters; k++)                                                    \
            __asm__ volatile(dots ::: PROBE_CLOBBERS);                                      \
        return iters * 12.0 * macs_per_dot / (probe_now() - t0) / 1e9;                      \
    }

PROBE(probe_zmm, PROBE_DOTS("vpdpbusd", "zmm30", "zmm31", "zmm"), 64)
PROBE(probe_ymm_evex, PROBE_DOTS("vpdpbusd", "ymm30", "ymm31", "ymm"), 32)
PROBE(probe_ymm_vex, PROBE_DOTS("%{vex%} vpdpbusd", "ymm14", "ymm15", "ymm"), 32)
"""

CDEF = """
double probe_zmm(long iters);
double probe_ymm_evex(long iters);
double probe_ymm_vex(long iters);
"""

FORMS = {"zmm (AVX-512 VNNI)": "probe_zmm", "ymm EVEX (AVX-512 VL)": "probe_ymm_evex",
         "ymm VEX (AVX-VNNI)": "probe_ymm_vex"}


def build_probe():
    """The compiled probe module, built in a temporary folder that is gone once it is loaded
    (the loaded library stays mapped)."""
    from cffi import FFI
    ffi = FFI()
    ffi.cdef(CDEF)
    ffi.set_source("_qrun_peak_probe", PROBE, extra_compile_args=["-O2"])
    with tempfile.TemporaryDirectory(prefix="qrun_peak_") as folder:
        path = ffi.compile(tmpdir=folder)
        spec = importlib.util.spec_from_file_location("_qrun_peak_probe", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


def measure(iters: int = 20_000_000, repeats: int = 3) -> Dict[str, float]:
    """The best of `repeats` runs per form, GMAC/s (a form this CPU lacks is left out)."""
    from qrun.delegate.backend import cpu_isas
    if "avx512vnni" not in cpu_isas():
        raise SystemExit("this CPU has no AVX-512 VNNI")
    module = build_probe()
    forms = dict(FORMS)
    if not _has_avx_vnni():
        forms.pop("ymm VEX (AVX-VNNI)")
    return {name: max(getattr(module.lib, fn)(iters) for _ in range(repeats))
            for name, fn in forms.items()}


def _has_avx_vnni() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return " avx_vnni" in f.read()
    except OSError:
        return False


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iters", type=int, default=20_000_000)
    args = p.parse_args(argv)
    res = measure(args.iters)
    print("| vpdpbusd form | GMAC/s (one core) |")
    print("|---|---|")
    for name, g in res.items():
        print("| %s | %.0f |" % (name, g))
    return 0


if __name__ == "__main__":
    sys.exit(main())
