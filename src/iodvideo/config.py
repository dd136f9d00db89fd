"""Where the Hydra configs live, whatever the working directory is, and the resolvers they use.

Importing this module registers the resolvers, so every entry point (and every test that
composes a config) gets them.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

# src/iodvideo/config.py → repository root / conf (editable install, the supported setup).
CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "conf")


def fastest_precision(accelerator: str) -> str:
    """``bf16-mixed`` where the hardware computes bf16 natively (a CUDA GPU with bf16, a CPU
    with AVX-512 BF16/AMX through oneDNN), else ``32``: the default training path. On such a CPU
    a whole CPU-scale training step runs about 2× faster than fp32 (scripts/bench_precision.py);
    elsewhere bf16 would be emulated and slower."""
    import torch

    try:
        if accelerator in ("gpu", "cuda"):
            native = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        elif accelerator == "cpu":
            native = torch.backends.mkldnn.is_available() and bool(
                torch.ops.mkldnn._is_mkldnn_bf16_supported()
            )
        else:
            native = False
    except (AttributeError, RuntimeError):  # an older/other build without these probes
        native = False
    return "bf16-mixed" if native else "32"


OmegaConf.register_new_resolver("fastest_precision", fastest_precision, replace=True)
