"""CenterNet-style clip detector: backbone → per-frame neck → clip heads."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from iodvideo.models.heads import ClipHeads
from iodvideo.models.motion_input import MotionChannels
from iodvideo.models.neck import FusionNeck
from iodvideo.models.per_frame import split_frames, stack_frames, uses_batch_statistics
from iodvideo.models.registry import backbone_facts


class ClipDetector(nn.Module):
    """``video (B, K, 3, H, W)`` → ``hm (B, C, H/4, W/4)`` logits (one channel per class,
    ``heads.num_classes``), ``wh``/``mov``/``sta (B, 2K, H/4, W/4)``.

    ``neck`` and ``heads`` are factories (Hydra ``_partial_``) because their input widths
    depend on the backbone chosen at run time. ``motion_input`` replaces the (identical, for
    IR) colour channels by grey, frame difference and its magnitude before the backbone
    (:class:`~iodvideo.models.motion_input.MotionChannels`); off, the input is the paper's.

    The neck runs once on all B·K frames. A backbone whose legacy switch is on (its
    ``legacy_neck``) gets the reference's order instead, as far as its registry facts say:
    L2Norm/upsampling before the backbone's output reshape (TAM, TDN) and, while BatchNorm
    uses batch statistics, the neck once per frame (:meth:`frame_features`).
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
        # class facts (plain bools: the facts object holds a mappingproxy, which deepcopy
        # and pickle refuse)
        facts = backbone_facts(backbone)
        self.legacy_neck_before_reshape = facts.legacy_neck_before_reshape
        self.legacy_per_frame_neck = facts.legacy_per_frame_neck

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
        return self.heads(self.frame_features(video))

    def frame_features(self, video: torch.Tensor) -> torch.Tensor:
        """Backbone + neck: the clip → ``(B*K, C, h, w)`` per-frame maps for the heads.

        Default: one batched neck call (the same function as the reference's in eval mode,
        fewer kernel launches, BatchNorm statistics over B·K samples). Legacy (the backbone's
        ``legacy_neck``) follows the reference's order where it differs (docs/backbones.md)."""
        backbone, neck = self.backbone, self.neck
        legacy = bool(getattr(backbone, "legacy_neck", False))
        if legacy and self.legacy_neck_before_reshape:
            maps, times = backbone.stage_maps(video)
            levels, fuse = backbone.frame_maps(neck.upsample(maps), times), neck.fuse_levels
        else:
            levels, fuse = backbone(video), neck
        if legacy and self.legacy_per_frame_neck and uses_batch_statistics(neck):
            return stack_frames([fuse(frame) for frame in split_frames(levels, self.clip_len)])
        return fuse(levels)
