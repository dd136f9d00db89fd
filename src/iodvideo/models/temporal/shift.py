"""Temporal shift family: TSM's fixed channel shift and the learnable (MTA/TDN) shift conv."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from iodvideo.models.original_keys import Shapes
from iodvideo.models.registry import register_backbone
from iodvideo.models.temporal.base import PreOpConv2d, TemporalBackbone
from iodvideo.models.temporal.layout import split_time
from iodvideo.models.temporal.ops import channel_shift, temporal_conv3


def temporal_shift(frames: torch.Tensor, time: int, fold_div: int = 8) -> torch.Tensor:
    """TSM shift of a ``(N*T, C, H, W)`` frame batch (protocol §5.5.2).

    Channels ``[0, fold)`` take frame t+1's value, ``[fold, 2*fold)`` frame t−1's, the rest stay;
    zeros at the clip ends; ``fold = C // fold_div``. No parameters, no extra FLOPs.
    """
    clip = split_time(frames, time)
    return channel_shift(clip, clip.shape[2] // fold_div).reshape(frames.shape)


class TemporalShift(nn.Module):
    """:func:`temporal_shift` as a module, for :class:`PreOpConv2d`."""

    def __init__(self, time: int, fold_div: int = 8) -> None:
        super().__init__()
        self.time, self.fold_div = time, fold_div

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return temporal_shift(x, self.time, self.fold_div)

    def extra_repr(self) -> str:
        return f"time={self.time}, fold_div={self.fold_div}"


class LearnableTemporalShift(nn.Module):
    """Depthwise temporal conv, kernel 3, zero padding, no bias, initialised as a shift.

    TEA's MTA and TDN use it (protocol §5.5.5, §5.5.8): ``out[t] = w0*x[t-1] + w1*x[t] +
    w2*x[t+1]`` per channel. Init: the first ``fold`` channels take t+1 (right tap 1), the next
    ``fold`` take t−1 (left tap 1), the rest identity (centre tap 1); ``fold=0`` is TEA's
    "fixed" (identity) init.
    """

    def __init__(self, channels: int, time: int, fold: int = 0) -> None:
        super().__init__()
        if 2 * fold > channels:
            raise ValueError(f"shift fold {fold} too large for {channels} channels")
        self.time = time
        weight = torch.zeros(channels, 3)
        weight[:fold, 2] = 1.0
        weight[fold : 2 * fold, 0] = 1.0
        weight[2 * fold :, 1] = 1.0
        self.weight = nn.Parameter(weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        clip = split_time(x, self.time)
        taps = self.weight.to(x.dtype).t().reshape(3, 1, 1, -1, 1, 1)  # autocast: stay bf16
        return temporal_conv3(clip, taps[0], taps[1], taps[2]).reshape(x.shape)


@register_backbone("tsm")
class TSMBackbone(TemporalBackbone):
    """TSM (protocol §5.5.2): residual shift before conv1 and before conv2 of every block.

    "blockres" + "two_path": the shift sits on the residual branch only, twice per block
    (for resnet18/34's BasicBlock the two 3×3 convs). Outputs are not output-scrambled in the
    reference (its batch-major reshape is consistent), so ``legacy_layout`` only scrambles the
    input. ``legacy_pretrained`` leaves conv1/conv2 of every block unloaded, as the reference's
    renamed wrappers did (§5.6).
    """

    online_streamable = True

    legacy_unloaded = r"^body\.layer\d\.\d+\.conv[12]\.weight$"
    # original checkpoints: the TSN wrapper's `base_model`, shifted convs renamed `.net`
    original_prefix = "backbone.base_model."
    original_renames = ((r"\.conv([12])\.net\.", r".conv\1."),)

    @classmethod
    def original_matches(cls, shapes: Shapes) -> bool:
        return "backbone.base_model.layer1.0.conv1.net.weight" in shapes

    def __init__(self, model_name: str = "resnet50", clip_len: int = 8, **kwargs: Any) -> None:
        super().__init__(model_name, clip_len, **kwargs)
        for _, _, block in self.blocks():
            block.conv1 = PreOpConv2d.wrap(block.conv1, TemporalShift(clip_len))
            block.conv2 = PreOpConv2d.wrap(block.conv2, TemporalShift(clip_len))
        self.finish()
