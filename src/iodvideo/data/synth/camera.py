"""Camera paths: where each frame looks into the (larger) world canvas.

Dynamic IOD-Video clips are hand-held or pan-tilt footage, so the whole background moves and
a frame difference lights up every edge, not just the gas. A path is a per-frame scale and
world position of the frame's top-left pixel: ``world = frame / scale + offset``. Pan is a
slow drift, shake a fast jitter, zoom a slow scale wander. Static cameras stay put.
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
    camera_shift: float,
) -> CameraPath:
    """Hand-held sway, slow pans and zooms, displacement within ``camera_shift * width``.

    The operator keeps the leak in view, so pans oscillate around it instead of drifting
    away; hand-held footage adds a sway of a few pixels per frame (IOD-Video's dynamic boxes
    move 1.7 px/frame on average, p90 4.5 px).
    """
    reach = camera_shift * width
    style = str(rng.choice(["handheld", "pan", "handheld+pan", "zoom"], p=[0.35, 0.2, 0.35, 0.1]))
    span = max(nframes - 1, 1)
    disp = np.zeros((nframes, 2))
    if "pan" in style or style == "zoom":
        amount = rng.uniform(0.3, 0.8) * reach
        angle = rng.uniform(0, 2 * np.pi)
        period = rng.uniform(60.0, 200.0)
        sweep = smooth_series(rng, nframes, period, octaves=2)
        disp += amount * sweep[:, None] * np.array([np.cos(angle), np.sin(angle)])
        disp[:, 0] += 0.2 * amount * smooth_series(rng, nframes, period)
        disp[:, 1] += 0.2 * amount * smooth_series(rng, nframes, period)
    if "handheld" in style:
        amp = rng.uniform(0.03, 0.15) * reach
        period = rng.uniform(8.0, 25.0)
        disp += amp * np.stack(
            [smooth_series(rng, nframes, period), smooth_series(rng, nframes, period * 1.1)],
            axis=1,
        )
    disp = np.clip(disp, -reach, reach)
    if style == "zoom":
        scale = 1.0 + rng.uniform(0.3, 1.0) * MAX_ZOOM * smooth_series(rng, nframes, 1.5 * span)
        scale = np.clip(scale, 1.0 - MAX_ZOOM, 1.0 + MAX_ZOOM)
    else:
        scale = np.ones(nframes)
    # keep the frame centre on world centre + disp whatever the scale
    cx = margin + width / 2.0 + disp[:, 0]
    cy = margin + height / 2.0 + disp[:, 1]
    offset = np.stack([cx - (width / 2.0) / scale, cy - (height / 2.0) / scale], axis=1)
    return CameraPath(scale, offset)
