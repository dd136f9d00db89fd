"""The infrared camera's own artefacts, applied in frame (sensor) coordinates.

Uncooled/cooled IR sensors add temporal noise, a fixed pattern (column stripes and per-pixel
offsets that do not move with the scene), slow gain/offset drift as the sensor warms,
vignetting (the optics' radial fall-off), automatic gain control (the camera keeps the
picture's mean and spread near a set point, so a warm person walking in darkens everything a
few frames later) and burnt-in on-screen text (timestamps, temperature readouts, a label on
a white box). None of it is gas, all of it is clutter a detector must ignore.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from iodvideo.data.synth.noise import smooth_series


class AutoGain:
    """Automatic gain control: output = level + (frame - m_t) * (s_ref / s_t)^k.

    ``m_t``, ``s_t`` follow the frame's mean and spread with a lag of 8-40 frames.
    The camera stretches the first frame's spread by 1-2.5x around a display level of 70-170
    (low-contrast scenes fill the grey range, hot objects saturate, noise is stretched too);
    once per video (maybe after its end) it re-ranges and the set point moves by up to 15 %,
    reached with the same lag.
    """

    def __init__(self, rng: np.random.Generator, nframes: int) -> None:
        self.lag = float(rng.uniform(8.0, 40.0))
        self.strength = float(rng.uniform(0.5, 1.0))
        self.step_at = int(rng.integers(0, 2 * max(nframes, 1)))
        self.step = float(rng.uniform(0.85, 1.15))
        self.stretch = float(rng.uniform(1.0, 2.5))
        self.level = float(rng.uniform(70.0, 170.0))
        self._state: list[float] = []

    def apply(self, frame: np.ndarray, t: int) -> np.ndarray:
        sample = frame[::4, ::4]
        mean, spread = float(sample.mean()), float(sample.std()) + 1e-3
        if t == 0 or not self._state:
            reference = spread * self.stretch
            self._state = [mean, spread, self.level, reference, reference]
        m, s, ref_m, ref_s, target = self._state
        rate = 1.0 / self.lag
        goal = ref_s * (self.step if t >= self.step_at else 1.0)
        m, s = m + (mean - m) * rate, s + (spread - s) * rate
        target += (goal - target) * rate
        self._state = [m, s, ref_m, ref_s, target]
        gain = np.float32((target / s) ** self.strength)
        return (frame - np.float32(m)) * gain + np.float32(ref_m)


def shading_map(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Multiplicative vignetting: 1 at the optical centre, 1 - k at the corners (k 2-8 %: what
    the camera's flat-field correction leaves; one in five brighter at the edges), centre off
    by a few percent."""
    h, w = shape
    k = rng.uniform(0.02, 0.08) * (1.0 if rng.random() < 0.8 else -1.0)
    cx = w / 2.0 + rng.normal(0.0, 0.05 * w)
    cy = h / 2.0 + rng.normal(0.0, 0.05 * h)
    xs = (np.arange(w, dtype=np.float32) - np.float32(cx)) / np.float32(w / 2.0)
    ys = (np.arange(h, dtype=np.float32) - np.float32(cy)) / np.float32(h / 2.0)
    r2 = 0.5 * (xs[None, :] ** 2 + ys[:, None] ** 2)
    return (1.0 - np.float32(k) * r2).astype(np.float32)


@dataclass(frozen=True)
class Sensor:
    """Per-video sensor model; ``apply`` turns a float scene frame into uint8 grey."""

    noise_sigma: float
    fixed_pattern: np.ndarray  # (H, W) float32 offsets
    drift: np.ndarray  # (T,) grey-level offsets
    gain: np.ndarray  # (T,) multiplicative gain around the frame mean
    shading: np.ndarray | None = None  # (H, W) vignetting, multiplicative
    agc: AutoGain | None = None

    def apply(self, scene: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
        gain = np.float32(self.gain[t])
        frame = scene * (gain if self.shading is None else self.shading * gain)
        frame += self.fixed_pattern
        frame += np.float32(self.drift[t])
        noise = rng.standard_normal(frame.shape, dtype=np.float32)
        frame += np.float32(self.noise_sigma) * noise
        if self.agc is not None:
            frame = self.agc.apply(frame, t)
        return np.clip(np.rint(frame), 0, 255).astype(np.uint8)


def make_sensor(
    rng: np.random.Generator,
    shape: tuple[int, int],
    nframes: int,
    noise_sigma: float,
    fixed_pattern_sigma: float,
    gain_drift: float,
    shading: np.ndarray | None = None,
    agc: AutoGain | None = None,
) -> Sensor:
    h, w = shape
    columns = rng.standard_normal(w).astype(np.float32) * np.float32(fixed_pattern_sigma)
    pixels = rng.standard_normal((h, w)).astype(np.float32) * np.float32(0.5 * fixed_pattern_sigma)
    rows = rng.standard_normal(h).astype(np.float32) * np.float32(0.3 * fixed_pattern_sigma)
    pattern = columns[None, :] + rows[:, None] + pixels
    drift = gain_drift * smooth_series(rng, nframes, period=rng.uniform(60.0, 200.0))
    gain = 1.0 + 0.004 * gain_drift * smooth_series(rng, nframes, period=rng.uniform(80, 240))
    return Sensor(float(noise_sigma), pattern.astype(np.float32), drift, gain, shading, agc)


@dataclass(frozen=True)
class TextOverlay:
    """Burnt-in timestamp (ticks once per second) and a static label, as on many IR cameras;
    ``boxed``: the label in inverse video on a filled box."""

    label: str
    start_seconds: int
    fps: float
    value: int
    scale: float
    thickness: int
    boxed: bool = False

    def draw(self, frame: np.ndarray, t: int) -> None:
        h, w = frame.shape
        seconds = self.start_seconds + int(t / self.fps)
        stamp = f"2021-{5 + seconds // 86400 % 6:02d}-{1 + seconds // 3600 % 28:02d} " \
                f"{seconds // 3600 % 24:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        margin = max(2, h // 40)
        line = int(22 * self.scale) + margin
        cv2.putText(frame, stamp, (margin, line), cv2.FONT_HERSHEY_SIMPLEX, self.scale,
                    self.value, self.thickness, cv2.LINE_AA)
        value = self.value
        if self.boxed:
            (tw, th), base = cv2.getTextSize(self.label, cv2.FONT_HERSHEY_SIMPLEX, self.scale,
                                             self.thickness)
            cv2.rectangle(frame, (0, h - margin - th - base), (margin + tw + 2, h - 1), value, -1)
            value = 255 - value
        cv2.putText(frame, self.label, (margin, h - margin), cv2.FONT_HERSHEY_SIMPLEX,
                    self.scale, value, self.thickness, cv2.LINE_AA)


def make_text_overlay(
    rng: np.random.Generator, shape: tuple[int, int], fps: float
) -> TextOverlay:
    h, _ = shape
    label = f"{rng.uniform(-20, 60):.1f}C  {rng.choice(['IR', 'OGI', 'GF320', 'LWIR'])}"
    return TextOverlay(
        label=label, start_seconds=int(rng.integers(0, 86400 * 30)), fps=fps,
        value=int(rng.choice([20, 235])), scale=max(0.25, h / 600.0),
        thickness=1 if h < 400 else 2, boxed=bool(rng.random() < 0.4),
    )
