"""TIN: temporal interlace — learned fractional temporal shifts (notes §5.5.3).

The reference needs a CUDA extension (``cuda_shift``) for the shift; this is a pure-PyTorch
equivalent with the same forward and gradient semantics, so TIN runs on CPU and any GPU.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from iodvideo.models.registry import register_backbone
from iodvideo.models.temporal.base import PreOpConv2d, TemporalBackbone
from iodvideo.models.temporal.layout import split_time

OFFSET_BIAS_INIT = 0.5108  # 4 * (sigmoid(0.5108) - 0.5) ≈ 0.5: start half a frame from identity


def fractional_temporal_shift(clip: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Resample each (clip, group) in time at ``t − s`` by linear interpolation.

    ``clip``: ``(N, T, G, ...)``; ``shifts``: ``(N, G)`` real offsets s (positive pulls from the
    past). ``out[t] = (1−a)·x[t−⌊s⌋] + a·x[t−⌊s⌋−1]``, ``a = s − ⌊s⌋``, zero outside [0, T).

    Gradient semantics are those of the CUDA op: the integer part moves values (its adjoint is
    the reverse move, via gather/index backward) and has zero gradient, so ``s`` learns only
    through the interpolation weights ``a`` and ``1 − a`` — the sampled values are constants
    with respect to the offset.
    """
    batch, time, groups = clip.shape[:3]
    whole = torch.floor(shifts.detach()).long()  # (N, G)
    frac = (shifts - whole.to(shifts.dtype)).view(batch, 1, groups, *[1] * (clip.dim() - 3))
    t = torch.arange(time, device=clip.device).view(1, time, 1)
    n_index = torch.arange(batch, device=clip.device).view(batch, 1, 1)
    g_index = torch.arange(groups, device=clip.device).view(1, 1, groups)

    def sample(source: torch.Tensor) -> torch.Tensor:  # source: (N, T, G) integer times
        valid = (source >= 0) & (source < time)
        values = clip[n_index, source.clamp(0, time - 1), g_index]
        return values * valid.view(*valid.shape, *[1] * (clip.dim() - 3)).to(clip.dtype)

    near = t - whole.unsqueeze(1)
    return (1 - frac) * sample(near) + frac * sample(near - 1)


class TemporalInterlace(nn.Module):
    """TIN's TemporalDeform on the first ``fold`` channels of a ``(N*T, C, H, W)`` batch.

    Offset net → two offsets per clip (s0, s1), used as (s0, s1, −s0, −s1) by four channel
    groups; weight net → a weight in (0, 2) per (frame, group parity). The other channels pass
    unchanged. ``fold = C // shift_div`` rounded down to a multiple of 4 (four groups).
    """

    def __init__(self, channels: int, time: int, shift_div: int = 8) -> None:
        super().__init__()
        self.time = time
        self.fold = (channels // shift_div) // 4 * 4
        if self.fold == 0:
            raise ValueError(f"TIN needs >= {4 * shift_div} channels, got {channels}")
        self.offset_conv = nn.Conv1d(self.fold, 1, 3, padding=1)
        self.offset_fc = nn.Sequential(nn.Linear(time, time), nn.ReLU(), nn.Linear(time, 2))
        nn.init.constant_(self.offset_fc[-1].bias, OFFSET_BIAS_INIT)
        self.weight_conv = nn.Conv1d(self.fold, 2, 3, padding=1)
        nn.init.zeros_(self.weight_conv.bias)

    def offsets_and_weights(self, head: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``head (N, T, fold, H, W)`` → shifts ``(N, 4)``, weights ``(N, T, 4)``."""
        pooled = head.mean(dim=(3, 4)).transpose(1, 2)  # (N, fold, T)
        s = self.offset_fc(self.offset_conv(pooled).squeeze(1))
        s = 4 * (torch.sigmoid(s) - 0.5)  # (N, 2) in (−2, 2)
        shifts = torch.cat([s, -s], dim=1)
        weights = 2 * torch.sigmoid(self.weight_conv(pooled)).transpose(1, 2)  # (N, T, 2)
        return shifts, weights.repeat(1, 1, 2)  # groups 0, 2 use weight 0; 1, 3 weight 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        clip = split_time(x, self.time)
        batch, time, _, height, width = clip.shape
        head = clip[:, :, : self.fold]
        shifts, weights = self.offsets_and_weights(head)
        groups = head.reshape(batch, time, 4, self.fold // 4, height, width)
        moved = fractional_temporal_shift(groups, shifts) * weights.view(batch, time, 4, 1, 1, 1)
        out = torch.cat([moved.reshape(head.shape), clip[:, :, self.fold :]], dim=2)
        return out.reshape(x.shape)


@register_backbone("tin")
class TINBackbone(TemporalBackbone):
    """TIN (notes §5.5.3): TemporalInterlace on conv1's input (residual branch) of every block.

    Input-only scramble under ``legacy_layout``, like TSM. The reference's per-forward CPU copy
    of offsets/weights (a debug buffer) is dropped (§11.15). ``legacy_pretrained`` leaves conv1
    of every block unloaded, as in the reference (§5.6).
    """

    legacy_unloaded = r"^body\.layer\d\.\d+\.conv1\.weight$"

    def __init__(
        self, model_name: str = "resnet50", clip_len: int = 8, shift_div: int = 8, **kwargs: Any
    ) -> None:
        super().__init__(model_name, clip_len, **kwargs)
        for _, _, block in self.blocks():
            interlace = TemporalInterlace(block.conv1.in_channels, clip_len, shift_div)
            block.conv1 = PreOpConv2d.wrap(block.conv1, interlace)
        self.finish()
