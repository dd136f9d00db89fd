"""The infrared camera's own artefacts, applied in frame (sensor) coordinates.

Uncooled/cooled IR sensors add temporal noise, a fixed pattern (column stripes and per-pixel
offsets that do not move with the scene), slow gain/offset drift as the sensor warms, and
burnt-in on-screen text (timestamps, temperature readouts). None of it is gas, all of it
is clutter a detector must ignore.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from iodvideo.data.synth.noise import smooth_series


@dataclass(frozen=True)
class Sensor:
    """Per-video sensor model; ``apply`` turns a float scene frame into uint8 grey."""

    noise_sigma: float
    fixed_pattern: np.ndarray  # (H, W) float32 offsets
    drift: np.ndarray  # (T,) grey-level offsets
    gain: np.ndarray  # (T,) multiplicative gain around the frame mean

    def apply(self, scene: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
        frame = scene * np.float32(self.gain[t]) + self.fixed_pattern
        frame += np.float32(self.drift[t])
        noise = rng.standard_normal(frame.shape, dtype=np.float32)
        frame += np.float32(self.noise_sigma) * noise
        return np.clip(np.rint(frame), 0, 255).astype(np.uint8)


def make_sensor(
    rng: np.random.Generator,
    shape: tuple[int, int],
    nframes: int,
    noise_sigma: float,
    fixed_pattern_sigma: float,
    gain_drift: float,
) -> Sensor:
    h, w = shape
    columns = rng.standard_normal(w).astype(np.float32) * np.float32(fixed_pattern_sigma)
    pixels = rng.standard_normal((h, w)).astype(np.float32) * np.float32(0.5 * fixed_pattern_sigma)
    rows = rng.standard_normal(h).astype(np.float32) * np.float32(0.3 * fixed_pattern_sigma)
    pattern = columns[None, :] + rows[:, None] + pixels
    drift = gain_drift * smooth_series(rng, nframes, period=rng.uniform(60.0, 200.0))
    gain = 1.0 + 0.004 * gain_drift * smooth_series(rng, nframes, period=rng.uniform(80, 240))
    return Sensor(float(noise_sigma), pattern.astype(np.float32), drift, gain)


@dataclass(frozen=True)
class TextOverlay:
    """Burnt-in timestamp (ticks once per second) and a static label, as on many IR cameras."""

    label: str
    start_seconds: int
    fps: float
    value: int
    scale: float
    thickness: int

    def draw(self, frame: np.ndarray, t: int) -> None:
        h, w = frame.shape
        seconds = self.start_seconds + int(t / self.fps)
        stamp = f"2021-{5 + seconds // 86400 % 6:02d}-{1 + seconds // 3600 % 28:02d} " \
                f"{seconds // 3600 % 24:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        margin = max(2, h // 40)
        line = int(22 * self.scale) + margin
        cv2.putText(frame, stamp, (margin, line), cv2.FONT_HERSHEY_SIMPLEX, self.scale,
                    self.value, self.thickness, cv2.LINE_AA)
        cv2.putText(frame, self.label, (margin, h - margin), cv2.FONT_HERSHEY_SIMPLEX,
                    self.scale, self.value, self.thickness, cv2.LINE_AA)


def make_text_overlay(
    rng: np.random.Generator, shape: tuple[int, int], fps: float
) -> TextOverlay:
    h, _ = shape
    label = f"{rng.uniform(-20, 60):.1f}C  {rng.choice(['IR', 'OGI', 'GF320', 'LWIR'])}"
    return TextOverlay(
        label=label, start_seconds=int(rng.integers(0, 86400 * 30)), fps=fps,
        value=int(rng.choice([20, 235])), scale=max(0.25, h / 600.0),
        thickness=1 if h < 400 else 2,
    )
