"""Random fields every other module builds on: multi-octave 2-D noise and smooth 1-D series.

Plumes, textures and camera paths all need randomness that is smooth at a chosen scale and
reproducible from a numpy Generator. Noise is made by upsampling small random grids with
bicubic interpolation (cheap, deterministic, no external noise library).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def value_noise(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Zero-mean, roughly unit-std float32 noise of ``shape`` with features ~``scale`` px."""
    h, w = shape
    scale = max(float(scale), 1.0)
    gh, gw = int(np.ceil(h / scale)) + 3, int(np.ceil(w / scale)) + 3
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    big = cv2.resize(grid, (int(gw * scale), int(gh * scale)), interpolation=cv2.INTER_CUBIC)
    oy = int(rng.integers(0, max(big.shape[0] - h, 0) + 1))
    ox = int(rng.integers(0, max(big.shape[1] - w, 0) + 1))
    out = big[oy:oy + h, ox:ox + w]
    if out.shape != (h, w):  # rounding left the upsampled grid a pixel short
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(out)


def fractal_noise(
    rng: np.random.Generator,
    shape: tuple[int, int],
    scales: Sequence[float],
    weights: Sequence[float] | None = None,
) -> np.ndarray:
    """Sum of ``value_noise`` octaves, normalised to zero mean and unit std (float32)."""
    if weights is None:
        weights = [1.0] * len(scales)
    total = np.zeros(shape, dtype=np.float32)
    for scale, weight in zip(scales, weights, strict=True):
        total += np.float32(weight) * value_noise(rng, shape, scale)
    return normalise(total)


def normalise(field: np.ndarray) -> np.ndarray:
    """Zero mean, unit std (a constant field stays zero)."""
    field = field - field.mean(dtype=np.float64)
    std = float(field.std(dtype=np.float64))
    return (field / std if std > 1e-12 else field).astype(np.float32)


def smooth_series(
    rng: np.random.Generator, length: int, period: float, octaves: int = 3
) -> np.ndarray:
    """A smooth random 1-D signal of ``length`` samples, zero mean-ish, amplitude ~1.

    Sum of sinusoids with random phases whose slowest period is ``period`` samples: used for
    wind meander, gain drift and camera pans, which real footage shows as slow wandering.
    """
    t = np.arange(length, dtype=np.float64)
    out = np.zeros(length, dtype=np.float64)
    norm = 0.0
    for k in range(octaves):
        amp = 0.5**k
        freq = (2.0**k) / max(period, 1e-6) * rng.uniform(0.7, 1.3)
        out += amp * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
        norm += amp * amp
    return out / np.sqrt(norm / 2.0)


def periodic_noise(
    rng: np.random.Generator, shape: tuple[int, int], scales: Sequence[float]
) -> np.ndarray:
    """Tileable multi-octave noise (spectral synthesis), zero mean, unit std, float32.

    The plume's turbulence is advected for hundreds of frames; sampling a tileable field with
    wrap-around borders keeps the texture finite without a visible seam.
    """
    h, w = shape
    white = rng.standard_normal((h, w))
    spectrum = np.fft.rfft2(white)
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    radius = np.sqrt(fx * fx + fy * fy)
    gain = np.zeros_like(radius)
    for scale in scales:
        centre = 1.0 / max(float(scale), 2.0)  # cycles per pixel of this octave
        band = np.exp(-0.5 * (np.log(np.maximum(radius, 1e-9) / centre) / 0.5) ** 2)
        gain += band * np.sqrt(float(scale))  # coarse octaves carry more energy
    gain[0, 0] = 0.0
    return normalise(np.fft.irfft2(spectrum * gain, s=(h, w)).astype(np.float32))
