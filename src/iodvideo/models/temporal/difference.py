"""TDN: temporal difference network (protocol §5.5.8).

Short-term: a difference stem sees the 4 frame differences of a 5-frame window around each clip
frame and is fused into the RGB stem and layer1. Long-term: mSE (multi-scale motion excitation)
and a learnable temporal shift before conv2 of every block of layers 2–4.

Input window: TDN needs two extra frames on each side of the K-frame clip. The backbone
therefore takes ``(B, K + 4, 3, H, W)`` and returns K per-frame maps (frames 2 … K+1 of the
window); ``context_frames`` (= 2, per side) tells the data layer how many extra frames to load
(the reference clamps to the video's ends, protocol §2.1).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from iodvideo.errors import ConfigError
from iodvideo.models.original_keys import Shapes
from iodvideo.models.registry import register_backbone
from iodvideo.models.temporal.base import PreOpConv2d, TemporalBackbone, he_normal_init
from iodvideo.models.temporal.layout import frames_from_clip, split_time
from iodvideo.models.temporal.ops import time_difference
from iodvideo.models.temporal.shift import LearnableTemporalShift
from iodvideo.models.weights import LoadAudit

WINDOW = 5  # frames per short-term window (the clip frame ± 2)


def upsample_to(source: torch.Tensor, size: torch.Size) -> torch.Tensor:
    """Nearest-neighbour resize in the source's dtype. Autocast would run it in fp32 and turn
    everything it is added to (the whole fused layer1 input) into fp32; nearest is exact."""
    with torch.autocast(source.device.type, enabled=False):
        return F.interpolate(source, size=size, mode="nearest")


def add_conv_biases(module: nn.Module) -> None:
    """Give every bias-less Conv2d in ``module`` a bias, initialised as PyTorch does
    (U(±1/sqrt(fan_in))) — fbresnet's convs all have one (§5.5.8)."""
    for conv in module.modules():
        if isinstance(conv, nn.Conv2d) and conv.bias is None:
            fan_in = conv.weight[0].numel()
            bound = 1 / math.sqrt(fan_in) if fan_in else 0.0
            bias = torch.empty(conv.out_channels, dtype=conv.weight.dtype)
            conv.bias = nn.Parameter(nn.init.uniform_(bias, -bound, bound))


def _conv_bn(channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)
    )


