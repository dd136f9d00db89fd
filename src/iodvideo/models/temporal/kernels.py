"""Every hand-written autograd kernel of the temporal adapters, in one place.

Why they exist: autograd's backward of a channel or time slice allocates a zero tensor of the
whole input in the default (NCHW) layout and copies the slice's gradient into it; a ``cat``
along time is NCHW whatever its inputs. In a channels_last network that is, per temporal op, a
full-size allocation, a layout-converting copy and a mixed-layout gradient sum — enough to
erase most of what bf16 + channels_last buys. The kernels below compute their gradients
directly in the layout of the incoming gradient, so a backward pass costs what the forward
does (docs/backbones.md, "Speed").

Why here: keeping the ``torch.autograd.Function`` classes out of the adapter files lets those
read as plain PyTorch. Only the public wrappers call them — ``ops.channel_shift``,
``ops.time_difference``, ``ops.temporal_conv3``, ``interlace.interlace`` and
``motion_squeeze.local_correlation`` — each running its kernel or, under a trace, its
plain-tensor ``*_reference`` version, which is also the tests' oracle (values and gradients).

Clip ops take ``(N, T, C, ...)``: dim 1 is time, dim 2 channels. Outputs are allocated with
``preserve_format``, so a view of a channels_last frame batch stays one.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.autograd import Function

# -- TSM's channel shift -----------------------------------------------------------------


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


class ChannelShift(Function):
    """TSM's shift; its adjoint is the same shift the other way."""

    @staticmethod
    def forward(ctx: Any, clip: torch.Tensor, fold: int) -> torch.Tensor:
        ctx.fold = fold
        return _channel_shift(clip, fold, 1)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return _channel_shift(grad, ctx.fold, -1), None


# -- TDN's feature differences -----------------------------------------------------------


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


class TimeDifference(Function):
    """``out[:, t] = moved[:, t + step] − here[:, t]``, zero where ``t + step`` is outside."""

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


# -- kernel-3 temporal conv (TAM, TEA/TDN's learnable shift) -------------------------------


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


class TemporalConv3(Function):
    """``out[t] = prev·x[t−1] + here·x[t] + next·x[t+1]`` with broadcast taps, zeros outside."""

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


# -- TIN's interlace ---------------------------------------------------------------------


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


class Interlace(Function):
    """``out[:, t, :fold] = c_near·x[near] + c_far·x[far]`` per (clip, group), rest copied.

    Forward and backward as the reference's CUDA op: the source frames (integers) carry no
    gradient; the coefficients get ``Σ grad·x[source]``; the clip gets the transposed move
    (index-add), written straight into a copy of the incoming gradient, in its layout. Works on
    one row per (clip, frame, group) so every move is a whole-row copy and every product a row
    times a scalar.
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


# -- MSNet's local correlation -----------------------------------------------------------


def _band(pairs: torch.Tensor, size: int) -> torch.Tensor:
    """The 2r+1 diagonals ``x' = x + dx`` of row products ``(N, H, W, W+2r)`` (contiguous) as
    one strided ``(N, H, 2r+1, W)`` view: entry (x, x+dx) sits at x·(W+2r+1) + dx."""
    n, h, w, wide = pairs.shape
    return pairs.as_strided((n, h, size, w), (h * w * wide, w * wide, 1, wide + 1))


class LocalCorrelation(Function):
    """Forward and backward one displacement row dy at a time, as GEMMs.

    Autograd's own backward of the diagonals-and-stack forward zero-filled a full
    ``(N, H, W, W+2r)`` gradient for each of the (2r+1)² diagonals and summed them, and one
    padded-size zero tensor per row: ~100 ms of MSNet's 1.25 s CPU-scale step. Here each row's
    gradient band is written into one zeroed buffer through the strided view and multiplied
    back: ``grad_first += G·bandᵀ``, ``grad_padded[rows dy..] += firstᵀ·G``.
    """

    @staticmethod
    def forward(ctx: Any, first: torch.Tensor, second: torch.Tensor, radius: int):  # noqa: ANN205
        height, size = first.shape[-2], 2 * radius + 1
        padded = F.pad(second, (radius, radius, radius, radius))
        rows_first = first.permute(0, 2, 3, 1)  # (N, H, W, C)
        out = first.new_empty(first.shape[0], size, size, height, first.shape[-1])
        for dy in range(size):
            band = padded[:, :, dy : dy + height].permute(0, 2, 1, 3)  # (N, H, C, W+2r)
            pairs = torch.matmul(rows_first, band).contiguous()  # (N, H, W, W+2r)
            out[:, dy] = _band(pairs, size).permute(0, 2, 1, 3)  # (N, 2r+1, H, W)
        ctx.save_for_backward(first, second)
        ctx.radius = radius
        return out.flatten(1, 2)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor):  # noqa: ANN205
        first, second = ctx.saved_tensors
        radius = ctx.radius
        n, _, height, width = first.shape
        size = 2 * radius + 1
        grad = grad.reshape(n, size, size, height, width)
        padded = F.pad(second, (radius, radius, radius, radius))
        rows_first = first.permute(0, 2, 3, 1)  # (N, H, W, C)
        # gradients in the inputs' own layouts (channels_last stays channels_last)
        grad_rows = torch.zeros_like(rows_first)
        grad_padded = torch.zeros_like(padded)
        pairs_grad = first.new_empty(n, height, width, width + 2 * radius)
        for dy in range(size):
            pairs_grad.zero_()
            _band(pairs_grad, size).copy_(grad[:, dy].permute(0, 2, 1, 3))
            band = padded[:, :, dy : dy + height].permute(0, 2, 1, 3)  # (N, H, C, W+2r)
            grad_rows.add_(torch.matmul(pairs_grad, band.transpose(2, 3)))
            grad_band = torch.matmul(rows_first.transpose(2, 3), pairs_grad)  # (N, H, C, W+2r)
            grad_padded[:, :, dy : dy + height].add_(grad_band.permute(0, 2, 1, 3))
        grad_first = grad_rows.permute(0, 3, 1, 2)
        grad_second = grad_padded[:, :, radius : radius + height, radius : radius + width]
        return grad_first, grad_second, None
