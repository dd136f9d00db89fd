"""keep_freed_memory: the malloc thresholds training sets so steps stop re-faulting memory."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from iodvideo import allocator

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# Six "steps" that each allocate and free 8 × 20 MiB; page faults counted over the last three.
# glibc's own adaptive thresholds make its default vary from run to run (with the address
# layout), so the control is the same thresholds set low — what the default starts from —
# under which every 20 MiB block is mmapped and faulted in again each step.
FAULTS_SCRIPT = """
import resource, sys
import torch
from iodvideo.allocator import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
else:
    assert keep_freed_memory(mmap_threshold=128 * 1024, trim_threshold=128 * 1024)
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def step():
    blocks = [torch.ones(5 * 2**20) for _ in range(8)]
    del blocks
for _ in range(3):  # warm-up: the heap grows to the step's size
    step()
start = faults()
for _ in range(3):
    step()
print(faults() - start)
"""


def minor_faults(mode: str) -> int:
    result = subprocess.run(
        [sys.executable, "-c", FAULTS_SCRIPT, mode], capture_output=True, text=True, check=True
    )
    return int(result.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not GLIBC, reason="mallopt thresholds exist in glibc only")
def test_keep_freed_memory_stops_refaulting_freed_blocks():
    pages_per_step = 8 * 20 * 2**20 // 4096
    assert minor_faults("low") >= 3 * pages_per_step  # the control re-faults every step
    assert minor_faults("keep") < pages_per_step / 10


def test_other_allocators_are_left_alone(monkeypatch):
    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("", ""))
    assert allocator.keep_freed_memory() is False


def test_refused_threshold_is_reported(monkeypatch, caplog):
    class RefusingLibc:
        @staticmethod
        def mallopt(param: int, value: int) -> int:
            return 0  # what glibc's mallopt returns for a value it does not accept

    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("glibc", "2.36"))
    monkeypatch.setattr(allocator.platform, "system", lambda: "Linux")
    monkeypatch.setattr(allocator.ctypes, "CDLL", lambda name: RefusingLibc())
    assert allocator.keep_freed_memory() is False
    assert "refused" in caplog.text
