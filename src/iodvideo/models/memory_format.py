"""Channels-last conversion that works for 2D and 3D (I3D/S3D) models alike.

``module.to(memory_format=torch.channels_last)`` refuses any rank-5 tensor, so it cannot
convert a model with Conv3d weights; this converts each rank-4 tensor to channels_last and
each rank-5 one to channels_last_3d, which is what the fast (oneDNN / cuDNN NHWC) kernels want.
"""

from __future__ import annotations

import torch
from torch import nn

_FORMATS = {4: torch.channels_last, 5: torch.channels_last_3d}


def channels_last_format(tensor: torch.Tensor) -> torch.memory_format:
    """The channels-last format for the tensor's rank (contiguous for other ranks)."""
    return _FORMATS.get(tensor.dim(), torch.contiguous_format)


def is_channels_last(tensor: torch.Tensor) -> bool:
    """True for a channels-last tensor that is not also plain contiguous (C = 1 or 1×1 maps
    are both, and say nothing about the network's layout)."""
    layout = channels_last_format(tensor)
    return not tensor.is_contiguous() and tensor.is_contiguous(memory_format=layout)


def like_layout(tensor: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``tensor`` in ``reference``'s layout (a no-op unless ``reference`` is channels-last and
    ``tensor`` is not): maps built by a cat along time or channels come out NCHW and would put
    every layer after them on the slow mixed-layout path."""
    if not is_channels_last(reference):
        return tensor
    return tensor.contiguous(memory_format=channels_last_format(reference))


@torch.no_grad()
def to_channels_last(module: nn.Module) -> nn.Module:
    """Convert every rank-4/5 parameter and buffer in place; returns ``module``.

    Call before the optimizer is built (parameters keep their identity, only ``.data`` moves).
    """
    for tensor in list(module.parameters()) + list(module.buffers()):
        if tensor.dim() in _FORMATS:
            tensor.data = tensor.data.contiguous(memory_format=channels_last_format(tensor))
    return module
