"""Shared helpers of the predict/monitor/export tests."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FrameDifferenceDetector(nn.Module):
    """A training-free stand-in detector with the ClipDetector interface.

    A clip's heatmap is the smoothed temporal standard deviation of its grey frames (a moving
    plume changes pixels, a static scene only shows sensor noise), squashed around
    ``threshold``; boxes have a fixed size and no motion. It lets the monitor tests check the
    alarm on real SynthIOD pixels without a trained network (a test-time model detects
    nothing yet).
    """

    def __init__(self, clip_len: int, threshold: float, gain: float = 60.0,
                 box_cells: float = 6.0, down_ratio: int = 4) -> None:
        super().__init__()
        self.clip_len, self.threshold, self.gain = clip_len, threshold, gain
        self.box_cells, self.down_ratio = box_cells, down_ratio

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
