"""Helpers of the stream, predict, monitor and export tests."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def reordered_sum_atol(model: nn.Module, reference: torch.Tensor) -> float:
    """Absolute tolerance between two fp32 runs of ``model`` that differ only in the order of
    their sums (another batch composition makes oneDNN pick another blocking), for outputs of
    the scale of ``reference``.

    Reordering a sum of n terms changes its rounding by about eps·sqrt(n) of the terms' scale
    (the random-walk estimate behind torch.testing's fp32 defaults); the model chains ``depth``
    such reductions (its convolutions), whose independent errors add up as sqrt(depth). n is
    the longest reduction, in_channels/groups·kernel area, so the bound errs on the safe side.
    """
    convs = [m for m in model.modules() if isinstance(m, nn.modules.conv._ConvNd)]
    longest = max(m.weight[0].numel() if not m.transposed else m.weight[:, 0].numel()
                  for m in convs)
    eps = torch.finfo(torch.float32).eps
    return eps * math.sqrt(longest * len(convs)) * float(reference.abs().max())


class FrameDifferenceDetector(nn.Module):
    """A training-free stand-in detector with the ClipDetector interface.

    A clip's heatmap is the smoothed temporal standard deviation of its grey frames (a moving
    plume changes pixels, a static scene only shows sensor noise), squashed around
    ``threshold``; boxes have a fixed size and no motion. It lets the monitor tests check the
    alarm on real SynthIOD pixels without a trained network (a test-time model detects
    nothing yet).
    """

    context_frames = 0  # no extra frames around a clip

    def __init__(self, clip_len: int, threshold: float, gain: float = 60.0,
                 box_cells: float = 6.0, down_ratio: int = 4) -> None:
        super().__init__()
        self.clip_len, self.threshold, self.gain = clip_len, threshold, gain
        self.box_cells, self.down_ratio = box_cells, down_ratio

    @property
    def frames_per_clip(self) -> int:
        return self.clip_len

    def forward(self, video: torch.Tensor) -> dict[str, torch.Tensor]:
        grey = video.mean(2)  # (B, K, S, S)
        spread = grey.std(1, keepdim=True)
        grid = F.avg_pool2d(spread, self.down_ratio)
        smooth = F.avg_pool2d(grid, 5, 1, 2, count_include_pad=False)
        hm = self.gain * (smooth - self.threshold)
        batch, _, h, w = hm.shape
        wh = torch.full((batch, 2 * self.clip_len, h, w), self.box_cells)
        zeros = torch.zeros_like(wh)
        return {"hm": hm, "wh": wh, "mov": zeros, "sta": zeros}
