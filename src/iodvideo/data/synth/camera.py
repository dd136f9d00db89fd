"""Camera paths: where each frame looks into the (larger) world canvas.

Dynamic IOD-Video clips are hand-held or pan-tilt footage, so the whole background moves and
a frame difference lights up edges, not just the gas - but slowly: operators keep the leak in
view, so the view drifts a fraction of a pixel per frame. A path is a per-frame scale and
world position of the frame's top-left pixel: ``world = frame / scale + offset``. Drift is a
smooth wander, pan a slow sweep that turns back, zoom a slow scale wander. Static cameras stay put.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from iodvideo.data.synth.noise import smooth_series

MAX_ZOOM = 0.04  # +-4 % scale wander at most


@dataclass(frozen=True)
class CameraPath:
    """Per-frame ``scale`` (T,) and ``offset`` (T, 2) = world (x, y) of frame pixel (0, 0)."""

    scale: np.ndarray
    offset: np.ndarray

    def matrix(self, t: int) -> np.ndarray:
        """2x3 frame->world affine for ``cv2.warpAffine(..., WARP_INVERSE_MAP)``."""
        s = 1.0 / float(self.scale[t])
        ox, oy = (float(v) for v in self.offset[t])
        return np.array([[s, 0.0, ox], [0.0, s, oy]], dtype=np.float64)

    def world_to_frame(self, t: int, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = float(self.scale[t])
        ox, oy = (float(v) for v in self.offset[t])
        return (x - ox) * s, (y - oy) * s

    def world_to_frame_inverse(
        self, t: int, x: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Frame pixels -> world pixels (the inverse of :meth:`world_to_frame`)."""
        s = float(self.scale[t])
        ox, oy = (float(v) for v in self.offset[t])
        return x / s + ox, y / s + oy

    @property
    def is_translation(self) -> bool:
        """Only whole-pixel shifts: frames are plain crops of the world (no resampling)."""
        return bool(np.all(self.scale == 1.0) and np.all(self.offset == np.rint(self.offset)))

    def crop(self, world: np.ndarray, t: int, height: int, width: int) -> np.ndarray:
        """Frame ``t`` of a translation-only path: a view into ``world`` (no copy)."""
        ox, oy = (int(round(float(v))) for v in self.offset[t])
        return world[oy:oy + height, ox:ox + width]

    @property
    def is_static(self) -> bool:
        return bool(np.all(self.scale == 1.0) and np.all(self.offset == 0.0))


def world_margin(width: int, camera_shift: float, dynamic: bool) -> int:
    """Pixels of world needed on each side of the frame for the camera never to see past it."""
    if not dynamic:
        return 0
    # displacement + what a zoom-out uncovers at the far edge
    return int(math.ceil(camera_shift * width + MAX_ZOOM * width)) + 2


def static_path(nframes: int) -> CameraPath:
    return CameraPath(np.ones(nframes), np.zeros((nframes, 2)))


def dynamic_path(
    rng: np.random.Generator, nframes: int, height: int, width: int, margin: int,
    camera_shift: float, camera_speed: tuple[float, float] = (0.05, 0.4),
) -> CameraPath:
    """Slow hand-held drift, slow pans or a slow zoom, displacement within ``camera_shift * W``.

    IOD-Video's moving cameras are hand-held or slowly panned: the operator keeps the leak in
    view, so the view drifts a fraction of a pixel per frame (``camera_speed``, px/frame at
    320 px wide, drawn log-uniformly per video) and turns back before leaving the leak.
    Translations are whole pixels: the view holds still and then steps by one pixel, like a
    sensor that samples a slowly moving scene, instead of being resampled every frame, so
    most frame differences stay zero outside the gas. Zooms (10 %) are resampled.
    """
    reach = camera_shift * width
    unit = width / 320.0
    low, high = camera_speed
    speed = math.exp(rng.uniform(math.log(max(low, 1e-3)), math.log(max(high, low, 1e-3))))
    speed *= unit
    style = str(rng.choice(["drift", "pan", "zoom"], p=[0.5, 0.4, 0.1]))
    t = np.arange(nframes, dtype=np.float64)
    if style == "pan":
        # constant speed along a direction, turning back smoothly (triangle wave, rounded)
        angle = rng.uniform(0, 2 * np.pi)
        period = rng.uniform(1.0, 4.0) * max(reach / max(speed, 1e-6), 8.0)
        phase = rng.uniform(0, 1)
        wave = 2.0 * np.abs(((t / period + phase) % 1.0) - 0.5) * 2.0 - 1.0  # -1..1 triangle
        amount = speed * period / 4.0
        along = amount * wave
        disp = along[:, None] * np.array([np.cos(angle), np.sin(angle)])
    else:
        # random smooth wander whose typical speed is ``speed``
        period = rng.uniform(40.0, 120.0)
        series = np.stack([smooth_series(rng, nframes, period, octaves=2),
                           smooth_series(rng, nframes, period * 1.2, octaves=2)], axis=1)
        velocity = np.sqrt(np.mean(np.sum(np.diff(series, axis=0) ** 2, axis=1))) \
            if nframes > 1 else 1.0
        disp = series * (speed / max(velocity, 1e-6))
    disp = np.clip(disp, -reach, reach)
    if style == "zoom":
        amount = rng.uniform(0.3, 1.0) * MAX_ZOOM
        scale = 1.0 + amount * smooth_series(rng, nframes, rng.uniform(1.5, 3.0) * max(nframes, 40))
        scale = np.clip(scale, 1.0 - MAX_ZOOM, 1.0 + MAX_ZOOM)
    else:
        scale = np.ones(nframes)
        disp = np.rint(disp)  # whole-pixel steps: see the docstring
    # keep the frame centre on world centre + disp whatever the scale
    cx = margin + width / 2.0 + disp[:, 0]
    cy = margin + height / 2.0 + disp[:, 1]
    offset = np.stack([cx - (width / 2.0) / scale, cy - (height / 2.0) / scale], axis=1)
    return CameraPath(scale, offset)
