"""The C delegate: partitioner, plan builder and the per-ISA compiled executors."""
from __future__ import annotations

import warnings

from . import conv, datamove, elementwise, pool, resize, softmax  # noqa: F401  (fill the table)
from .backend import BackendError, current_backend
from .partition import Delegate, DelegateStep
from .table import OPS, support_table

__all__ = ["BackendError", "Delegate", "DelegateStep", "OPS", "get_delegate", "support_table"]

_warned = False


def get_delegate(num_threads: int = 1):
    """The delegate that runs supported ops in C, or None (with one warning per process)
    when no compiled module is present. QRUN_ISA forces an ISA build."""
    global _warned
    backend = current_backend()
    if backend is None:
        if not _warned:
            _warned = True
            warnings.warn("qrun's C kernels are not built; every op runs on the numpy "
                          "reference kernels (pip install qrun from source to compile them)",
                          RuntimeWarning, stacklevel=2)
        return None
    return Delegate(backend, num_threads)
