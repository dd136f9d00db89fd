"""Keep freed tensor memory inside the process instead of handing it back to the kernel.

glibc's malloc serves every block above its mmap threshold (which it adapts, up to 32 MiB)
with fresh ``mmap`` pages and trims the top of the heap once twice that is free. A training
step frees and re-allocates the same activations every step, so on CPU each step zero-fills
its activation memory anew through page faults: measured on the CPU-scale TSM step, ~250 000
minor faults (~1 GB) and 0.4-0.8 s of kernel time per fp32 step of ~2.5 s. Fixed thresholds
(blocks up to 256 MiB from the heap, up to 2 GiB of free heap kept) let the steps reuse it;
``scripts/bench_precision.py --glibc-default`` and ``bench_backbones.py --glibc-default``
measure the difference. The cost is that the process holds on to its peak memory, which a
training loop reaches again every step anyway. Other allocators (musl, macOS) are left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # mallopt parameter numbers, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 256 * 2**20
TRIM_THRESHOLD = 2**31 - 1  # mallopt takes a C int: the largest value it can be given


def keep_freed_memory(
    mmap_threshold: int = MMAP_THRESHOLD, trim_threshold: int = TRIM_THRESHOLD
) -> bool:
    """Set glibc malloc's mmap and trim thresholds for this process (and processes it forks).

    Returns whether they were set: ``False`` off glibc, or if glibc refused a value. Setting
    them also switches off glibc's own threshold adaptation, which is the point: the
    thresholds no longer depend on what the process happened to free first.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        log.debug("not glibc: malloc thresholds left alone")
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    applied = (
        libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1
        and libc.mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1
    )
    if not applied:
        log.warning("glibc refused malloc thresholds mmap=%d trim=%d", mmap_threshold,
                    trim_threshold)
    return applied
