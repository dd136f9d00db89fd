"""Camera effects for training clips (issue 30 §3): what a real IR camera does to a scene.

SynthIOD renders clean grey frames; a real camera blurs them, darkens the corners, adds a
fixed column/row pattern and per-frame sensor noise, lets its automatic gain control (AGC)
drift, maps the scene through a contrast/gamma curve in white-hot or black-hot polarity,
may burn in a timestamp or letterbox the picture, and streams it as MJPEG. Training on
clips that went through a random draw of these makes the detector rely on the gas, not on
the renderer's clean look.

Purely photometric: no pixel moves (the motion blur kernel is centred), so boxes are
unchanged, except that an overlay (text, letterbox bars) can cover part of a plume.
Clip-consistent: every parameter is drawn once per clip and applied to all T frames alike,
except two effects that are temporal by nature: sensor noise (a new realisation per frame,
one level per clip) and the AGC drift/flicker (one gain and offset per frame).

Effects, in the order a camera applies them (``EFFECTS``); each fires with its own ``*_p``
and a magnitude drawn up to its strength (0 strength = no-op):
  ``blur``                Gaussian blur, σ ~ U(½, 1)·blur_sigma px (albumentations).
  ``motion_blur``         linear motion blur, odd length in [3, motion_blur_max] px, random
                          angle, symmetric centred kernel (albumentations).
  ``vignette``            corners × (1 − s), s ~ U(0, vignette_strength), centre ±10 %.
  ``fixed_pattern``       static offsets per column (σ) and per row (σ/2), σ ~ U(0,
                          fixed_pattern_std) grey levels: the stripes of a microbolometer.
  ``noise``               Gaussian sensor noise, σ ~ U(0, noise_std) grey levels, new per
                          frame (albumentations ``GaussNoise``).
  ``gain_drift``          AGC: per-frame gain 1 + a·sin(2πt/P + φ) + N(0, flicker) and offset
                          b·sin(2πt/P + φ'), about the clip mean, |a| ≤ gain_drift, |b| ≤
                          offset_drift grey levels, period P of 2–6 clip lengths (slow).
  ``brightness_contrast`` brightness ± brightness·255, contrast × (1 ± contrast).
  ``gamma``               γ ~ logU(1/(1+gamma), 1+gamma) (γ > 1 darkens mid-greys).
  ``invert``              polarity: white-hot ↔ black-hot, 255 − x.
  ``overlay``             burnt-in timestamp in a corner, or letterbox bars (≤ letterbox_max
                          of the height/width per side), half the time each.
  ``jpeg``                MJPEG blocking: JPEG quality ~ U{jpeg_quality_min, …, jpeg_quality_max}.

ISO noise (albumentations ``ISONoise``) is left out: it perturbs hue and saturation, which
would turn grey IR frames into colour ones. Grey clips (3 equal channels, as both the frame
readers and the on-the-fly renderer give) are processed on one channel and stay grey.

Randomness: only from the ``rng`` argument (two draws per call, whatever fires); each effect
gets its own child stream, so switching one effect off does not change the others' draws.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields

import albumentations as A
import cv2
import numpy as np

from iodvideo.errors import ConfigError

EFFECTS = ("blur", "motion_blur", "vignette", "fixed_pattern", "noise", "gain_drift",
           "brightness_contrast", "gamma", "invert", "overlay", "jpeg")
# effects whose output differs between identical input frames: everything else is the same
# function for all frames of a clip
TEMPORAL = ("noise", "gain_drift")


@dataclass(frozen=True)
class CameraEffects:
    """Random IR camera effects for a training clip; ``p`` is the probability that a clip
    goes through them at all, ``<effect>_p`` that of each effect (module docstring).
    ``p=0`` (or every ``*_p`` 0) returns the frames unchanged, exactly."""

    p: float = 0.8
    blur_p: float = 0.2
    blur_sigma: float = 1.2
    motion_blur_p: float = 0.1
    motion_blur_max: int = 7
    vignette_p: float = 0.3
    vignette_strength: float = 0.3
    fixed_pattern_p: float = 0.3
    fixed_pattern_std: float = 3.0
    noise_p: float = 0.5
    noise_std: float = 6.0
    gain_drift_p: float = 0.3
    gain_drift: float = 0.15
    offset_drift: float = 10.0
    flicker: float = 0.02
    brightness_contrast_p: float = 0.3
    brightness: float = 0.15
    contrast: float = 0.2
    gamma_p: float = 0.3
    gamma: float = 0.3
    invert_p: float = 0.2
    overlay_p: float = 0.1
    letterbox_max: float = 0.08
    jpeg_p: float = 0.3
    jpeg_quality_min: int = 30
    jpeg_quality_max: int = 95

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                _bad(f.name, value, "must be a number")
            if not math.isfinite(value):
                _bad(f.name, value, "must be finite")
            if f.name == "p" or f.name.endswith("_p"):
                if not 0.0 <= value <= 1.0:
                    _bad(f.name, value, "is a probability: must be in [0, 1]")
            elif value < 0:
                _bad(f.name, value, "is a strength: must be >= 0")
        limits = {"vignette_strength": (0.0, 1.0), "letterbox_max": (0.0, 0.25),
                  "motion_blur_max": (3, 31), "jpeg_quality_min": (1, 100),
                  "jpeg_quality_max": (self.jpeg_quality_min, 100)}
        for name, (low, high) in limits.items():
            if not low <= getattr(self, name) <= high:
                _bad(name, getattr(self, name), f"must be in [{low}, {high}]")
        for name in ("motion_blur_max", "jpeg_quality_min", "jpeg_quality_max"):
            if int(getattr(self, name)) != getattr(self, name):
                _bad(name, getattr(self, name), "must be an integer")

    def __call__(self, frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``frames (T, H, W, C)`` uint8 → a new array of the same shape and dtype."""
        frames = np.asarray(frames)
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] not in (1, 3):
            raise ValueError(f"CameraEffects wants (T, H, W, 1 or 3) uint8 frames, got "
                             f"{frames.dtype} {frames.shape}")
        on = self.draw(rng)
        if not on or len(frames) == 0:
            return frames.copy()
        channels = frames.shape[-1]
        grey = frames.copy() if channels == 1 else _grey_plane(frames)
        x = frames.copy() if grey is None else grey
        gain = offset = None  # vignette and fixed pattern go through one float pass
        for name, child in on.items():
            if name == "vignette":
                gain = _vignette_map(x.shape[1:3], self.vignette_strength, child)
            elif name == "fixed_pattern":
                offset = _fixed_pattern_map(x.shape[1:3], self.fixed_pattern_std, child)
            else:
                if gain is not None or offset is not None:
                    x, gain, offset = _apply_maps(x, gain, offset), None, None
                x = getattr(self, f"_{name}")(x, child)
        if gain is not None or offset is not None:
            x = _apply_maps(x, gain, offset)
        if grey is None or channels == 1:
            return x
        return np.stack([cv2.merge([plane] * channels) for plane in x[..., 0]])

    def draw(self, rng: np.random.Generator) -> dict[str, np.random.Generator]:
        """The effects this clip gets, in camera order, each with its own child RNG."""
        u = rng.random(len(EFFECTS) + 1)
        seeds = rng.integers(0, 2**63 - 1, size=len(EFFECTS), dtype=np.int64)
        if u[0] >= self.p:
            return {}
        return {name: np.random.default_rng(int(seed))
                for name, draw, seed in zip(EFFECTS, u[1:], seeds, strict=True)
                if draw < getattr(self, f"{name}_p")}

    # -- effects: (T, H, W, C) uint8 + child rng → (T, H, W, C) uint8 ----------------------
    def _blur(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        sigma = float(rng.uniform(0.5, 1.0) * self.blur_sigma)
        if sigma <= 0:
            return x
        return _albu(A.GaussianBlur(blur_limit=0, sigma_limit=(sigma, sigma), p=1), x, rng)

    def _motion_blur(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        length = int(rng.choice(np.arange(3, int(self.motion_blur_max) + 1, 2)))
        blur = A.MotionBlur(blur_limit=(length, length), allow_shifted=False,
                            direction_range=(0.0, 0.0), p=1)  # symmetric: nothing moves
        return _albu(blur, x, rng)

    def _noise(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        std = float(rng.uniform(0.0, self.noise_std)) / 255.0
        if std <= 0:
            return x
        noise = A.GaussNoise(std_range=(std, std), mean_range=(0.0, 0.0), p=1)
        return _albu(noise, x, rng, per_frame=True)

    def _gain_drift(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        t = np.arange(len(x)) / max(len(x) - 1, 1)  # clip time in [0, 1]
        period = rng.uniform(2.0, 6.0)
        phase_gain, phase_offset = rng.uniform(0.0, 2 * math.pi, size=2)
        a = rng.uniform(-self.gain_drift, self.gain_drift)
        b = rng.uniform(-self.offset_drift, self.offset_drift)
        gains = (1.0 + a * np.sin(2 * math.pi * t / period + phase_gain)
                 + rng.normal(0.0, self.flicker, size=len(x)))
        offsets = b * np.sin(2 * math.pi * t / period + phase_offset)
        centre = float(x[:, ::4, ::4].mean())
        levels = np.arange(256, dtype=np.float64)
        out = np.empty_like(x)
        for k in range(len(x)):
            lut = np.clip(np.rint(centre + gains[k] * (levels - centre) + offsets[k]), 0, 255)
            out[k] = cv2.LUT(x[k], lut.astype(np.uint8)).reshape(x.shape[1:])
        return out

    def _brightness_contrast(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        b = float(rng.uniform(-self.brightness, self.brightness))
        c = float(rng.uniform(-self.contrast, self.contrast))
        bc = A.RandomBrightnessContrast(brightness_limit=(b, b), contrast_limit=(c, c), p=1)
        return _albu(bc, x, rng)

    def _gamma(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        log_limit = math.log1p(self.gamma)
        gamma = 100.0 * math.exp(rng.uniform(-log_limit, log_limit))
        return _albu(A.RandomGamma(gamma_limit=(gamma, gamma), p=1), x, rng)

    def _invert(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return _albu(A.InvertImg(p=1), x, rng)

    def _overlay(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.random() < 0.5:
            return _burn_in_text(x, rng)
        frac = rng.uniform(min(0.02, self.letterbox_max), self.letterbox_max)
        axis = 1 if rng.random() < 0.5 else 2  # bars top/bottom or left/right
        bar = int(round(frac * x.shape[axis]))
        if bar == 0:
            return x
        out = x.copy()
        index: list[slice] = [slice(None)] * 4
        for part in (slice(0, bar), slice(x.shape[axis] - bar, None)):
            index[axis] = part
            out[tuple(index)] = 0
        return out

    def _jpeg(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        quality = int(rng.integers(int(self.jpeg_quality_min), int(self.jpeg_quality_max) + 1))
        return _albu(A.ImageCompression(quality_range=(quality, quality), p=1), x, rng)


def _grey_plane(frames: np.ndarray) -> np.ndarray | None:
    """``(T, H, W, 1)`` channel 0 of a clip whose 3 channels are equal, else None."""
    planes = []
    for frame in frames:
        first, *others = cv2.split(frame)
        if any(cv2.norm(first, other, cv2.NORM_INF) > 0 for other in others):
            return None
        planes.append(first)
    return np.stack(planes)[..., None]


def _bad(name: str, value: object, why: str) -> None:
    raise ConfigError(f"camera_augment.{name} {why}, got {value!r}")


def _albu(transform: A.ImageOnlyTransform, x: np.ndarray, rng: np.random.Generator,
          per_frame: bool = False) -> np.ndarray:
    """Run a fixed-parameter albumentations transform, seeded from ``rng``: once on all
    frames (``images``: one parameter draw for the clip) or frame by frame (``per_frame``:
    a new random realisation per frame, e.g. noise)."""
    transform.set_random_seed(int(rng.integers(0, 2**32)))
    if per_frame:
        out = np.stack([transform(image=frame)["image"] for frame in x])
    else:
        out = transform(images=x)["images"]
    return np.ascontiguousarray(out.reshape(x.shape), dtype=np.uint8)


def _vignette_map(hw: tuple[int, int], strength: float, rng: np.random.Generator) -> np.ndarray:
    """Multiplicative ``(H, W, 1)`` gain: 1 at a centre near the image's, 1 − s at its corners."""
    height, width = hw
    s = rng.uniform(0.0, strength)
    cy, cx = (0.5 + rng.uniform(-0.1, 0.1, size=2)) * np.array([height, width])
    yy = ((np.arange(height) - cy) / (height / 2)) ** 2
    xx = ((np.arange(width) - cx) / (width / 2)) ** 2
    falloff = (yy[:, None] + xx[None, :]) / 2.0  # 1 at the corners of a centred image
    return np.clip(1.0 - s * falloff, 0.0, 1.0).astype(np.float32)[..., None]


def _fixed_pattern_map(hw: tuple[int, int], std: float,
                       rng: np.random.Generator) -> np.ndarray:
    """Additive ``(H, W, 1)`` column (σ) and row (σ/2) offsets, in grey levels."""
    height, width = hw
    sigma = rng.uniform(0.0, std)
    columns = rng.normal(0.0, sigma, size=width)
    rows = rng.normal(0.0, sigma / 2, size=height)
    return (rows[:, None] + columns[None, :]).astype(np.float32)[..., None]


def _apply_maps(x: np.ndarray, gain: np.ndarray | None, offset: np.ndarray | None) -> np.ndarray:
    y = x.astype(np.float32)
    if gain is not None:
        y *= gain
    if offset is not None:
        y += offset
    return np.clip(np.rint(y, out=y), 0, 255, out=y).astype(np.uint8)


def _burn_in_text(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A static timestamp-and-temperature line in a random corner, white or black."""
    height, width = x.shape[1:3]
    d = rng.integers([2015, 1, 1, 0, 0, 0, -20], [2026, 13, 29, 24, 60, 60, 60])
    text = (f"{d[0]}-{d[1]:02d}-{d[2]:02d} {d[3]:02d}:{d[4]:02d}:{d[5]:02d}"
            f" {d[6]:+d}.{int(rng.integers(10))}C")
    scale = float(rng.uniform(0.8, 1.2) * height / 600)
    (text_w, text_h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    margin = max(2, height // 60)
    left = margin if rng.random() < 0.5 else max(margin, width - text_w - margin)
    bottom = text_h + margin if rng.random() < 0.5 else height - base - margin
    colour = (255 if rng.random() < 0.5 else 0,) * x.shape[-1]
    out = x.copy()
    for frame in out:
        cv2.putText(frame, text, (int(left), int(bottom)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    colour, 1, cv2.LINE_AA)
    return out
