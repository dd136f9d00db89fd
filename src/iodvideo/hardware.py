"""What this machine computes fast, and the training defaults that follow from it.

Training's default precision depends on the hardware: bf16 autocast pays off only where the
chip computes bf16 natively (AVX-512 BF16 / AMX through oneDNN, ARM CPUs with bf16
instructions, Ampere-or-newer GPUs); elsewhere it is emulated and slower than fp32. The
choice and the reason for it are printed when training starts and in the first line of every
benchmark, so figures from different machines can be told apart.

Every query goes through one small function (``_cpu_capability``, ``_mkldnn_bf16`` ...), so
a test can pin each branch by replacing it; nothing here touches a GPU unless asked about one.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass

import torch

BF16 = "bf16-mixed"
FP32 = "32"


@dataclass(frozen=True)
class PrecisionChoice:
    """A Lightning ``precision`` value and the one-line reason it was chosen."""

    precision: str
    reason: str

    def __str__(self) -> str:
        name = "fp32" if self.precision == FP32 else self.precision
        return f"{name}: {self.reason}"


# -- raw queries (each replaceable in tests) -------------------------------------------------
def _machine() -> str:
    return platform.machine().lower()


def _cpu_model() -> str:
    """The CPU's marketing name ('AMD EPYC', 'Apple M2' ...), best effort."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or _machine()


def _cpu_capability() -> str:
    """ATen's vector ISA: 'AVX2', 'AVX512', 'DEFAULT' (NEON on ARM), 'SVE256', 'NO AVX' ..."""
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):
        return "unknown"


def _mkldnn_bf16() -> bool:
    """oneDNN will run bf16 natively (it checks AVX-512 BF16/AMX on x86, bf16 on ARM, and
    honours ONEDNN_MAX_CPU_ISA)."""
    try:
        return torch.backends.mkldnn.is_available() and bool(
            torch.ops.mkldnn._is_mkldnn_bf16_supported()
        )
    except (AttributeError, RuntimeError):  # a build without these probes
        return False


def _amx() -> bool:
    try:
        return bool(torch.cpu._is_amx_tile_supported())
    except (AttributeError, RuntimeError):
        return False


def _cuda_available() -> bool:
    return torch.cuda.is_available()


def _cuda_bf16() -> bool:
    return torch.cuda.is_bf16_supported()


def _cuda_name() -> str:
    major, minor = torch.cuda.get_device_capability()
    return f"{torch.cuda.get_device_name()} (compute capability {major}.{minor})"


# -- descriptions and choices ----------------------------------------------------------------
def is_arm() -> bool:
    return _machine() in ("arm64", "aarch64") or _machine().startswith("arm")


def cpu_isa() -> str:
    """A readable name of the CPU's relevant instruction set: 'AMX', 'AVX-512 BF16',
    'AVX-512', 'AVX2', 'ARM SVE256 + bf16', 'ARM NEON' ..."""
    capability = _cpu_capability()
    if is_arm():
        vector = capability if capability.startswith("SVE") else "NEON"
        return f"ARM {vector}" + (" + bf16" if _mkldnn_bf16() else "")
    if _mkldnn_bf16():
        return "AMX" if _amx() else "AVX-512 BF16"
    return {"AVX512": "AVX-512", "AVX2": "AVX2"}.get(capability, capability)


def cpu_has_native_bf16() -> bool:
    return _mkldnn_bf16()


def choose_precision(accelerator: str) -> PrecisionChoice:
    """The fastest training precision for ``accelerator`` ('cpu', 'gpu'/'cuda', 'auto', other)
    on this machine, with the reason."""
    if accelerator == "auto":
        accelerator = "gpu" if _cuda_available() else "cpu"
    if accelerator in ("gpu", "cuda"):
        if not _cuda_available():
            return PrecisionChoice(FP32, "no CUDA device is visible")
        name = _cuda_name()
        if _cuda_bf16():
            return PrecisionChoice(BF16, f"{name} computes bf16 natively")
        return PrecisionChoice(
            FP32, f"{name} has no native bf16 (trainer.precision=16-mixed is an option)"
        )
    if accelerator != "cpu":
        return PrecisionChoice(FP32, f"no bf16 rule for accelerator {accelerator!r}")
    isa = cpu_isa()
    if _mkldnn_bf16():
        return PrecisionChoice(BF16, f"this CPU computes bf16 natively ({isa})")
    return PrecisionChoice(
        FP32, f"this CPU has no native bf16 ({isa}); bf16 would be emulated and slower"
    )


def describe_memory_format(channels_last: bool) -> str:
    if channels_last:
        return "channels_last: oneDNN and cuDNN convolve NHWC natively (channels_last=false: NCHW)"
    return "NCHW: set by channels_last=false"


def describe_precision(precision: str, accelerator: str, chosen: bool = True) -> str:
    """``precision`` with its reason: the hardware rule when ``chosen`` (the config left it to
    :func:`choose_precision`), else that the user set it."""
    if chosen:
        return str(choose_precision(accelerator))
    return str(PrecisionChoice(str(precision), "set by trainer.precision"))


def bench_header(precision: str) -> str:
    """The first line of every benchmark: the machine, and the precision its figures use."""
    return f"machine: {describe_machine()} | precision: {precision}"


def describe_machine() -> str:
    """One line naming the CPU (or GPU), its ISA and the thread count, for logs and benches."""
    threads = torch.get_num_threads()
    cpu = f"CPU {_cpu_model()} [{cpu_isa()}, ATen {_cpu_capability()}]"
    gpu = f", GPU {_cuda_name()}" if _cuda_available() else ""
    flags = [f"{k}={os.environ[k]}" for k in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")
             if k in os.environ]
    forced = f", forced by {' '.join(flags)}" if flags else ""
    plural = "s" if threads != 1 else ""
    return f"{cpu}, {threads} thread{plural}{gpu}{forced}"
