"""The resource limits every fuzz run sets before loading qrun: an address-space cap
(RLIMIT_AS) and qrun's own arena cap below it, so that a model asking for more memory than the
cap must be rejected by qrun, not by the operating system."""
import os
import resource

RLIMIT_AS_BYTES = int(os.environ.get("QRUN_FUZZ_RLIMIT_MB", "3072")) << 20
ARENA_CAP_BYTES = 64 << 20


def apply() -> None:
    """QRUN_FUZZ_RLIMIT_MB=0 sets no RLIMIT_AS (AddressSanitizer reserves terabytes of
    address space for its shadow memory)."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ["QRUN_MAX_ARENA_BYTES"] = str(ARENA_CAP_BYTES)
    if RLIMIT_AS_BYTES:
        resource.setrlimit(resource.RLIMIT_AS, (RLIMIT_AS_BYTES, RLIMIT_AS_BYTES))
