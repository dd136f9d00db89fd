"""Where the Hydra configs live, whatever the working directory is, and the resolvers they use.

Importing this module registers the resolvers, so every entry point (and every test that
composes a config) gets them.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf


def _config_dir() -> Path:
    """The checkout's ``conf/`` when this package runs from a source checkout (editable install:
    ``<repo>/src/iodvideo``), so edits there take effect at once; otherwise the copy that the
    wheel build put into the package (``iodvideo/conf``, see setup.py). The checkout is
    recognised by its layout, not by a ``conf/`` two levels up alone: an install into
    ``<dir>/site`` would otherwise pick up whatever ``<dir>/conf`` happens to be."""
    package = Path(__file__).resolve().parent
    checkout = package.parents[1]
    if package.parent.name == "src" and (checkout / "pyproject.toml").is_file():
        return checkout / "conf"
    return package / "conf"


CONFIG_DIR = str(_config_dir())


def fastest_precision(accelerator: str) -> str:
    """``bf16-mixed`` where the hardware computes bf16 natively, else ``32``: the default
    training precision (``trainer.precision``). On an AVX-512 BF16 CPU a whole CPU-scale
    training step runs about 2× faster than fp32 (scripts/bench_precision.py); where bf16 would
    be emulated (AVX2, AVX-512 without BF16, ARM without bf16) it would be slower. The rules
    and their reasons live in :func:`iodvideo.hardware.choose_precision`."""
    # imported here: iodvideo.hardware imports torch, which the synth CLI (CONFIG_DIR only)
    # never needs
    from iodvideo.hardware import choose_precision

    return choose_precision(accelerator).precision


OmegaConf.register_new_resolver("fastest_precision", fastest_precision, replace=True)
