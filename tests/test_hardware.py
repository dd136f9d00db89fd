"""Default precision by hardware: each branch pinned by replacing the capability queries."""

from __future__ import annotations

import pytest
import torch

from iodvideo import hardware
from iodvideo.config import fastest_precision


def pretend(monkeypatch: pytest.MonkeyPatch, **queries: object) -> None:
    """Replace hardware._<name> queries with constants (machine, cpu_capability, mkldnn_bf16,
    amx, cuda_available, cuda_bf16, cuda_name)."""
    for name, value in queries.items():
        monkeypatch.setattr(hardware, f"_{name}", lambda value=value: value)


X86 = {"machine": "x86_64", "amx": False, "cuda_available": False}


@pytest.mark.parametrize(
    ("queries", "precision", "isa"),
    [
        ({**X86, "cpu_capability": "AVX2", "mkldnn_bf16": False}, "32", "AVX2"),
        ({**X86, "cpu_capability": "AVX512", "mkldnn_bf16": False}, "32", "AVX-512"),
        ({**X86, "cpu_capability": "AVX512", "mkldnn_bf16": True}, "bf16-mixed", "AVX-512 BF16"),
        ({**X86, "cpu_capability": "AVX512", "mkldnn_bf16": True, "amx": True}, "bf16-mixed",
         "AMX"),
        ({**X86, "cpu_capability": "NO AVX", "mkldnn_bf16": False}, "32", "NO AVX"),
        ({"machine": "aarch64", "cpu_capability": "DEFAULT", "mkldnn_bf16": False,
          "cuda_available": False}, "32", "ARM NEON"),
        ({"machine": "arm64", "cpu_capability": "DEFAULT", "mkldnn_bf16": True,
          "cuda_available": False}, "bf16-mixed", "ARM NEON + bf16"),
        ({"machine": "aarch64", "cpu_capability": "SVE256", "mkldnn_bf16": True,
          "cuda_available": False}, "bf16-mixed", "ARM SVE256 + bf16"),
    ],
    ids=["avx2", "avx512", "avx512-bf16", "amx", "no-avx", "arm-neon", "arm-bf16", "arm-sve"],
)
def test_cpu_precision_follows_native_bf16(monkeypatch, queries, precision, isa):
    pretend(monkeypatch, **queries)
    choice = hardware.choose_precision("cpu")
    assert choice.precision == precision == fastest_precision("cpu")
    assert hardware.cpu_isa() == isa
    assert isa in choice.reason
    assert str(choice).startswith("fp32: " if precision == "32" else "bf16-mixed: ")
    if precision == "32":
        assert "no native bf16" in choice.reason


@pytest.mark.parametrize(
    ("queries", "precision", "words"),
    [
        ({"cuda_available": True, "cuda_bf16": True, "cuda_name": "H200 (cc 9.0)"},
         "bf16-mixed", "H200 (cc 9.0) computes bf16 natively"),
        ({"cuda_available": True, "cuda_bf16": False, "cuda_name": "V100 (cc 7.0)"},
         "32", "16-mixed is an option"),
        ({"cuda_available": False}, "32", "no CUDA device"),
    ],
    ids=["ampere-or-newer", "no-bf16-gpu", "no-gpu"],
)
def test_gpu_precision(monkeypatch, queries, precision, words):
    pretend(monkeypatch, **queries)
    for accelerator in ("gpu", "cuda"):
        choice = hardware.choose_precision(accelerator)
        assert choice.precision == precision and words in choice.reason


def test_auto_accelerator_picks_the_gpu_when_one_is_visible(monkeypatch):
    pretend(monkeypatch, cuda_available=True, cuda_bf16=True, cuda_name="A100")
    assert hardware.choose_precision("auto").precision == "bf16-mixed"
    pretend(monkeypatch, cuda_available=False, mkldnn_bf16=False, machine="x86_64",
            cpu_capability="AVX2")
    assert hardware.choose_precision("auto").precision == "32"


def test_unknown_accelerator_falls_back_to_fp32():
    assert hardware.choose_precision("mps").precision == "32"


def test_this_machine_is_described_from_torch_itself():
    line = hardware.describe_machine()
    assert torch.backends.cpu.get_cpu_capability() in line
    assert f"{torch.get_num_threads()} thread" in line
    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert hardware.cpu_has_native_bf16() == native
    assert hardware.choose_precision("cpu").precision == ("bf16-mixed" if native else "32")


def test_user_precision_is_reported_as_set_by_the_user():
    assert hardware.describe_precision("32", "cpu", chosen=False) == (
        "fp32: set by trainer.precision"
    )
    assert hardware.describe_memory_format(False) == "NCHW: set by channels_last=false"


def test_training_announces_its_precision_and_memory_format(monkeypatch):
    from hydra import compose, initialize_config_dir

    from iodvideo.config import CONFIG_DIR
    from iodvideo.train import hardware_summary

    pretend(monkeypatch, **X86, cpu_capability="AVX2", mkldnn_bf16=False)
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        default = hardware_summary(compose("train"))
        forced = hardware_summary(
            compose("train", overrides=["trainer.precision=bf16-mixed", "channels_last=false"])
        )
    assert "precision: fp32: this CPU has no native bf16 (AVX2)" in default
    assert "memory format: channels_last" in default
    assert "precision: bf16-mixed: set by trainer.precision" in forced
    assert "memory format: NCHW: set by channels_last=false" in forced
