"""Which videos, and which frames of them, a run trains, validates and tests on.

``data.videos.<stage>`` names the videos of a stage (``train``, ``val``, ``test``) instead of
the split's lists; ``data.frames.<stage>`` keeps only a range of frames of each of them. This
is what the few-labelled-frames protocol needs (docs/own-data.md, "A few labelled frames"):
one camera's clip is both the training and the test video, fitted on its first 20 % and scored
on the other 80 %::

    data.videos.train=[cam1] data.videos.test=[cam1]
    data.frames.train=[0.0,0.2] data.frames.test=[0.2,1.0]

A range is a pair ``[start, end]``:

* **floats** (any element written with a point): fractions of each video's length ``n``, the
  frames after the first ``floor(start·n)`` up to the first ``floor(end·n)``, i.e. frames
  ``floor(start·n)+1 .. floor(end·n)``; ``0.0 <= start < end <= 1.0``. Ranges that share a
  border (``[0.0,0.2]`` and ``[0.2,1.0]``) never overlap and leave no frame out: 311 frames →
  1..62 and 63..311;
* **integers**: 1-based frame numbers, both ends included (``[1,62]``), the same frames in
  every video of the stage; ``1 <= start <= end <= n``.

A range behaves like a cut video: clips lie entirely inside it (training clips and the
inference clips of validation and test alike; context frames are clamped to it), and
evaluation scores its frames only. Bad input is a :class:`~iodvideo.errors.ConfigError` of
one line naming the key, the value and, for a range that does not fit, the video.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from iodvideo.errors import ConfigError

STAGES = ("train", "val", "test")
Range = tuple[int, int]  # 1-based first and last frame, both included


def _plain(value: Any) -> Any:
    """OmegaConf containers (DictConfig, ListConfig) and tuples → plain dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class FrameSpec:
    """One ``data.frames.<stage>`` value, checked for syntax (not yet against a video)."""

    key: str
    start: float
    end: float
    fractions: bool

    def __str__(self) -> str:
        show = (lambda v: repr(float(v))) if self.fractions else (lambda v: str(int(v)))
        return f"{self.key}=[{show(self.start)},{show(self.end)}]"

    def frames(self, video: str, nframes: int, clip_len: int = 1) -> Range:
        """The 1-based first and last frame of ``video`` (``nframes`` long) in the range; an
        error if that is no frame, or fewer than ``clip_len`` (one clip)."""
        if self.fractions:
            first = math.floor(round(self.start * nframes, 6)) + 1
            last = math.floor(round(self.end * nframes, 6))
        else:
            first, last = int(self.start), int(self.end)
            if last > nframes:
                raise ConfigError(f"{self}: video {video} has only {nframes} frames")
        count = last - first + 1
        if count < max(clip_len, 1):
            what = "no frame" if count < 1 else f"frames {first}..{last} ({count})"
            raise ConfigError(
                f"{self} gives video {video} ({nframes} frames) {what}, fewer than one clip "
                f"of data.clip_len={clip_len} frames; widen the range")
        return first, last


def frame_spec(value: Any, key: str) -> FrameSpec | None:
    """Parse ``data.frames.<stage>``: None (every frame) or ``[start, end]`` (module doc)."""
    value = _plain(value)
    if value is None:
        return None
    numbers = isinstance(value, list) and len(value) == 2 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    if not numbers:
        raise ConfigError(
            f"{key}={value!r}: give a range [start, end], fractions of each video as floats "
            "([0.0,0.2]) or 1-based frame numbers as integers ([1,62]); null = every frame")
    start, end = value
    fractions = any(isinstance(v, float) for v in value)
    spec = FrameSpec(key, float(start) if fractions else int(start),
                     float(end) if fractions else int(end), fractions)
    if fractions:
        if not all(math.isfinite(v) for v in value) or not 0.0 <= start < end <= 1.0:
            raise ConfigError(
                f"{spec}: fractions need 0.0 <= start < end <= 1.0 (an empty range, or one "
                "outside the video); integers are 1-based frame numbers")
    elif start < 1 or end < start:
        raise ConfigError(
            f"{spec}: frame numbers count from 1 and need start <= end (both included); "
            "write fractions of each video as floats, e.g. [0.0,1.0]")
    return spec


