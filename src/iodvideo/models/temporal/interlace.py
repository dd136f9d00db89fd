"""TIN: temporal interlace — learned fractional temporal shifts (protocol §5.5.3).

The reference needs a CUDA extension (``cuda_shift``) for the shift; this is a pure-PyTorch
equivalent with the same forward and gradient semantics, so TIN runs on CPU and any GPU.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.autograd import Function

from iodvideo.models.registry import register_backbone
from iodvideo.models.temporal.base import PreOpConv2d, TemporalBackbone
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


def _channels_innermost(part: torch.Tensor) -> bool:
    """True for a channels_last clip ``(N, T, C, H, W)``: channels are its fastest axis."""
    return part.dim() == 5 and part.stride(2) == 1 and part.stride(-1) > 1


def _group_view(part: torch.Tensor, groups: int, channels_inner: bool) -> torch.Tensor:
    """``part (N, T, fold, ...)`` as ``(N, T, G, fold/G, ...)``, or ``(N, T, G, H, W, fold/G)``
    with ``channels_inner`` — the order of one group's values in a channels_last clip."""
    head = part.unflatten(2, (groups, part.shape[2] // groups))
    return head.movedim(3, -1) if channels_inner else head


def _group_rows(part: torch.Tensor, groups: int, channels_inner: bool) -> torch.Tensor:
    """``part (N, T, fold, ...)`` → ``(N·T·G, fold/G · ...)``: one row per (clip, frame, group).

    NCHW: a view. channels_last: one compact copy with the group's channels innermost — in
    place, a group is a run of only fold/G contiguous values per pixel, too short for fast
    gathers and per-group products (a gather over those runs measured ~9× slower in bf16
    channels_last than in NCHW). Every caller of one op passes the clip's ``channels_inner``,
    so rows of the clip and of its gradient line up whatever the gradient's layout.
    """
    return _group_view(part, groups, channels_inner).flatten(3).flatten(0, 2)


def _write_rows(dst: torch.Tensor, rows: torch.Tensor, groups: int, channels_inner: bool) -> None:
    """The inverse of :func:`_group_rows`: copy rows into ``dst (N, T, fold, ...)``."""
    head = _group_view(dst, groups, channels_inner)
    head.copy_(rows.view(head.shape))


def _row_index(source: torch.Tensor) -> torch.Tensor:
    """Source frames ``(N, T, G)`` → the rows of :func:`_group_rows` they name, flat."""
    batch, time, groups = source.shape
    clip = torch.arange(batch, device=source.device).view(batch, 1, 1)
    group = torch.arange(groups, device=source.device).view(1, 1, groups)
    return ((clip * time + source) * groups + group).flatten()


class _Interlace(Function):
    """``out[:, t, :fold] = c_near·x[near] + c_far·x[far]`` per (clip, group), rest copied.

    Forward and backward as the CUDA op: the source frames (integers) carry no gradient; the
    coefficients get ``Σ grad·x[source]``; the clip gets the transposed move (index-add), written
    straight into a copy of the incoming gradient, in its layout. Works on one row per (clip,
    frame, group) so every move is a whole-row copy and every product a row times a scalar.
    """

    @staticmethod
    def forward(ctx: Any, clip, near_coef, far_coef, near, far, fold: int):  # noqa: ANN001
        groups = near.shape[2]
        channels_inner = _channels_innermost(clip)
        rows = _group_rows(clip[:, :, :fold], groups, channels_inner)
        near_rows, far_rows = _row_index(near), _row_index(far)
        moved = rows.index_select(0, near_rows).mul_(near_coef.reshape(-1, 1))
        moved.addcmul_(far_coef.reshape(-1, 1), rows.index_select(0, far_rows))
        out = clip.clone()
        _write_rows(out[:, :, :fold], moved, groups, channels_inner)
        ctx.save_for_backward(rows, near_coef, far_coef, near_rows, far_rows)
        ctx.fold, ctx.groups, ctx.channels_inner = fold, groups, channels_inner
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor):  # noqa: ANN205
        rows, near_coef, far_coef, near_rows, far_rows = ctx.saved_tensors
        fold, groups, channels_inner = ctx.fold, ctx.groups, ctx.channels_inner
        grad_rows = _group_rows(grad[:, :, :fold], groups, channels_inner)
        grad_clip = grad_near = grad_far = None
        if ctx.needs_input_grad[0]:
            moved_back = torch.zeros_like(grad_rows)
            for coef, source in ((near_coef, near_rows), (far_coef, far_rows)):  # the adjoint
                moved_back.index_add_(0, source, grad_rows * coef.reshape(-1, 1))
            grad_clip = grad.clone()
            _write_rows(grad_clip[:, :, :fold], moved_back, groups, channels_inner)
        if ctx.needs_input_grad[1]:
            grad_near = (grad_rows * rows.index_select(0, near_rows)).sum(1).view_as(near_coef)
        if ctx.needs_input_grad[2]:
            grad_far = (grad_rows * rows.index_select(0, far_rows)).sum(1).view_as(far_coef)
        return grad_clip, grad_near, grad_far, None, None, None


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
    coefficients (ordinary autograd); the large tensor goes through :class:`_Interlace`.
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
    return _Interlace.apply(*args, *sources, fold)


def _interlace_reference(clip, near_coef, far_coef, near, far, fold: int):  # noqa: ANN001, ANN202
    """:class:`_Interlace` in plain tensor ops (traceable; the tests' oracle)."""
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
