"""CenterNet-style clip detector: backbone → per-frame neck → clip heads."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from iodvideo.models.heads import ClipHeads
from iodvideo.models.motion_input import MotionChannels
from iodvideo.models.neck import FusionNeck


class ClipDetector(nn.Module):
    """``video (B, K, 3, H, W)`` → ``hm (B,1,H/4,W/4)`` logits, ``wh``/``mov (B,2K,H/4,W/4)``.

    ``neck`` and ``heads`` are factories (Hydra ``_partial_``) because their input widths
    depend on the backbone chosen at run time. ``motion_input`` replaces the (identical, for
    IR) colour channels by grey, frame difference and its magnitude before the backbone
    (:class:`~iodvideo.models.motion_input.MotionChannels`); off, the input is the paper's.
    """

    def __init__(
        self,
        backbone: nn.Module,
        neck: Callable[..., FusionNeck],
        heads: Callable[..., ClipHeads],
        clip_len: int,
        motion_input: bool = False,
    ) -> None:
        super().__init__()
        self.clip_len = clip_len
        self.motion_input = MotionChannels() if motion_input else None
        self.backbone = backbone
        self.neck = neck(in_channels=backbone.feature_channels)
        self.heads = heads(in_channels=self.neck.out_channels, clip_len=clip_len)

    @property
    def context_frames(self) -> int:
        """Extra frames per clip side the backbone reads (TDN: 2): every path that builds
        clips for this model asks here, so data and model cannot disagree."""
        return int(getattr(self.backbone, "context_frames", 0))

    @property
    def frames_per_clip(self) -> int:
        """Frames one input clip holds: ``clip_len`` plus the context on both sides."""
        return self.clip_len + 2 * self.context_frames

    def forward(self, video: torch.Tensor) -> dict[str, torch.Tensor]:
        expected = self.frames_per_clip
        if video.shape[1] != expected:
            raise ValueError(f"expected clips of {expected} frames, got {video.shape[1]}")
        if self.motion_input is not None:
            video = self.motion_input(video)
        return self.heads(self.neck(self.backbone(video)))