def video_names(value: Any, key: str) -> list[str] | None:
    """Parse ``data.videos.<stage>``: None (the split's list) or a non-empty list of names."""
    value = _plain(value)
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
        raise ConfigError(f"{key}={value!r}: give a non-empty list of video names "
                          "(as in the annotation pickle), or null for the split's list")
    twice = sorted({v for v in value if value.count(v) > 1})
    if twice:
        raise ConfigError(f"{key}: video(s) listed twice: {twice}")
    return list(value)


def _stage_values(value: Any, key: str) -> dict[str, Any]:
    value = _plain(value) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{key}={value!r}: give a mapping with keys {list(STAGES)}")
    unknown = sorted(set(value) - set(STAGES))
    if unknown:
        raise ConfigError(f"{key}: unknown key(s) {unknown}; use {list(STAGES)}")
    return value


@dataclass(frozen=True)
class Selection:
    """``data.videos`` and ``data.frames``, parsed: per stage, named videos (None: the split's
    list) and a frame range (None: every frame)."""

    videos: Mapping[str, list[str] | None]
    frames: Mapping[str, FrameSpec | None]

    @classmethod
    def from_config(cls, videos: Any = None, frames: Any = None) -> Selection:
        named, ranges = _stage_values(videos, "data.videos"), _stage_values(frames, "data.frames")
        return cls({s: video_names(named.get(s), f"data.videos.{s}") for s in STAGES},
                   {s: frame_spec(ranges.get(s), f"data.frames.{s}") for s in STAGES})

    @property
    def active(self) -> bool:
        return any(v is not None for v in (*self.videos.values(), *self.frames.values()))

    def named(self, stage: str, annotations: Any) -> list[str] | None:
        """The videos named for ``stage``, each checked to be in ``annotations``."""
        names = self.videos[stage]
        if names is None:
            return None
        unknown = [v for v in names if v not in annotations.nframes]
        if unknown:
            hints = [f"{v} -> {m}" for v in unknown
                     for m in [k for k in annotations.nframes if k.endswith(f"/{v}")][:1]]
            hint = f" (did you mean {', '.join(hints)}?)" if hints else (
                f" (names look like {next(iter(annotations.nframes))!r})")
            raise ConfigError(f"data.videos.{stage}: video(s) not in {annotations.path}: "
                              f"{unknown[:5]}{hint}")
        return list(names)

    def ranges(self, spec: FrameSpec | None, annotations: Any, videos: Sequence[str],
               clip_len: int) -> dict[str, Range]:
        """``video → (first, last)`` of ``spec`` in each of ``videos``; None: every frame (a
        video shorter than a clip is left to whoever builds clips of it: scoring per-frame
        detections needs none)."""
        return {video: (1, int(annotations.nframes[video])) if spec is None
                else spec.frames(video, int(annotations.nframes[video]), clip_len)
                for video in videos}


def rows_in_range(rows: np.ndarray, frames: Range | None) -> np.ndarray:
    """The rows (first column: 1-based frame) whose frame lies in ``frames`` (None: all)."""
    if frames is None:
        return rows
    rows = np.asarray(rows)
    if not len(rows):
        return rows
    return rows[(rows[:, 0] >= frames[0]) & (rows[:, 0] <= frames[1])]


def tubes_in_range(tubes: Sequence[np.ndarray], frames: Range | None) -> list[np.ndarray]:
    """Each tube cut to ``frames``; tubes left without a box are dropped."""
    cut = [rows_in_range(tube, frames) for tube in tubes]
    return [tube for tube in cut if len(tube)]


def overlapping(first: Mapping[str, Range], second: Mapping[str, Range]) -> list[str]:
    """Videos in both mappings whose ranges share a frame (training frames scored as test)."""
    return [v for v, (a, b) in first.items()
            if v in second and a <= second[v][1] and second[v][0] <= b]
