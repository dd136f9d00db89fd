"""TIN: temporal interlace — learned fractional temporal shifts (protocol §5.5.3).

The reference needs a CUDA extension (``cuda_shift``) for the shift; this is a pure-PyTorch
equivalent with the same forward and gradient semantics, so TIN runs on CPU and any GPU (its
hand-written backward is ``kernels.Interlace``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from iodvideo.models.original_keys import Shapes
from iodvideo.models.registry import register_backbone
from iodvideo.models.temporal.base import PreOpConv2d, TemporalBackbone
from iodvideo.models.temporal.kernels import Interlace
from iodvideo.models.temporal.layout import split_time
from iodvideo.models.temporal.ops import tracing

OFFSET_BIAS_INIT = 0.5108  # 4 * (sigmoid(0.5108) - 0.5) ≈ 0.5: start half a frame from identity


def _time_index(source: torch.Tensor, head: torch.Tensor) -> torch.Tensor:
    """``source (N, T, G)`` broadcast to the head's shape ``(N, T, G, ...)``, for gather along
    time (a stride-0 view: no index tensor of the head's size is built)."""
    return source.view(*source.shape, *[1] * (head.dim() - 3)).expand(head.shape)


def _gather_time(head: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """``head[n, source[n, t, g], g]`` for a head ``(N, T, G, ...)`` and source ``(N, T, G)``."""
    return torch.gather(head, 1, _time_index(source, head))


def _per_group(coef: torch.Tensor, head: torch.Tensor) -> torch.Tensor:
    return coef.view(*coef.shape, *[1] * (head.dim() - 3))


def interlace(
    clip: torch.Tensor, shifts: torch.Tensor, weights: torch.Tensor | None = None,
    fold: int | None = None,
) -> torch.Tensor:
    """Shift channels ``[0, fold)`` of ``clip (N, T, C, ...)`` in time by real offsets.

    Those channels form G = ``shifts.shape[1]`` equal groups; group g of clip n is resampled at
    ``t − s[n, g]`` by linear interpolation, ``out[t] = (1−a)·x[t−⌊s⌋] + a·x[t−⌊s⌋−1]`` with
    ``a = s − ⌊s⌋``, zero outside [0, T), times ``weights[n, t, g]`` if given (TIN's weight
    net). Other channels pass unchanged. ``fold`` defaults to all channels.

    Gradient semantics are those of the CUDA op: the integer part moves values (its adjoint is
    the reverse move) and has zero gradient, so ``s`` learns only through the interpolation
    weights ``1 − a`` and ``a`` — the sampled values are constants with respect to the offset.
    Interpolation weights, range masks and ``weights`` are folded into two ``(N, T, G)``
    coefficients (ordinary autograd); the large tensor goes through ``kernels.Interlace``.
    """
    batch, time = clip.shape[:2]
    fold = clip.shape[2] if fold is None else fold
    if shifts.shape[0] != batch or fold % shifts.shape[1]:
        raise ValueError(f"{fold} channels do not split into {shifts.shape[1]} shift groups")
    whole = torch.floor(shifts.detach()).long()  # (N, G)
    frac = (shifts - whole.to(shifts.dtype)).unsqueeze(1)  # (N, 1, G)
    t = torch.arange(time, device=clip.device).view(1, time, 1)
    near = t - whole.unsqueeze(1)  # (N, T, G): source frame of weight 1 − a
    far = near - 1  # source frame of weight a

    def in_range(source: torch.Tensor) -> torch.Tensor:
        return ((source >= 0) & (source < time)).to(frac.dtype)

    near_coef, far_coef = (1 - frac) * in_range(near), frac * in_range(far)
    if weights is not None:
        near_coef, far_coef = near_coef * weights, far_coef * weights
    args = (clip, near_coef.to(clip.dtype), far_coef.to(clip.dtype))
    sources = (near.clamp(0, time - 1), far.clamp(0, time - 1))
    if tracing():
        return _interlace_reference(*args, *sources, fold)
    return Interlace.apply(*args, *sources, fold)


def _interlace_reference(clip, near_coef, far_coef, near, far, fold: int):  # noqa: ANN001, ANN202
    """``kernels.Interlace`` in plain tensor ops (traceable; the tests' oracle)."""
    groups = near.shape[2]
    head = clip[:, :, :fold].unflatten(2, (groups, fold // groups))
    moved = _per_group(near_coef, head) * _gather_time(head, near) + _per_group(
        far_coef, head
    ) * _gather_time(head, far)
    return torch.cat([moved.flatten(2, 3), clip[:, :, fold:]], dim=2)


def fractional_temporal_shift(clip: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """:func:`interlace` of a clip ``(N, T, G, ...)`` with one offset per group, all channels
    shifted, no weights — the op of protocol §5.5.3 on its own."""
    return interlace(clip, shifts)


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

    def offsets_and_weights(self, clip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``clip (N, T, C, H, W)`` → shifts ``(N, 4)``, weights ``(N, T, 4)`` from its head.

        Pools over all channels and keeps the head's: slicing the head first would make
        autograd build a full-size NCHW zero gradient for the slice. A sum, then the division
        on the pooled values: a mean's backward materialises a full-size contiguous gradient,
        a sum's is a broadcast view that adds into the channels_last one for free.
        """
        area = clip.shape[3] * clip.shape[4]
        pooled = (clip.sum(dim=(3, 4))[:, :, : self.fold] / area).transpose(1, 2)  # (N, fold, T)
        s = self.offset_fc(self.offset_conv(pooled).squeeze(1))
        s = 4 * (torch.sigmoid(s) - 0.5)  # (N, 2) in (−2, 2)
        shifts = torch.cat([s, -s], dim=1)
        weights = 2 * torch.sigmoid(self.weight_conv(pooled)).transpose(1, 2)  # (N, T, 2)
        return shifts, weights.repeat(1, 1, 2)  # groups 0, 2 use weight 0; 1, 3 weight 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        clip = split_time(x, self.time)
        shifts, weights = self.offsets_and_weights(clip)
        return interlace(clip, shifts, weights, fold=self.fold).reshape(x.shape)


@register_backbone("tin")
class TINBackbone(TemporalBackbone):
    """TIN (protocol §5.5.3): TemporalInterlace on conv1's input (residual branch) of every block.

    Input-only scramble under ``legacy_layout``, like TSM. The reference's per-forward CPU copy
    of offsets/weights (a debug buffer) is dropped (§11.15). ``legacy_pretrained`` leaves conv1
    of every block unloaded, as in the reference (§5.6).

    Original checkpoints (:mod:`iodvideo.models.original`) load by renaming alone: every
    TemporalDeform tensor has our shape (offset conv ``(1, fold, 3)``, offset fc ``(T, T)`` and
    ``(2, T)``, weight conv ``(2, fold, 3)``), and our interlace computes what the original's
    does in either mode (it has no train/eval-dependent part), so the only option needed is
    ``legacy_layout``. Nothing of the original TIN goes unused.
    """

    legacy_unloaded = r"^body\.layer\d\.\d+\.conv1\.weight$"
    # original checkpoints: the TSN wrapper's `base_model`; conv1 of every block is the
    # original's CombinNet: `net1` the TemporalDeform (offset net `biasnet.net.{conv, fc,
    # lastlayer}`, weight net `weightnet.net.lastlayer`), `net2` the conv itself
    original_prefix = "backbone.base_model."
    original_renames = (
        (r"\.conv1\.net1\.biasnet\.net\.conv\.", ".conv1.pre.offset_conv."),
        (r"\.conv1\.net1\.biasnet\.net\.fc\.", ".conv1.pre.offset_fc.0."),
        (r"\.conv1\.net1\.biasnet\.net\.lastlayer\.", ".conv1.pre.offset_fc.2."),
        (r"\.conv1\.net1\.weightnet\.net\.lastlayer\.", ".conv1.pre.weight_conv."),
        (r"\.conv1\.net2\.", ".conv1."),
    )

    @classmethod
    def original_matches(cls, shapes: Shapes) -> bool:
        return "backbone.base_model.layer1.0.conv1.net1.biasnet.net.conv.weight" in shapes

    def __init__(
        self, model_name: str = "resnet50", clip_len: int = 8, shift_div: int = 8, **kwargs: Any
    ) -> None:
        super().__init__(model_name, clip_len, **kwargs)
        for _, _, block in self.blocks():
            interlace = TemporalInterlace(block.conv1.in_channels, clip_len, shift_div)
            block.conv1 = PreOpConv2d.wrap(block.conv1, interlace)
        self.finish()
