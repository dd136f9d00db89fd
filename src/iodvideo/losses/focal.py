"""CornerNet/CenterNet heatmap focal loss (protocol §6.1)."""

from __future__ import annotations

import torch

PROB_CLAMP = 1e-4


def clamped_sigmoid(logits: torch.Tensor) -> torch.Tensor:
    """Sigmoid clamped to [1e-4, 1-1e-4], as the reference does before every loss.

    Out of place: the reference overwrites the model output (protocol §11.20); we do not.
    """
    return torch.sigmoid(logits).clamp(PROB_CLAMP, 1 - PROB_CLAMP)


def focal_loss(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """``pred`` probabilities, ``gt`` Gaussian heatmap; both ``(B, C, h, w)``.

    Positives are pixels equal to 1; the sum over the whole batch is divided by the number of
    positives (or left undivided when there are none).
    """
    pos = gt.eq(1).float()
    neg = 1.0 - pos
    pos_term = torch.log(pred) * (1 - pred).pow(2) * pos
    neg_term = torch.log(1 - pred) * pred.pow(2) * (1 - gt).pow(4) * neg
    num_pos = pos.sum()
    if num_pos == 0:
        return -neg_term.sum()
    return -(pos_term.sum() + neg_term.sum()) / num_pos
