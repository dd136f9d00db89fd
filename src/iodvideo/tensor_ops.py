"""Tensor helpers shared by layers that must not import each other.

:func:`gather_at` reads dense head maps at object positions: the losses read predictions at
GT centres, the decoder reads offsets and sizes at peaks. It lives here, in the utility
layer, so that ``detections`` (decoding, used by inference) needs nothing from ``losses``
(training objectives); tests/test_architecture.py keeps it so.
"""

from __future__ import annotations

import torch


def gather_at(maps: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Read ``maps (B, C, h, w)`` at flat positions.

    ``index (B, n)``: the same position for all C channels (key centre) → ``(B, n, C)``.
    ``index (B, n, C)``: one position per channel (per-frame centres) → ``(B, n, C)``.
    """
    batch, channels = maps.shape[:2]
    flat = maps.reshape(batch, channels, -1)
    if index.dim() == 2:
        index = index.unsqueeze(-1).expand(-1, -1, channels)
    return flat.gather(2, index.transpose(1, 2)).transpose(1, 2)