class MotionSE(nn.Module):
    """mSE: spatial attention from forward and backward feature differences, multi-scale.

    Squeeze C → C/r (1×1 + BN); forward diff ``dw3x3(f[t+1]) − f[t]`` (zero at the end) and
    backward diff ``dw3x3(f[t−1]) − f[t]`` (zero at the start); each gives
    ``y = (d + up(BN(conv(avgpool2(d)))) + BN(conv(d))) / 3`` → 1×1 to C + BN → ``sigmoid − 0.5``;
    the attention ``(y_fwd + y_bwd)/2`` is full resolution; output ``x·(1 + y)``. The multi-scale
    convs are shared by both directions.
    """

    def __init__(self, channels: int, time: int, reduction: int = 16) -> None:
        super().__init__()
        self.time = time
        mid = max(1, channels // reduction)
        self.squeeze = nn.Sequential(nn.Conv2d(channels, mid, 1, bias=False), nn.BatchNorm2d(mid))
        self.transform = nn.Conv2d(mid, mid, 3, padding=1, groups=mid, bias=False)
        self.coarse = _conv_bn(mid)
        self.fine = _conv_bn(mid)
        self.expand = nn.Sequential(
            nn.Conv2d(mid, channels, 1, bias=False), nn.BatchNorm2d(channels)
        )

    def attention(self, diff: torch.Tensor) -> torch.Tensor:
        size = diff.shape[-2:]
        pooled = F.avg_pool2d(diff, 2) if min(size) >= 2 else diff  # tiny maps: no pooling
        coarse = upsample_to(self.coarse(pooled), size)
        mixed = (diff + coarse + self.fine(diff)) / 3
        return torch.sigmoid(self.expand(mixed)) - 0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.squeeze(x)
        here, moved = split_time(f, self.time), split_time(self.transform(f), self.time)
        forward_diff = time_difference(moved, here, 1).reshape(f.shape)
        backward_diff = time_difference(moved, here, -1).reshape(f.shape)
        attention = 0.5 * self.attention(forward_diff) + 0.5 * self.attention(backward_diff)
        return x * (1 + attention)


@register_backbone("tdn")
class TDNBackbone(TemporalBackbone):
    """TDN ResNet: ``(B, K+4, 3, H, W)`` → K per-frame stage maps (see the module docstring).

    Under ``legacy_layout`` the fused layer1 maps are scrambled before layer2 and every level
    is output-reshaped (§5.4): level 1's stage map is that scrambled stack, so its output is
    back in frame order — but, as in the reference, the detector runs the neck's
    L2Norm/upsampling on the stage maps before the output reshape
    (``legacy_neck_before_reshape``: level 1's L2Norm sees the scrambled channel grouping) and,
    in training, the neck's fusion once per frame (``legacy_per_frame_neck``).

    Loading a checkpoint fills ``diff_layer1`` from ``layer1`` and the difference stem from the
    RGB stem's mean over colours (the reference meant to, then re-initialised everything —
    §5.5.8's bug, not reproduced).

    ``conv_bias`` (default off): every conv of the ResNet body and of ``diff_layer1`` gets a
    bias, as in the reference's fbresnet (stem, block and downsample convs; not the difference
    stem's or the mSE's convs, which have none there either). Off, the body is timm's bias-free
    ResNet; on, timm/torchvision ImageNet checkpoints leave those biases at PyTorch's default
    init (they hold none). The authors' original checkpoints switch it on (``original_options``).

    Original checkpoints (:mod:`iodvideo.models.original`): the reference's ``TDNresnet`` keeps
    the main path as ``layer{1..4}_bak``, the difference path's layer1 as ``resnext_layer1``,
    the difference stem as ``conv1_5`` (conv, BN), each block's ``mse``/``shift`` beside its
    convs (the shift as a depthwise Conv1d, weight ``(C, 1, 3)``; ours ``(C, 3)``).
    """

    scramble_outputs = True
    legacy_neck_before_reshape = True
    legacy_per_frame_neck = True
    context_frames = (WINDOW - 1) // 2

    original_stage_name = "layer{}_bak"
    original_options = {"legacy_layout": True, "conv_bias": True}
    original_renames = (
        (r"^layer(\d)_bak\.", r"layer\1."),
        (r"^resnext_layer1\.", "diff_layer1."),
        (r"^conv1_5\.0\.", "diff_stem.1."),  # diff_stem.0 is the (parameter-free) avg pool
        (r"^conv1_5\.1\.", "diff_stem.2."),
        *((rf"\.mse\.{theirs}\.", f".conv2.pre.0.{ours}.") for theirs, ours in (
            ("conv1", "squeeze.0"), ("bn1", "squeeze.1"), ("conv2", "transform"),
            ("conv3", "expand.0"), ("bn3", "expand.1"),
            ("conv3_smallscale2", "coarse.0"), ("bn3_smallscale2", "coarse.1"),
            ("conv3_smallscale4", "fine.0"), ("bn3_smallscale4", "fine.1"))),
        (r"\.shift\.conv\.weight$", ".conv2.pre.1.weight"),
    )
    original_unused = {
        r"^fc\.": "the ImageNet classifier, never called by the detector",
        r"^conv1_temp\.": "the second fbresnet's stem conv: read once at construction (its "
        "colour mean initialises conv1_5), never in the forward",
    }

    @classmethod
    def original_matches(cls, shapes: Shapes) -> bool:
        return "backbone.conv1_5.0.weight" in shapes

    def from_original(self, state: Mapping[str, torch.Tensor]
                      ) -> dict[str, tuple[str, torch.Tensor]]:
        """The default renames, and the shift's Conv1d weight ``(C, 1, 3)`` → ours ``(C, 3)``."""
        out = super().from_original(state)
        for own, (key, tensor) in out.items():
            if key.endswith(".shift.conv.weight") and tensor.dim() == 3:
                out[own] = (key, tensor.reshape(tensor.shape[0], -1))
        return out

    def __init__(
        self,
        model_name: str = "resnet50",
        clip_len: int = 8,
        conv_bias: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(model_name, clip_len, **kwargs)
        self.conv_bias = conv_bias
        if conv_bias:  # before diff_layer1 copies layer1 and mSE/shift wrap conv2
            add_conv_biases(self.body)
        width = self.body.conv1.out_channels
        self.diff_stem = nn.Sequential(
            nn.AvgPool2d(2),
            nn.Conv2d(3 * (WINDOW - 1), width, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        self.diff_layer1 = copy.deepcopy(self.body.layer1)
        he_normal_init(self.diff_stem)
        for stage in range(2, 5):
            for block in self.stage(stage):
                channels = block.conv2.in_channels
                temporal = nn.Sequential(
                    MotionSE(channels, clip_len),
                    LearnableTemporalShift(channels, clip_len, fold=channels // 8),
                )
                he_normal_init(temporal)
                block.conv2 = PreOpConv2d.wrap(block.conv2, temporal)
        if self.legacy_pretrained and self._weights is not None:
            raise ConfigError(
                "tdn: legacy_pretrained reproduces the reference, which re-initialises TDN "
                "after loading (protocol §5.5.8) — i.e. no ImageNet weights; set "
                "backbone.pretrained=false and drop backbone.weights_path"
            )
        self.finish()

    def checkpoint_key(self, own_key: str) -> str | None:
        if own_key.startswith("diff_layer1."):
            return "layer1." + own_key.removeprefix("diff_layer1.")
        return super().checkpoint_key(own_key)

    @torch.no_grad()
    def after_load(self, audit: LoadAudit) -> None:
        stem = self.body.conv1.weight
        if self.diff_stem[1].weight.shape[-2:] == stem.shape[-2:]:
            self.diff_stem[1].weight.copy_(
                stem.mean(1, keepdim=True).expand_as(self.diff_stem[1].weight)
            )
            audit.derived.append("diff_stem.1.weight")

    def motion_stem(self, video: torch.Tensor) -> torch.Tensor:
        """``diff_stem`` applied to each clip frame's 4 stacked frame differences (12 channels:
        difference j = frame t−1+j minus frame t−2+j, colours inner), ``(B*K, C, h, w)``.

        The stem's 2×2 average pool is linear, so it commutes with the differences: pooling the
        K+4 frames first does a third of the work on a quarter of the pixels.
        """
        batch, clip_len = video.shape[0], self.clip_len
        pool, diff_convs = self.diff_stem[0], self.diff_stem[1:]
        frames = pool(video.reshape(-1, *video.shape[2:]))
        frames = frames.view(batch, -1, *frames.shape[1:])
        diffs = (frames[:, 1:] - frames[:, :-1]).unfold(1, WINDOW - 1, 1)  # (B, K, 3, h, w, 4)
        diffs = diffs.permute(0, 1, 5, 2, 3, 4).reshape(batch * clip_len, -1, *frames.shape[-2:])
        return diff_convs(diffs)

    def stage_maps(self, video: torch.Tensor) -> tuple[list[torch.Tensor], list[int]]:
        self.check_clip(video)
        batch, clip_len = video.shape[0], self.clip_len
        centre = video[:, self.context_frames : self.context_frames + clip_len]
        motion = self.motion_stem(video)
        x = self.stem(centre.reshape(batch * clip_len, *video.shape[2:]))
        x = 0.5 * x + 0.5 * upsample_to(motion, x.shape[-2:])
        x = self.body.layer1(x)
        motion = self.diff_layer1(motion)
        x = 0.5 * x + 0.5 * upsample_to(motion, x.shape[-2:])
        if self.legacy_layout:  # the reference's stacked layer1 output, reshaped (§5.4)
            x = frames_from_clip(split_time(x, clip_len), legacy=True)
        maps = [x]
        for stage in range(2, 5):
            x = self.stage(stage)(x)
            maps.append(x)
        return maps, [clip_len] * 4
