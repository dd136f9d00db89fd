"""SynthConfig: every knob of the SynthIOD generator, validated once at construction.

The defaults are the values of ``conf/synth.yaml`` so that a caller passing only a few keys
(the datamodule passes ``num_videos``, frame counts, size and seed) gets exactly what the CLI
would generate. Ranges are ``(low, high)`` pairs from which each video draws its own value.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields
from typing import Any

from iodvideo.errors import ConfigError

Range = tuple[float, float]

IMAGE_EXTS = ("png", "jpg")
VIDEO_FORMATS = ("none", "avi", "mp4")
TRAJECTORY_MODES = ("synthetic", "real")
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
    plume_length_range: Range = (0.05, 0.8)
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

    def mix(self) -> tuple[float, float]:
        """Fractions of clear and of dynamic videos after applying the ``difficulty`` preset."""
        clear, dynamic = DIFFICULTY_PRESETS[self.difficulty]
        return (
            self.clear_fraction if clear is None else clear,
            self.dynamic_fraction if dynamic is None else dynamic,
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
            if isinstance(default, tuple):
                object.__setattr__(self, f.name, _pair(f.name, value))
            elif isinstance(default, bool):
                continue
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
        _require(0 <= self.text_overlay <= 1, "text_overlay", self.text_overlay,
                 "a probability in [0, 1]")
        _require(self.box_smoothing >= 1, "box_smoothing", self.box_smoothing,
                 ">= 1 frames (1 = no smoothing)")
        _require(self.trajectories in TRAJECTORY_MODES, "trajectories", self.trajectories,
                 f"one of {TRAJECTORY_MODES}")
        _require(self.video_format in VIDEO_FORMATS, "video_format", self.video_format,
                 f"one of {VIDEO_FORMATS}")
        _require(self.fps > 0, "fps", self.fps, "positive")


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
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ConfigError(f"synth.{name} must be a [low, high] pair, got {value!r}")
    low, high = (_real(name, v) for v in value)
    return (low, high)
