"""Loads the compiled kernels: the best ISA build the CPU runs, or the one QRUN_ISA forces."""
from __future__ import annotations

import functools
import importlib
import os
from dataclasses import dataclass
from typing import Optional

# Worst to best; the value is the qrun_cpu_features() bit the ISA needs.
ISAS = {"scalar": 0, "sse41": 1, "avx2": 2, "avx512vnni": 4}


class BackendError(RuntimeError):
    """QRUN_ISA names an ISA that is unknown, not built, or not supported by this CPU."""


@dataclass(frozen=True)
class Backend:
    isa: str
    ffi: object
    lib: object
    gemm_mr: int
    gemm_nr: int
    gemm_nr_step: int
    gemm_kr: int
    gemm_kr_single: int
    gemm_dot_offset: int
    gemm_fused_kh_max: int
    gemm_fused_window_max: int
    gemm_k_major_n_max: int
    dw_cr: int
    dw_quad_cr: int
    dw_row_cr: int

    def thread_pool(self, num_threads: int):
        """A C thread pool running ops on `num_threads` threads (the caller and
        num_threads - 1 workers), stopped and joined when the last reference to it goes;
        NULL for one thread, so that no pool code runs."""
        if num_threads < 2:
            return self.ffi.NULL
        pool = self.lib.qrun_pool_create(num_threads)
        if pool == self.ffi.NULL:
            raise MemoryError("qrun: cannot allocate a thread pool of %d threads" % num_threads)
        return self.ffi.gc(pool, self.lib.qrun_pool_destroy)


def _import(isa: str):
    try:
        return importlib.import_module("qrun.delegate._qrun_" + isa)
    except ImportError:
        return None


def _make(isa: str, module) -> Backend:
    info = module.lib.qrun_isa()
    name = module.ffi.string(info.name).decode()
    if name != isa:
        raise BackendError("module _qrun_%s reports ISA %r" % (isa, name))
    return Backend(isa, module.ffi, module.lib, info.gemm_mr, info.gemm_nr,
                   info.gemm_nr_step, info.gemm_kr, info.gemm_kr_single,
                   info.gemm_dot_offset, info.gemm_fused_kh_max,
                   info.gemm_fused_window_max, info.gemm_k_major_n_max, info.dw_cr,
                   info.dw_quad_cr, info.dw_row_cr)


def cpu_isas() -> list:
    """The ISAs this CPU runs (empty when not even the scalar build is present)."""
    scalar = _import("scalar")
    if scalar is None:
        return []
    features = scalar.lib.qrun_cpu_features()
    return [isa for isa, bit in ISAS.items() if features & bit == bit]


def built_isas() -> list:
    return [isa for isa in ISAS if _import(isa) is not None]


@functools.lru_cache(maxsize=None)
def load_backend(forced: Optional[str] = None) -> Optional[Backend]:
    """The backend for QRUN_ISA=`forced`, else the best one built that the CPU runs;
    None when no compiled module is present."""
    runnable = cpu_isas()
    if not runnable:
        if forced:
            raise BackendError("QRUN_ISA=%s, but qrun's C kernels are not built "
                               "(pip install qrun from source compiles them)" % forced)
        return None
    if forced:
        if forced not in ISAS:
            raise BackendError("QRUN_ISA=%s is not one of %s" % (forced, ", ".join(ISAS)))
        if forced not in runnable:
            raise BackendError("QRUN_ISA=%s, but this CPU does not support it (it runs: %s)"
                               % (forced, ", ".join(runnable)))
        module = _import(forced)
        if module is None:
            raise BackendError("QRUN_ISA=%s, but the module qrun.delegate._qrun_%s was not "
                               "built" % (forced, forced))
        return _make(forced, module)
    for isa in reversed(runnable):
        module = _import(isa)
        if module is not None:
            return _make(isa, module)
    return None


def current_backend() -> Optional[Backend]:
    return load_backend(os.environ.get("QRUN_ISA") or None)
