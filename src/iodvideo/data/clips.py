"""Clip sampling (protocol §2): K consecutive frames, stride 1, key frame K//2.

A clip is named by its video and 1-based start frame ``i``; it covers frames ``i..i+K-1``.
Backbones that need temporal context (TDN reads two extra frames on each side) ask for
``context`` frames, which are clamped to the video, replicating its edge frames.

``frames`` (video → 1-based first and last frame, :mod:`iodvideo.data.selection`) restricts a
video to a range of its frames as if it were cut there: every clip lies entirely inside the
range, and context frames are clamped to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def _starts(annotations: Annotations, video: str, clip_len: int,
            frames: Mapping[str, tuple[int, int]] | None = None) -> range:
    """Clip starts of ``video``: every start whose K frames lie in the video, or in its
    range of ``frames`` when it has one."""
    nframes = annotations.nframes[video]
    if nframes < clip_len:
        raise ConfigError(
            f"{annotations.path}: video {video} has {nframes} frames, fewer than "
            f"clip_len={clip_len}; use a shorter data.clip_len"
        )
    first, last = (frames or {}).get(video, (1, nframes))
    if not 1 <= first <= last <= nframes or last - first + 1 < clip_len:
        raise ConfigError(
            f"video {video} ({nframes} frames): frames {first}..{last} hold no clip of "
            f"clip_len={clip_len}"
        )
    return range(first, last - clip_len + 2)


def _presence(tubes: Sequence[np.ndarray], nframes: int, clip_len: int) -> np.ndarray:
    """``(tubes, nframes - K + 1)``: how many of the K frames of each start each tube is on."""
    counts = np.zeros((len(tubes), nframes + 1), dtype=np.int64)
    for t, tube in enumerate(tubes):
        counts[t, tube[:, 0].astype(np.int64)] = 1
    cumulative = np.cumsum(counts, axis=1)
    return cumulative[:, clip_len:] - cumulative[:, : nframes + 1 - clip_len]


def training_clips(annotations: Annotations, videos: Sequence[str], clip_len: int,
                   frames: Mapping[str, tuple[int, int]] | None = None) -> list[Clip]:
    """Every start whose K frames are all on or all off each tube, and all on at least one
    (the reference's filter, protocol §2.1): a tube is never partly in a training clip, so each
    of a clip's frames has the boxes of exactly the tubes present on it. IOD-Video tubes span
    whole videos, so every start is kept; a clip over a gap between tubes (no box on any of
    its frames) or across a tube's first or last frame is not a training clip. With a range
    ``first..last`` in ``frames``, only the starts ``first..last-K+1`` (clips inside it)."""
    clips = []
    for vi, video in enumerate(videos):
        starts = _starts(annotations, video, clip_len, frames)
        on = _presence(annotations.tubes(video), annotations.nframes[video], clip_len)
        on = on[:, starts.start - 1 : starts.stop - 1]  # column s-1 is start s
        keep = ((on == clip_len) | (on == 0)).all(axis=0) & (on == clip_len).any(axis=0)
        clips += [Clip(vi, video, start) for start in np.asarray(starts)[keep].tolist()]
    return clips


def clip_objects(
    tubes: Sequence[np.ndarray], start: int, clip_len: int
) -> tuple[list[int], list[np.ndarray]]:
    """The tubes present on all K frames ``start..start+K-1``: their indices into ``tubes``
    and their ``(K, 4)`` boxes, in tube order — one object each in the clip's targets (protocol
    §4.1). The indices are what carries per-tube data along (the class of each object:
    :meth:`iodvideo.data.annotations.Annotations.tube_labels`). A tube on only some of the
    frames has no box on the others and is left out (training clips never have one, see
    :func:`training_clips`); no tube on the frames gives no object."""
    indices, boxes = [], []
    for t, tube in enumerate(tubes):
        first = int(np.searchsorted(tube[:, 0], start))
        rows = tube[first : first + clip_len]
        if len(rows) == clip_len and rows[-1, 0] == start + clip_len - 1:
            indices.append(t)
            boxes.append(rows[:, 1:5])
    return indices, boxes


def clip_boxes(tubes: Sequence[np.ndarray], start: int, clip_len: int) -> list[np.ndarray]:
    """The ``(K, 4)`` boxes of every tube present on all K frames ``start..start+K-1``, in tube
    order (:func:`clip_objects` without the indices)."""
    return clip_objects(tubes, start, clip_len)[1]


def inference_clips(
    annotations: Annotations, videos: Sequence[str], clip_len: int, stride: int = 1,
    frames: Mapping[str, tuple[int, int]] | None = None,
) -> list[Clip]:
    """Every start ``1..nframes-K+1`` of every video, no padding (protocol §2.2); with a range
    ``first..last`` in ``frames``, every start ``first..last-K+1`` (clips entirely inside it:
    the range's first and last frames are covered by one clip each, as a video's are).

    ``stride`` > 1 keeps every ``stride``-th start plus the last one, so every frame is still
    covered by at least one clip (for ``stride <= K``) at a fraction of the cost: a cheaper
    validation for model selection; the paper's protocol is ``stride=1``.
    """
    if stride < 1:
        raise ConfigError(f"clip stride must be >= 1, got {stride}")
    clips = []
    for vi, video in enumerate(videos):
        starts = _starts(annotations, video, clip_len, frames)
        kept = list(starts[::stride])
        if kept[-1] != starts[-1]:
            kept.append(starts[-1])
        clips += [Clip(vi, video, start) for start in kept]
    return clips


def clip_frames(start: int, clip_len: int, nframes: int, context: int = 0,
                first: int = 1) -> np.ndarray:
    """1-based frame numbers ``start-context .. start+K-1+context``, clamped to
    ``[first, nframes]`` (a range ``first..last`` of a video: ``nframes=last``)."""
    frames = np.arange(start - context, start + clip_len + context)
    return np.clip(frames, first, nframes)
