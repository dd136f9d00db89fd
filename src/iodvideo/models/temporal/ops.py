"""Time-axis ops with hand-written backward passes that keep the activation's memory layout.

Why not plain autograd: the backward of a channel or time slice allocates a zero tensor of the
whole input in the default (NCHW) layout and copies the slice's gradient into it. In a
channels_last network that is, per temporal op, a full-size allocation, a layout-converting
copy and a mixed-layout gradient sum — enough to erase most of what bf16 + channels_last buys
for TSM, TAM and TEA/TDN's shift convs. The ops below compute their gradients directly in the
layout of the incoming gradient, so a backward pass costs what the forward does. The same goes
for a ``cat`` along time (TDN's feature differences): its result is NCHW whatever its inputs.

All take a clip ``(N, T, C, ...)``: dim 1 is time, dim 2 channels. A clip that is a view of a
channels_last frame batch stays one (outputs are allocated with ``preserve_format``).

Each op also has a ``*_reference`` version in plain differentiable tensor ops. It is what a
trace records (TorchScript / ONNX export cannot serialise a Python autograd Function) and the
oracle the tests hold the fast version to, values and gradients.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.autograd import Function

from iodvideo.models.temporal.layout import shift_time


def tracing() -> bool:
    """True while ``torch.jit.trace`` (also under ``torch.onnx.export``) records the model."""
    return torch.jit.is_tracing()


def _copy_shifted(dst: torch.Tensor, src: torch.Tensor, step: int) -> None:
    """``dst[:, t] = src[:, t + step]`` for ``step = ±1``, zeros where ``t + step`` is outside."""
    if step > 0:
        dst[:, :-1].copy_(src[:, 1:])
        dst[:, -1].zero_()
    else:
        dst[:, 1:].copy_(src[:, :-1])
        dst[:, 0].zero_()


def _channel_shift(clip: torch.Tensor, fold: int, step: int) -> torch.Tensor:
    """Channels ``[0, fold)`` take frame ``t + step``, ``[fold, 2·fold)`` frame ``t − step``."""
    out = torch.empty_like(clip)
    out[:, :, 2 * fold :] = clip[:, :, 2 * fold :]
    _copy_shifted(out[:, :, :fold], clip[:, :, :fold], step)
    _copy_shifted(out[:, :, fold : 2 * fold], clip[:, :, fold : 2 * fold], -step)
    return out


class _ChannelShift(Function):
    @staticmethod
    def forward(ctx: Any, clip: torch.Tensor, fold: int) -> torch.Tensor:
        ctx.fold = fold
        return _channel_shift(clip, fold, 1)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return _channel_shift(grad, ctx.fold, -1), None  # the adjoint moves the other way


def channel_shift(clip: torch.Tensor, fold: int) -> torch.Tensor:
    """TSM's shift: channels ``[0, fold)`` from frame t+1, ``[fold, 2·fold)`` from t−1, zeros
    at the clip ends, the rest unchanged."""
    if 2 * fold > clip.shape[2]:
        raise ValueError(f"shift fold {fold} too large for {clip.shape[2]} channels")
    if tracing():
        return channel_shift_reference(clip, fold)
    return _ChannelShift.apply(clip, fold)


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


def _difference_frames(step: int) -> tuple[slice, slice, int]:
    """For ``step = ±1``: the frames t that get a difference, the frames t + step they read,
    and the one frame that gets none."""
    if step > 0:
        return slice(None, -1), slice(1, None), -1
    return slice(1, None), slice(None, -1), 0


def _time_difference(moved: torch.Tensor, here: torch.Tensor, step: int) -> torch.Tensor:
    valid, source, outside = _difference_frames(step)
    out = torch.empty_like(here)
    torch.sub(moved[:, source], here[:, valid], out=out[:, valid])
    out[:, outside].zero_()
    return out


class _TimeDifference(Function):
    @staticmethod
    def forward(ctx: Any, moved: torch.Tensor, here: torch.Tensor, step: int) -> torch.Tensor:
        ctx.step = step
        return _time_difference(moved, here, step)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:
        step = ctx.step
        grad_moved = torch.empty_like(grad)
        _copy_shifted(grad_moved, grad, -step)  # moved[t + step] fed out[t]
        grad_here = torch.empty_like(grad)  # −grad where a difference was taken, else zero
        valid, _, outside = _difference_frames(step)
        torch.neg(grad[:, valid], out=grad_here[:, valid])
        grad_here[:, outside].zero_()
        return grad_moved, grad_here, None


def time_difference(moved: torch.Tensor, here: torch.Tensor, step: int) -> torch.Tensor:
    """``out[:, t] = moved[:, t + step] − here[:, t]``, zero where ``t + step`` leaves the clip
    (``step = ±1``): TDN's forward / backward feature differences."""
    if step not in (1, -1):
        raise ValueError(f"time_difference step must be 1 or -1, got {step}")
    if tracing():
        return time_difference_reference(moved, here, step)
    return _TimeDifference.apply(moved, here, step)


def time_difference_reference(moved: torch.Tensor, here: torch.Tensor, step: int) -> torch.Tensor:
    """:func:`time_difference` in plain tensor ops (traceable)."""
    zero = torch.zeros_like(here[:, :1])
    if step > 0:
        return torch.cat([moved[:, 1:] - here[:, :-1], zero], dim=1)
    return torch.cat([zero, moved[:, :-1] - here[:, 1:]], dim=1)


def _conv3(clip: torch.Tensor, prev: torch.Tensor, here: torch.Tensor, nxt: torch.Tensor):
    out = clip * here
    if clip.shape[1] > 1:
        out[:, 1:].addcmul_(clip[:, :-1], prev)
        out[:, :-1].addcmul_(clip[:, 1:], nxt)
    return out


def _sum_to(tensor: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Sum a product back to a (broadcast) tap's shape."""
    dims = [d for d, size in enumerate(shape) if size == 1 and tensor.shape[d] != 1]
    return tensor.sum(dim=dims, keepdim=True) if dims else tensor


class _TemporalConv3(Function):
    @staticmethod
    def forward(ctx: Any, clip, prev, here, nxt) -> torch.Tensor:  # noqa: ANN001
        ctx.save_for_backward(clip, prev, here, nxt)
        return _conv3(clip, prev, here, nxt)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor):  # noqa: ANN205
        clip, prev, here, nxt = ctx.saved_tensors
        need_clip, need_prev, need_here, need_next = ctx.needs_input_grad
        # out[t] = p·x[t−1] + h·x[t] + n·x[t+1]  ⇒  dx[s] = n·g[s−1] + h·g[s] + p·g[s+1]
        grad_clip = _conv3(grad, nxt, here, prev) if need_clip else None
        grad_prev = grad_here = grad_next = None
        if need_prev:
            grad_prev = _sum_to(grad[:, 1:] * clip[:, :-1], prev.shape)
        if need_here:
            grad_here = _sum_to(grad * clip, here.shape)
        if need_next:
            grad_next = _sum_to(grad[:, :-1] * clip[:, 1:], nxt.shape)
        return grad_clip, grad_prev, grad_here, grad_next


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
    return _TemporalConv3.apply(clip, prev, here, next_)


def temporal_conv3_reference(
    clip: torch.Tensor, prev: torch.Tensor, here: torch.Tensor, next_: torch.Tensor
) -> torch.Tensor:
    """:func:`temporal_conv3` in plain tensor ops (traceable)."""
    return prev * shift_time(clip, -1) + here * clip + next_ * shift_time(clip, 1)
