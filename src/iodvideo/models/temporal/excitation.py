"""Excitation and aggregation adapters: TAM (protocol §5.5.4) and TEA's ME + MTA (§5.5.5)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from iodvideo.models.registry import register_backbone
from iodvideo.models.temporal.base import PreOpConv2d, TemporalBackbone, he_normal_init
from iodvideo.models.temporal.layout import split_time, temporal_max_pool
from iodvideo.models.temporal.ops import temporal_conv3
from iodvideo.models.temporal.shift import LearnableTemporalShift


class TemporalAggregation(nn.Module):
    """TAM: ``ReLU(w_prev·x[t−1] + w_curr·x[t] + w_next·x[t+1])`` with per-channel scalars.

    The reference's three depthwise 1×1 convs (then shifting prev/next by one frame, zeros at
    the ends) reduce to three per-channel weights. Init N(0, 2/C), the reference's generic conv
    init with n = C, so at start TAM strongly attenuates the residual-branch input.
    """

    def __init__(self, channels: int, time: int) -> None:
        super().__init__()
        self.time = time
        self.weight = nn.Parameter(torch.randn(3, channels) * math.sqrt(2.0 / channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        clip = split_time(x, self.time)
        # weights cast to the activation dtype: an fp32 parameter would promote a bf16
        # (autocast) activation to fp32 for the whole residual branch
        w = self.weight.to(x.dtype).view(3, 1, 1, -1, 1, 1)
        return temporal_conv3(clip, w[0], w[1], w[2]).relu_().reshape(x.shape)


@register_backbone("tam")
class TAMBackbone(TemporalBackbone):
    """TAM ResNet (protocol §5.5.4): TAM before every conv1, temporal pooling between stages.

    ``temporal_pool``: max-pool over time (k3 s2 p1) after layers 1–3, so T = K, K/2, K/4, K/8
    per stage; ``None`` keeps the reference rule (only when K >= 8, quirk §11.26). Each stage
    output is brought back to K frames by :func:`frames_to_clip_len`. With ``legacy_layout`` the
    outputs are scrambled per stage with that stage's T before frame selection, and — as in
    the reference (§5.4) — the detector runs the neck's L2Norm/upsampling on each stage map
    before that output reshape (``legacy_neck_before_reshape``) and, in training, the neck's
    fusion once per frame (``legacy_per_frame_neck``).
    """

    scramble_outputs = True
    legacy_neck_before_reshape = True
    legacy_per_frame_neck = True

    def __init__(
        self,
        model_name: str = "resnet50",
        clip_len: int = 8,
        temporal_pool: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(model_name, clip_len, **kwargs)
        self.temporal_pool = clip_len >= 8 if temporal_pool is None else temporal_pool
        time = clip_len
        self.stage_times = []
        for stage in range(1, 5):
            self.stage_times.append(time)
            for block in self.stage(stage):
                block.conv1 = PreOpConv2d.wrap(
                    block.conv1, TemporalAggregation(block.conv1.in_channels, time)
                )
            if self.temporal_pool and stage < 4:
                time = (time - 1) // 2 + 1
        self.finish()

    def stage_maps(self, video: torch.Tensor) -> tuple[list[torch.Tensor], list[int]]:
        self.check_clip(video)
        x = self.stem(self.to_frames(video))
        maps = []
        for stage, time in enumerate(self.stage_times, start=1):
            x = self.stage(stage)(x)
            maps.append(x)
            if stage < 4 and self.stage_times[stage] != time:
                x, _ = temporal_max_pool(x, time)
        return maps, list(self.stage_times)


class MotionExcitation(nn.Module):
    """TEA's ME: channel attention from feature-level temporal differences (protocol §5.5.5).

    Squeeze C → C/r (1×1 + BN), ``d[t] = conv3x3_dw(f[t+1]) − f[t]`` (zero for the last frame),
    global average pool, expand back (1×1 + BN), ``sigmoid − 0.5``; output ``x·(1 + y)``.
    """

    def __init__(self, channels: int, time: int, reduction: int = 16) -> None:
        super().__init__()
        self.time = time
        mid = max(1, channels // reduction)
        self.squeeze = nn.Sequential(nn.Conv2d(channels, mid, 1, bias=False), nn.BatchNorm2d(mid))
        self.transform = nn.Conv2d(mid, mid, 3, padding=1, groups=mid, bias=False)
        self.expand = nn.Sequential(
            nn.Conv2d(mid, channels, 1, bias=False), nn.BatchNorm2d(channels)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.squeeze(x)
        moved, here = split_time(self.transform(f), self.time), split_time(f, self.time)
        diff = torch.cat([moved[:, 1:] - here[:, :-1], torch.zeros_like(here[:, :1])], dim=1)
        pooled = diff.reshape(f.shape).mean(dim=(2, 3), keepdim=True)
        attention = torch.sigmoid(self.expand(pooled)) - 0.5
        return x * (1 + attention)


class TEABottleneck(nn.Module):
    """A timm ``Bottle2neck`` with ME after conv1 and MTA shift convs before each group's conv.

    Adopts the timm block's children under their own names (``conv1``, ``convs.i``, ``bns.i``,
    ``conv3``, ``downsample`` …) so Res2Net checkpoints load by name; new tensors are ``me.*``
    and ``shifts.*``. Groups 0..s−2: (+ previous group's output on non-first blocks) → shift
    conv (identity init) → 3×3 conv → BN → ReLU; last group: shift conv (half t+1, half t−1)
    → the block's avg-pool on first blocks of a stage.
    """

    def __init__(self, block: nn.Module, time: int) -> None:
        super().__init__()
        if block.scale < 2:
            raise ValueError("TEA needs a Res2Net block with scale >= 2")
        for name in ("conv1", "bn1", "convs", "bns", "pool", "conv3", "bn3", "relu", "downsample"):
            setattr(self, name, getattr(block, name))
        self.width, self.scale, self.is_first = block.width, block.scale, block.is_first
        self.me = MotionExcitation(self.width * self.scale, time)
        self.shifts = nn.ModuleList(
            [LearnableTemporalShift(self.width, time) for _ in range(self.scale - 1)]
            + [LearnableTemporalShift(self.width, time, fold=self.width // 2)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.me(self.relu(self.bn1(self.conv1(x))))
        splits = torch.split(out, self.width, dim=1)
        groups = []
        group = splits[0]
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns, strict=True)):
            group = splits[i] if i == 0 or self.is_first else group + splits[i]
            group = self.relu(bn(conv(self.shifts[i](group))))
            groups.append(group)
        last = self.shifts[-1](splits[-1])
        groups.append(self.pool(last) if self.pool is not None else last)
        out = self.bn3(self.conv3(torch.cat(groups, dim=1)))
        shortcut = self.downsample(x) if self.downsample is not None else x
        return self.relu(out + shortcut)


@register_backbone("tea")
class TEABackbone(TemporalBackbone):
    """TEA (protocol §5.5.5): Res2Net-50 26w×4s with ME + MTA in every block — the released model.

    There is no smaller timm Res2Net; for CPU-scale runs pass e.g.
    ``model_kwargs: {layers: [1, 1, 1, 1]}`` (fewer blocks, same widths). Input and output are
    scrambled under ``legacy_layout``, as in the reference, which then also runs the whole neck
    once per frame in training (``legacy_per_frame_neck``).
    """

    scramble_outputs = True
    legacy_per_frame_neck = True

    def __init__(
        self, model_name: str = "res2net50_26w_4s", clip_len: int = 8, **kwargs: Any
    ) -> None:
        super().__init__(model_name, clip_len, **kwargs)
        for stage in range(1, 5):
            layer = self.stage(stage)
            for index, block in enumerate(layer):
                tea = TEABottleneck(block, clip_len)
                he_normal_init(tea.me)
                layer[index] = tea
        self.finish()
