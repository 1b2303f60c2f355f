"""CPU training speed: keep freed memory in the process instead of returning it to the OS.

On the CPU, PyTorch takes every activation from ``malloc``. glibc serves blocks larger
than its mmap threshold (at most 32 MB) with fresh pages from the kernel and unmaps them
when they are freed, so every training step page-faults and zeroes its whole activation
memory again. ``retain_freed_memory`` makes glibc take every block from its heap and never
give freed memory back to the kernel, so that later steps reuse it without page faults.
Measured here (LCNN, batch 64 x 6 s, 2 CPU threads, see ``benchmarks/bench_training.py``):
a baseline training step went from 6.6 s to 3.3 s.

What it costs, and where it acts: the setting is process-wide (every later allocation of
the process, not only the model's) and lasts until the process ends; the process keeps
the most memory it ever used (LCNN + InF + InI at batch 64 x 6 s: about 12 GB resident,
held to the end of the run), which other processes of the machine then cannot use. The
recipes switch it on with ``cpu_retain_freed_memory: True`` (the LCNN and ECAPA YAMLs) on
the CPU only.

Trimming must be off entirely (``M_TRIM_THRESHOLD = -1``), not just set to its largest
positive value (2 GiB - 1): an InF step of LCNN (the two views as one batch of 128)
frees more than 2 GiB at the top of the heap, which glibc then returned to the kernel
after every step, so that each step page-faulted about 6 GB again (1.5 million faults,
a fifth of the step; ``docs/training_speed.md``).

The standard way to set this for a whole process is glibc's environment, before the
process starts: ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=-1 python recipes/train.py ...``
(``man mallopt``; ``benchmarks/bench_allocator.py`` shows both give the same page
faults). A recipe cannot set its own environment that way once Python runs (glibc reads
the variables at start-up), so the YAML switch calls ``mallopt`` in the process instead.

Authors
 * speechbrain-ssdctx contributors
"""

import ctypes
import ctypes.util
import logging

logger = logging.getLogger(__name__)

# mallopt parameters, from glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def retain_freed_memory() -> bool:
    """Makes glibc's malloc serve all blocks from its heap and never trim it (glibc's
    ``mallopt``: ``M_MMAP_MAX = 0``, ``M_TRIM_THRESHOLD = -1``).

    Affects the whole process (all later allocations) until it ends, which keeps its peak
    memory. Returns whether it was applied: False where the C library is not glibc
    (macOS, musl), where nothing changes.

    Example
    -------
    >>> import subprocess, sys  # in a child process: the setting is process-wide
    >>> code = "from speechbrain_ssdctx.utils.allocator import retain_freed_memory as r; print(r())"
    >>> subprocess.run([sys.executable, "-c", code], capture_output=True,
    ...                text=True).stdout.strip() in ("True", "False")
    True
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    libc = ctypes.CDLL(name)
    if not hasattr(libc, "mallopt") or not hasattr(libc, "gnu_get_libc_version"):
        return False
    # -1 disables trimming (glibc stores the threshold as a size_t: -1 is its maximum).
    applied = bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, -1))
    logger.info("glibc malloc keeps freed memory for reuse: %s", applied)
    return applied
