"""Masked L1 regression on values gathered from dense maps (protocol §6.2)."""

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


def reg_l1_loss(
    maps: torch.Tensor, index: torch.Tensor, mask: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """Mean absolute error over valid objects: Σ|p·m − t·m| / (Σm + 1e-4), m broadcast to C."""
    pred = gather_at(maps, index)
    m = mask.unsqueeze(-1).expand_as(pred).float()
    return (pred * m - target * m).abs().sum() / (m.sum() + 1e-4)
