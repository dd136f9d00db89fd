"""SynthConfig: every knob of the SynthIOD generator, validated once at construction.

The defaults are the values of ``conf/synth.yaml`` so that a caller passing only a few keys
(the datamodule passes ``num_videos``, frame counts, size and seed) gets exactly what the CLI
would generate. Ranges are ``(low, high)`` pairs from which each video draws its own value.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from iodvideo.errors import ConfigError

Range = tuple[float, float]

IMAGE_EXTS = ("png", "jpg")
VIDEO_FORMATS = ("none", "avi", "mp4")
TRAJECTORY_MODES = ("synthetic", "real")
FOOTAGE_FITS = ("cover", "stretch")
# probabilities (per video) of the realism effects, each in [0, 1]
PROBABILITIES = ("text_overlay", "sky", "plume_source", "workers", "agc", "vignetting", "shake",
                 "compression", "black_hot", "letterbox", "stems")
# difficulty presets: (fraction of clear videos, fraction of dynamic videos); None = use the
# config's clear_fraction and dynamic_fraction (IOD-Video's mix unless changed)
DIFFICULTY_PRESETS: dict[str, tuple[float | None, float | None]] = {
    "fractions": (None, None),
    "balanced": (0.5, 0.5),
    "easy": (1.0, 0.0),  # static camera, clear gas only
    "hard": (0.0, 1.0),  # moving camera, vague gas only
    "clear": (1.0, None),
    "vague": (0.0, None),
    "static": (None, 0.0),
    "dynamic": (None, 1.0),
}


@dataclass(frozen=True)
class SynthConfig:
    """Parameters of one SynthIOD dataset; same values (seed included) give identical bytes."""

    num_videos: int = 24
    min_frames: int = 40
    max_frames: int = 64
    height: int = 240
    width: int = 320
    seed: int = 0
    image_ext: str = "png"
    clear_contrast: Range = (12.0, 24.0)
    vague_contrast: Range = (6.0, 12.0)
    noise_sigma: Range = (0.5, 1.3)
    fixed_pattern_sigma: float = 1.0
    gain_drift: float = 1.0
    background_mean: Range = (100.0, 155.0)
    texture_sigma: Range = (8.0, 18.0)
    flow_speed: Range = (0.8, 3.0)
    plume_length_median: float = 0.26
    plume_length_range: Range = (0.07, 0.8)
    difficulty: str = "fractions"
    clear_fraction: float = 0.483
    dynamic_fraction: float = 0.65
    camera_shift: float = 0.06
    camera_speed: Range = (0.05, 0.4)
    box_threshold: float = 0.3
    distractors: float = 1.0
    text_overlay: float = 0.3
    box_smoothing: int = 3
    trajectories: str = "synthetic"
    real_annotations: str = ""
    video_format: str = "none"
    fps: float = 25.0
    # realism (issue 30): scene, plume and camera effects, each a per-video probability
    sky: float = 0.4
    plume_flatness: Range = (0.0, 0.7)
    plume_source: float = 0.6
    workers: float = 0.2
    warm_people: Range = (1.5, 4.0)
    agc: float = 0.3
    vignetting: float = 0.4
    shake: float = 0.15
    compression: float = 0.35
    black_hot: float = 0.3
    letterbox: float = 0.2
    stems: float = 0.3
    # plumes composited onto the user's own footage instead of a synthetic scene
    backgrounds: str = ""
    backgrounds_crop: tuple[int, ...] = ()
    backgrounds_frames: tuple[float, ...] = ()
    backgrounds_fit: str = "cover"
    backgrounds_effects: bool = False

    def mix(self) -> tuple[float, float]:
        """Fractions of clear and of dynamic videos after applying the ``difficulty`` preset.

        Plumes over the user's footage (``backgrounds``) keep its camera: no video is dynamic.
        """
        clear, dynamic = DIFFICULTY_PRESETS[self.difficulty]
        return (
            self.clear_fraction if clear is None else clear,
            0.0 if self.backgrounds else (self.dynamic_fraction if dynamic is None else dynamic),
        )

    @classmethod
    def field_names(cls) -> list[str]:
        """Names accepted by the constructor (the CLI rejects any other key)."""
        return [f.name for f in fields(cls)]

    def __post_init__(self) -> None:
        # Hydra hands lists for the pairs; store tuples so the config stays hashable/frozen.
        for f in fields(self):
            value = getattr(self, f.name)
            default = f.default
            if f.name == "backgrounds_crop":
                object.__setattr__(self, f.name, _numbers(f.name, value, (0, 4), integer=True))
            elif f.name == "backgrounds_frames":
                object.__setattr__(self, f.name, _numbers(f.name, value, (0, 2)))
            elif isinstance(default, tuple):
                object.__setattr__(self, f.name, _pair(f.name, value))
            elif isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ConfigError(f"synth.{f.name} must be true or false, got {value!r}")
            elif isinstance(default, int):
                object.__setattr__(self, f.name, _integer(f.name, value))
            elif isinstance(default, float):
                object.__setattr__(self, f.name, _real(f.name, value))
            elif isinstance(default, str):
                if not isinstance(value, str):
                    raise ConfigError(f"synth.{f.name} must be a string, got {value!r}")
        self._validate()

    def _validate(self) -> None:
        _require(self.num_videos >= 3, "num_videos", self.num_videos,
                 "at least 3 (one test video per split of the 3-fold partition)")
        _require(self.min_frames >= 2, "min_frames", self.min_frames, "at least 2")
        _require(self.max_frames >= self.min_frames, "max_frames", self.max_frames,
                 f">= min_frames ({self.min_frames})")
        _require(self.height >= 16, "height", self.height, "at least 16 pixels")
        _require(self.width >= 16, "width", self.width, "at least 16 pixels")
        _require(self.seed >= 0, "seed", self.seed, "a non-negative integer")
        _require(self.image_ext in IMAGE_EXTS, "image_ext", self.image_ext, f"one of {IMAGE_EXTS}")
        for name in ("clear_contrast", "vague_contrast", "noise_sigma", "texture_sigma",
                     "flow_speed", "plume_length_range", "camera_speed"):
            low, high = getattr(self, name)
            _require(0 <= low <= high, name, [low, high], "[low, high] with 0 <= low <= high")
        _require(self.clear_contrast[1] > 0 and self.vague_contrast[1] > 0, "contrast",
                 [self.clear_contrast, self.vague_contrast], "positive (an invisible plume)")
        low, high = self.background_mean
        _require(0 <= low <= high <= 255, "background_mean", [low, high],
                 "[low, high] within 0..255")
        _require(0 < self.plume_length_range[0], "plume_length_range",
                 list(self.plume_length_range), "positive")
        _require(self.plume_length_range[0] <= self.plume_length_median
                 <= self.plume_length_range[1], "plume_length_median",
                 self.plume_length_median, "inside plume_length_range")
        _require(self.difficulty in DIFFICULTY_PRESETS, "difficulty", self.difficulty,
                 f"one of {tuple(DIFFICULTY_PRESETS)}")
        for name in ("clear_fraction", "dynamic_fraction"):
            _require(0 <= getattr(self, name) <= 1, name, getattr(self, name), "in [0, 1]")
        _require(0 <= self.camera_shift <= 0.25, "camera_shift", self.camera_shift,
                 "in [0, 0.25] (fraction of the width)")
        _require(0 < self.box_threshold < 1, "box_threshold", self.box_threshold,
                 "strictly between 0 and 1")
        for name in ("fixed_pattern_sigma", "gain_drift", "distractors"):
            _require(getattr(self, name) >= 0, name, getattr(self, name), ">= 0")
        for name in PROBABILITIES:
            _require(0 <= getattr(self, name) <= 1, name, getattr(self, name),
                     "a probability in [0, 1]")
        for name in ("plume_flatness", "warm_people"):
            low, high = getattr(self, name)
            _require(0 <= low <= high, name, [low, high], "[low, high] with 0 <= low <= high")
        _require(self.plume_flatness[1] <= 1, "plume_flatness", list(self.plume_flatness),
                 "within [0, 1]")
        self._validate_backgrounds()
        _require(self.box_smoothing >= 1, "box_smoothing", self.box_smoothing,
                 ">= 1 frames (1 = no smoothing)")
        _require(self.trajectories in TRAJECTORY_MODES, "trajectories", self.trajectories,
                 f"one of {TRAJECTORY_MODES}")
        _require(self.video_format in VIDEO_FORMATS, "video_format", self.video_format,
                 f"one of {VIDEO_FORMATS}")
        _require(self.fps > 0, "fps", self.fps, "positive")

    def _validate_backgrounds(self) -> None:
        """The footage options (the files themselves are checked when first read)."""
        _require(self.backgrounds_fit in FOOTAGE_FITS, "backgrounds_fit", self.backgrounds_fit,
                 f"one of {FOOTAGE_FITS}")
        crop = self.backgrounds_crop
        _require(not crop or (0 <= crop[0] < crop[2] and 0 <= crop[1] < crop[3]),
                 "backgrounds_crop", list(crop),
                 "[] or [x1, y1, x2, y2] pixels with 0 <= x1 < x2 and 0 <= y1 < y2")
        frames = self.backgrounds_frames
        if frames:
            integers = all(isinstance(v, int) for v in frames)
            ok = (1 <= frames[0] <= frames[1]) if integers else (0 <= frames[0] < frames[1] <= 1)
            _require(ok, "backgrounds_frames", list(frames),
                     "[] or [first, last]: 1-based frame numbers (integers, first <= last) or "
                     "fractions of each video (floats, 0 <= first < last <= 1)")
        if not self.backgrounds:
            for name in ("backgrounds_crop", "backgrounds_frames"):
                _require(not getattr(self, name), name, list(getattr(self, name)),
                         "empty unless synth.backgrounds names footage")
        else:
            from pathlib import Path

            _require(Path(self.backgrounds).exists(), "backgrounds", self.backgrounds,
                     "an existing video file or folder of videos / frames (no such path)")


def _require(ok: bool, name: str, value: Any, expectation: str) -> None:
    if not ok:
        raise ConfigError(f"synth.{name}={value!r} is invalid: must be {expectation}")


def _integer(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"synth.{name} must be an integer, got {value!r}")
    return int(value)


def _real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"synth.{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"synth.{name} must be finite, got {value!r}")
    return float(value)


def _pair(name: str, value: Any) -> Range:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        value = (value, value)  # a single number means a fixed value
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise ConfigError(f"synth.{name} must be a [low, high] pair, got {value!r}")
    low, high = (_real(name, v) for v in value)
    return (low, high)


def _numbers(
    name: str, value: Any, lengths: tuple[int, ...], integer: bool = False
) -> tuple[Any, ...]:
    """An optional list of numbers (empty = unset); integers stay integers."""
    if value is None:
        return ()
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) not in lengths:
        raise ConfigError(f"synth.{name} must be a list of {' or '.join(map(str, lengths))} "
                          f"numbers, got {value!r}")
    out = []
    for v in value:
        if isinstance(v, numbers.Integral) and not isinstance(v, bool):
            out.append(int(v))
        elif integer:
            out.append(_integer(name, v))
        else:
            out.append(_real(name, v))
    return tuple(out)
