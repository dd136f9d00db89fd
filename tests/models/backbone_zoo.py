"""Tiny versions of every registered backbone, shared by the backbone tests.

One block per stage and narrow widths keep a forward+backward in tens of milliseconds on CPU
while exercising every adapter at every stage.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn

import iodvideo.models.temporal  # noqa: F401  (registers every backbone)
from iodvideo.models.detector import ClipDetector
from iodvideo.models.heads import ClipHeads
from iodvideo.models.neck import FusionNeck
from iodvideo.models.registry import BACKBONES

TINY_RESNET = {"layers": (1, 1, 1, 1), "channels": (32, 32, 64, 64)}
TINY_RES2NET = {"layers": (1, 1, 1, 1), "channels": (32, 32, 32, 32)}
PAPER_NAMES = {"resnet", "i3d", "s3d", "msnet", "tdn", "tsm", "tam", "tin", "tea"}
NAMES = sorted(BACKBONES)
SIZE = 32


def timm_args(name: str) -> tuple[str, dict[str, Any]]:
    """timm model name and tiny kwargs the backbone ``name`` is built on."""
    if name == "tea":
        return "res2net50_26w_4s", dict(TINY_RES2NET)
    return "resnet18", dict(TINY_RESNET)


def build(name: str, clip_len: int = 4, **kwargs: Any) -> nn.Module:
    model_name, model_kwargs = timm_args(name)
    if name == "resnet":
        return BACKBONES[name](model_name, model_kwargs=model_kwargs, **kwargs)
    return BACKBONES[name](model_name, clip_len=clip_len, model_kwargs=model_kwargs, **kwargs)


def frames_in(model: nn.Module, clip_len: int) -> int:
    """Input frames a backbone takes for a K-frame clip (TDN: K + 2·context)."""
    return clip_len + 2 * getattr(model, "context_frames", 0)


def clip_for(model: nn.Module, clip_len: int, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, frames_in(model, clip_len), 3, SIZE, SIZE)


def tiny_detector(backbone: nn.Module, clip_len: int = 4) -> ClipDetector:
    """``backbone`` with a narrow neck and heads (widths 16/8)."""
    return ClipDetector(
        backbone,
        functools.partial(FusionNeck, channels=16, out_channels=8),
        functools.partial(ClipHeads, head_conv=16, wh_head_conv=8),
        clip_len=clip_len,
    )
