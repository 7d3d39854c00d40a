"""Freed memory kept for reuse in a process that scores in batches.

glibc's ``malloc`` hands a large block straight to the operating system (above its mmap
threshold, 128 KiB to start with) and trims freed memory off the top of its heap once more than
its trim threshold is free. A batch call that builds hundreds of megabytes of feature columns
and frees them at its end therefore faults every page back in on the next call. At 10,000
educators (420,000 rows), measured here: 56,000-64,000 minor page faults and 0.4-1.0 s of system
time per ``MasteryPredictor.mastery_grid`` call, about a tenth of the call on this VM, where a
fault costs about 16 microseconds; the bare booster predict allocates little and faults almost
never. With blocks up to 32 MiB served from the heap and up to 1 GiB of freed heap kept,
the same call faults about 10,000 times and spends 0.02 s in the system.

The price is resident memory: a process keeps up to :data:`TRIM_THRESHOLD` of freed memory
(its peak is unchanged, since the memory was in use at the peak anyway). So only batch scoring
processes take it: ``pdrec score`` (the process and its LocalCluster workers) and the serving
benchmark. A Dask cluster at a scheduler address keeps its own workers' settings (Dask's
nanny trims aggressively by default, for its memory accounting). Dask's nanny leaves its spawn
environment in the starting process's ``os.environ`` (as it does its own defaults), so that
process's later children inherit these variables too.

Examples
--------
>>> sorted(KEEP_FREED_ENV)
['MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_']
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

__all__ = ["KEEP_FREED_ENV", "MMAP_THRESHOLD", "TRIM_THRESHOLD", "keep_freed_memory"]

MMAP_THRESHOLD = 32 * 2**20
"""Blocks up to this size come from the heap, not from a fresh mapping (glibc's largest)."""

TRIM_THRESHOLD = 2**30
"""Freed heap kept before glibc gives it back to the operating system."""

KEEP_FREED_ENV = {"MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD),
                  "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD)}
"""The same settings as environment variables, for processes started from here (glibc reads
them when a process starts)."""

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)


@functools.cache
def keep_freed_memory() -> bool:
    """Keep freed memory for reuse in this process (glibc's ``mallopt``); True when applied,
    False where the C library is not glibc (nothing changes there). Idempotent."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):  # not glibc (musl, macOS, Windows)
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
