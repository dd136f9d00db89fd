"""Time-axis ops shared by the adapters, each with a layout-keeping fast path and a reference.

TSM's channel shift, the kernel-3 temporal conv (TAM, TEA/TDN's learnable shift) and TDN's
feature differences. The fast path is a hand-written autograd kernel (``kernels.py``, which
says why autograd's own backward is too slow under channels_last); the ``*_reference`` version
is the same op in plain differentiable tensor ops. The reference is what a trace records
(TorchScript / ONNX export cannot serialise a Python autograd Function) and the oracle the
tests hold the fast version to, values and gradients.

All take a clip ``(N, T, C, ...)``: dim 1 is time, dim 2 channels. A clip that is a view of a
channels_last frame batch stays one.
"""

from __future__ import annotations

import torch

from iodvideo.models.temporal.kernels import ChannelShift, TemporalConv3, TimeDifference
from iodvideo.models.temporal.layout import shift_time


def tracing() -> bool:
    """True while ``torch.jit.trace`` (also under ``torch.onnx.export``) records the model."""
    return torch.jit.is_tracing()


def channel_shift(clip: torch.Tensor, fold: int) -> torch.Tensor:
    """TSM's shift: channels ``[0, fold)`` from frame t+1, ``[fold, 2·fold)`` from t−1, zeros
    at the clip ends, the rest unchanged."""
    if 2 * fold > clip.shape[2]:
        raise ValueError(f"shift fold {fold} too large for {clip.shape[2]} channels")
    if tracing():
        return channel_shift_reference(clip, fold)
    return ChannelShift.apply(clip, fold)


def channel_shift_reference(clip: torch.Tensor, fold: int) -> torch.Tensor:
    """:func:`channel_shift` in plain tensor ops (traceable)."""
    return torch.cat(
        [
            shift_time(clip[:, :, :fold], 1),
            shift_time(clip[:, :, fold : 2 * fold], -1),
            clip[:, :, 2 * fold :],
        ],
        dim=2,
    )


def time_difference(moved: torch.Tensor, here: torch.Tensor, step: int) -> torch.Tensor:
    """``out[:, t] = moved[:, t + step] − here[:, t]``, zero where ``t + step`` leaves the clip
    (``step = ±1``): TDN's forward / backward feature differences."""
    if step not in (1, -1):
        raise ValueError(f"time_difference step must be 1 or -1, got {step}")
    if tracing():
        return time_difference_reference(moved, here, step)
    return TimeDifference.apply(moved, here, step)


def time_difference_reference(moved: torch.Tensor, here: torch.Tensor, step: int) -> torch.Tensor:
    """:func:`time_difference` in plain tensor ops (traceable)."""
    zero = torch.zeros_like(here[:, :1])
    if step > 0:
        return torch.cat([moved[:, 1:] - here[:, :-1], zero], dim=1)
    return torch.cat([zero, moved[:, :-1] - here[:, 1:]], dim=1)


def temporal_conv3(
    clip: torch.Tensor, prev: torch.Tensor, here: torch.Tensor, next_: torch.Tensor
) -> torch.Tensor:
    """``out[:, t] = prev·clip[:, t−1] + here·clip[:, t] + next·clip[:, t+1]``, zeros outside.

    A kernel-3 temporal conv with taps broadcastable against ``clip`` (per-channel taps:
    ``(1, 1, C, 1, 1)``), differentiable in the clip and the taps. Used by TAM and by the
    learnable shift of TEA's MTA and TDN.
    """
    if tracing():
        return temporal_conv3_reference(clip, prev, here, next_)
    # Strided taps (a row of a transposed (C, 3) weight) would push every product onto the
    # unvectorised path under channels_last, where C is the innermost dimension: 3-7x slower.
    prev, here, next_ = prev.contiguous(), here.contiguous(), next_.contiguous()
    return TemporalConv3.apply(clip, prev, here, next_)


def temporal_conv3_reference(
    clip: torch.Tensor, prev: torch.Tensor, here: torch.Tensor, next_: torch.Tensor
) -> torch.Tensor:
    """:func:`temporal_conv3` in plain tensor ops (traceable)."""
    return prev * shift_time(clip, -1) + here * clip + next_ * shift_time(clip, 1)
