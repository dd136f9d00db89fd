"""Masked L1 regression on values gathered from dense maps (protocol §6.2)."""

from __future__ import annotations

import torch

from iodvideo.tensor_ops import gather_at


def reg_l1_loss(
    maps: torch.Tensor, index: torch.Tensor, mask: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """Mean absolute error over valid objects: Σ|p·m − t·m| / (Σm + 1e-4), m broadcast to C."""
    pred = gather_at(maps, index)
    m = mask.unsqueeze(-1).expand_as(pred).float()
    return (pred * m - target * m).abs().sum() / (m.sum() + 1e-4)
