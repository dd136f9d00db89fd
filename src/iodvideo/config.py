"""Where the Hydra configs live, whatever the working directory is, and the resolvers they use.

Importing this module registers the resolvers, so every entry point (and every test that
composes a config) gets them.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from iodvideo.hardware import choose_precision

# src/iodvideo/config.py → repository root / conf (editable install, the supported setup).
CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "conf")


def fastest_precision(accelerator: str) -> str:
    """``bf16-mixed`` where the hardware computes bf16 natively, else ``32``: the default
    training precision (``trainer.precision``). On an AVX-512 BF16 CPU a whole CPU-scale
    training step runs about 2× faster than fp32 (scripts/bench_precision.py); where bf16 would
    be emulated (AVX2, AVX-512 without BF16, ARM without bf16) it would be slower. The rules
    and their reasons live in :func:`iodvideo.hardware.choose_precision`."""
    return choose_precision(accelerator).precision


OmegaConf.register_new_resolver("fastest_precision", fastest_precision, replace=True)
