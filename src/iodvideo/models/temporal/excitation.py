"""Excitation and aggregation adapters: TAM (protocol §5.5.4) and TEA's ME + MTA (§5.5.5)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from iodvideo.models.original_keys import Shapes, has_key
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

    Original checkpoints (:mod:`iodvideo.models.original`) load into ``legacy_layout`` with
    the default temporal pooling (the original's own K >= 8 rule); each block's
    ``tam.{prev,curr,next}_se.fc1`` become the rows of ``conv1.pre.weight``.
    """

    scramble_outputs = True
    legacy_neck_before_reshape = True
    legacy_per_frame_neck = True

    # original checkpoints: a torchvision ResNet under `backbone.` whose blocks hold a `tam`
    # of three depthwise 1×1 convs, each (C, 1, 1, 1) — rows prev/curr/next of our weight
    TAM_ORIGINAL = re.compile(r"^(layer\d\.\d+)\.tam\.(prev|curr|next)_se\.fc1\.weight$")
    TAM_ROWS = ("prev", "curr", "next")  # row order of TemporalAggregation.weight

    @classmethod
    def original_matches(cls, shapes: Shapes) -> bool:
        return has_key(shapes, r"^backbone\.layer1\.0\.tam\.prev_se\.fc1\.weight$")

    def from_original(self, state: Mapping[str, torch.Tensor]
                      ) -> dict[str, tuple[Any, torch.Tensor]]:
        """The body by name; each block's three TAM scalars stacked into ``conv1.pre.weight``
        (mapped from all three original names, or from none when one of them is missing)."""
        plain = {k: v for k, v in state.items() if not self.TAM_ORIGINAL.match(k)}
        out = super().from_original(plain)
        blocks: dict[str, dict[str, tuple[str, torch.Tensor]]] = {}
        for key, tensor in state.items():
            if match := self.TAM_ORIGINAL.match(key):
                blocks.setdefault(match.group(1), {})[match.group(2)] = (key, tensor)
        for block, taps in blocks.items():
            if set(taps) != set(self.TAM_ROWS) or len({t.shape for _, t in taps.values()}) > 1:
                continue  # incomplete or inconsistent: the audit reports the names unexpected
            names = tuple(taps[row][0] for row in self.TAM_ROWS)
            weight = torch.stack([taps[row][1].reshape(-1) for row in self.TAM_ROWS])
            out[f"body.{block}.conv1.pre.weight"] = (names, weight)
        return out

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

    Original checkpoints (:mod:`iodvideo.models.original`) load into ``legacy_layout`` and
    compute the original's function as they stand: ``me.conv1/bn1`` → ``me.squeeze``,
    ``me.conv2`` → ``me.transform``, ``me.conv3/bn3`` → ``me.expand``, the shift Conv1d
    kernels ``shifts.i.conv`` (C, 1, 3) → ``shifts.i`` (C, 3), same tap order.
    """

    scramble_outputs = True
    legacy_per_frame_neck = True

    # original checkpoints: the same Res2Net names under `backbone.`; ME's convs/BNs by number,
    # the shift convs as Conv1d (C, 1, 3) kernels under `.conv` (→ our (C, 3) taps)
    original_depths = {(3, 4, 6, 3): "res2net50_26w_4s", (3, 4, 23, 3): "res2net101_26w_4s"}
    original_renames = (
        (r"\.me\.conv1\.", ".me.squeeze.0."), (r"\.me\.bn1\.", ".me.squeeze.1."),
        (r"\.me\.conv2\.", ".me.transform."),
        (r"\.me\.conv3\.", ".me.expand.0."), (r"\.me\.bn3\.", ".me.expand.1."),
        (r"\.shifts\.(\d+)\.conv\.", r".shifts.\1."),
    )
    SHIFT_ORIGINAL = re.compile(r"\.shifts\.\d+\.conv\.weight$")

    @classmethod
    def original_matches(cls, shapes: Shapes) -> bool:
        return has_key(shapes, r"^backbone\.layer1\.0\.me\.conv1\.weight$") and has_key(
            shapes, r"^backbone\.layer1\.0\.shifts\.0\.conv\.weight$")

    def from_original(self, state: Mapping[str, torch.Tensor]
                      ) -> dict[str, tuple[Any, torch.Tensor]]:
        """By name, the shift kernels squeezed from Conv1d's ``(C, 1, 3)`` to ``(C, 3)`` (the
        same taps: ``out[t] = w0·x[t−1] + w1·x[t] + w2·x[t+1]``)."""
        out = super().from_original(state)
        for own, (key, tensor) in out.items():
            if self.SHIFT_ORIGINAL.search(key) and tensor.dim() == 3 and tensor.shape[1] == 1:
                out[own] = (key, tensor[:, 0])
        return out

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
