"""Clip sampling (protocol §2): K consecutive frames, stride 1, key frame K//2.

A clip is named by its video and 1-based start frame ``i``; it covers frames ``i..i+K-1``.
Backbones that need temporal context (TDN reads two extra frames on each side) ask for
``context`` frames, which are clamped to the video, replicating its edge frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from iodvideo.data.annotations import Annotations
from iodvideo.errors import ConfigError


@dataclass(frozen=True)
class Clip:
    """``video_index`` indexes the list of videos the clips were built from."""

    video_index: int
    video: str
    start: int  # 1-based first frame


def key_index(clip_len: int) -> int:
    """0-based position of the key frame inside a clip (the 5th of 8)."""
    return clip_len // 2


def _starts(annotations: Annotations, video: str, clip_len: int) -> range:
    nframes = annotations.nframes[video]
    if nframes < clip_len:
        raise ConfigError(
            f"{annotations.path}: video {video} has {nframes} frames, fewer than "
            f"clip_len={clip_len}; use a shorter data.clip_len"
        )
    return range(1, nframes - clip_len + 2)


def training_clips(annotations: Annotations, videos: Sequence[str], clip_len: int) -> list[Clip]:
    """Every start whose K frames are all inside or all outside each tube, and inside at least
    one (protocol §2.1). IOD-Video tubes span whole videos, so every start is kept."""
    clips = []
    for vi, video in enumerate(videos):
        tubes = annotations.tubes(video)
        for start in _starts(annotations, video, clip_len):
            last = start + clip_len - 1
            inside = [(t[0, 0] <= start) and (last <= t[-1, 0]) for t in tubes]
            outside = [(last < t[0, 0]) or (start > t[-1, 0]) for t in tubes]
            if any(inside) and all(a or b for a, b in zip(inside, outside, strict=True)):
                clips.append(Clip(vi, video, start))
    return clips


def inference_clips(
    annotations: Annotations, videos: Sequence[str], clip_len: int, stride: int = 1
) -> list[Clip]:
    """Every start ``1..nframes-K+1`` of every video, no padding (protocol §2.2).

    ``stride`` > 1 keeps every ``stride``-th start plus the last one, so every frame is still
    covered by at least one clip (for ``stride <= K``) at a fraction of the cost: a cheaper
    validation for model selection; the paper's protocol is ``stride=1``.
    """
    if stride < 1:
        raise ConfigError(f"clip stride must be >= 1, got {stride}")
    clips = []
    for vi, video in enumerate(videos):
        starts = _starts(annotations, video, clip_len)
        kept = list(starts[::stride])
        if kept[-1] != starts[-1]:
            kept.append(starts[-1])
        clips += [Clip(vi, video, start) for start in kept]
    return clips


def clip_frames(start: int, clip_len: int, nframes: int, context: int = 0) -> np.ndarray:
    """1-based frame numbers ``start-context .. start+K-1+context``, clamped to ``[1, nframes]``."""
    frames = np.arange(start - context, start + clip_len + context)
    return np.clip(frames, 1, nframes)
