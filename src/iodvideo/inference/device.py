"""Pick the torch device for inference entry points (eval, predict, monitor)."""

from __future__ import annotations

import torch

from iodvideo.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``auto`` = CUDA when available, else CPU; an unusable choice is a one-line error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ConfigError(f"device={name!r}: {err}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device=cuda but no CUDA GPU is available; use device=cpu")
    return device
