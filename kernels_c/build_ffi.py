"""cffi builders: one extension module per ISA, all from the same C sources.

setup.py lists `kernels_c/build_ffi.py:ffi_<isa>` in cffi_modules. Each module is a unity
build (every kernels_c/*.c included into one translation unit), so the four builds never
share object files and static helpers must have file-unique names.
QRUN_BUILD_ISAS=scalar,avx2 (comma-separated) limits the builds (scalar is always built).
QRUN_SANITIZE=address,undefined adds those sanitizers (.ci/sanitize).
QRUN_DEBUG=1 builds the debug checks (checks.c: every node's preconditions before it runs).
"""
from __future__ import annotations

import os
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent

# ISA -> compiler flags. GCC 12 auto-vectorizes signed int8 dot products into vpdpbusd
# (unsigned x signed: wrong sums) whenever a VNNI flag is on, so the AVX-512 VNNI build
# compiles the portable code without -mavx512vnni; its VNNI kernels enable the instruction
# per function with QRUN_TARGET_VNNI (qrun.h), where no loop is left to the vectorizer.
# -ffp-contract=off keeps the fp32 requantization free of FMAs so every build rounds exactly
# as the scalar one does; -fwrapv makes int32 accumulators wrap as TFLite's do.
ISA_FLAGS = {
    "scalar": [],
    "sse41": ["-msse4.1"],
    "avx2": ["-mavx2", "-mfma"],
    "avx512vnni": ["-mavx2", "-mfma", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq"],
}
COMMON_FLAGS = ["-O3", "-std=c11", "-ffp-contract=off", "-fno-math-errno", "-fwrapv", "-Wall"]


def _cdef() -> str:
    return (HERE / "qrun_api.h").read_text()


def _debug() -> bool:
    return os.environ.get("QRUN_DEBUG", "") not in ("", "0")


def _unity_source() -> str:
    # QRUN_DEBUG is defined in the source, not on the command line: switching it changes the
    # generated file, so that build_ext rebuilds the modules.
    return ("#define QRUN_DEBUG 1\n" if _debug() else "") + '#include "qrun.h"\n' + "".join(
        '#include "%s"\n' % p.name for p in sorted(HERE.glob("*.c")))


def _sanitize_flags() -> list:
    """QRUN_SANITIZE=address,undefined builds with those gcc/clang sanitizers (load the modules
    with LD_PRELOAD=$(gcc -print-file-name=libasan.so); see .ci/sanitize)."""
    names = os.environ.get("QRUN_SANITIZE", "")
    if not names:
        return []
    return ["-fsanitize=" + names, "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g"]


def make_ffi(isa: str) -> FFI:
    ffi = FFI()
    ffi.cdef(_cdef())
    ffi.set_source("qrun.delegate._qrun_" + isa, _unity_source(),
                   include_dirs=[str(HERE)],
                   depends=[str(p) for p in sorted(HERE.glob("*.[ch]"))] + [__file__],
                   define_macros=[("QRUN_ISA_" + isa.upper(), "1")],
                   extra_compile_args=(COMMON_FLAGS + ISA_FLAGS[isa] + _sanitize_flags()
                                       + (["-UNDEBUG"] if _debug() else [])),
                   extra_link_args=_sanitize_flags())
    return ffi


def wanted_isas():
    names = os.environ.get("QRUN_BUILD_ISAS", "")
    chosen = [n.strip() for n in names.split(",") if n.strip()] or list(ISA_FLAGS)
    unknown = [n for n in chosen if n not in ISA_FLAGS]
    if unknown:
        raise ValueError("QRUN_BUILD_ISAS: unknown ISA %s (known: %s)"
                         % (", ".join(unknown), ", ".join(ISA_FLAGS)))
    return ["scalar"] + [n for n in chosen if n != "scalar"]


ffi_scalar = make_ffi("scalar")
ffi_sse41 = make_ffi("sse41")
ffi_avx2 = make_ffi("avx2")
ffi_avx512vnni = make_ffi("avx512vnni")
