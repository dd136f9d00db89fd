"""A plume that fills given boxes: the renderer for ``trajectories=real``.

In this mode the tubes come from the real IOD-Video annotation, so the plume is shaped to
the box instead of the box to the plume. Each frame's box (frame coordinates) is mapped into
the world through the camera, and a teardrop envelope is laid into it: it starts at a source
on one side of the box (mostly the bottom: gas rises; mostly the left or right end in a box
wider than 2 : 1, a band the wind carries sideways), widens downstream and is scaled so
that ``envelope > threshold`` touches all four sides, i.e. its tight box is the given box.
The same advected turbulence as the free plume modulates the density inside it.
"""

from __future__ import annotations

import math

import numpy as np

from iodvideo.data.synth.camera import CameraPath
from iodvideo.data.synth.plume import LOG_FLOOR, Turbulence, profile

# (along axis sign, along axis is x) for a source on the bottom, top, left, right side
SIDES = {"bottom": (-1.0, False), "top": (1.0, False), "left": (1.0, True), "right": (-1.0, True)}
SIDE_P = (0.6, 0.1, 0.15, 0.15)  # chance of each side: mostly the bottom (gas rises)
SIDE_P_WIDE = (0.1, 0.05, 0.425, 0.425)  # a wide band drifts along its length
WIDE = 2.0  # box aspect (w / h) above which a box is a band
_A = np.linspace(0.0, 1.0, 1001)
_WIDTH = 0.45 + 0.9 * _A  # cross-wind half-width grows downstream (before normalisation)
_WIDTH_NORM = float(np.max(_WIDTH * np.sqrt(np.clip(1.0 - (2.0 * _A - 1.0) ** 2, 0, None))))


class BoxFittedPlume:
    """Envelope/density per frame on the coarse world grid, whose threshold box is the target."""

    def __init__(
        self,
        rng: np.random.Generator,
        tube: np.ndarray,
        camera: CameraPath,
        world_shape: tuple[int, int],
        factor: int,
        threshold: float,
        speed_range: tuple[float, float],
        flatness: float = 0.0,
    ) -> None:
        self.flatness = flatness
        self.factor = factor
        self.threshold = threshold
        gh = -(-world_shape[0] // factor)
        gw = -(-world_shape[1] // factor)
        self.grid_shape = (gh, gw)
        self._ys = (np.arange(gh, dtype=np.float32) + 0.5) * factor - 0.5
        self._xs = (np.arange(gw, dtype=np.float32) + 0.5) * factor - 0.5
        # target boxes in world pixels; x2/y2 are inclusive so the extent reaches x2 + 0.5
        boxes = np.asarray(tube, dtype=np.float64)[:, 1:5]
        world = np.empty_like(boxes)
        for t in range(len(boxes)):
            xs, ys = camera.world_to_frame_inverse(t, boxes[t, 0::2], boxes[t, 1::2])
            world[t] = (xs[0], ys[0], xs[1], ys[1])
        self._boxes = world
        # gas rises from a source below it, unless its box is a wide flat band (median aspect
        # above WIDE): then the wind carries it sideways from a source at one end
        spans = np.maximum(boxes[:, 2:4] - boxes[:, 0:2], 1.0)
        wide = float(np.median(spans[:, 0] / spans[:, 1])) > WIDE
        side = str(rng.choice(list(SIDES), p=SIDE_P_WIDE if wide else SIDE_P))
        self._sign, self._along_x = SIDES[side]
        sizes = np.sqrt(np.maximum(boxes[:, 2] - boxes[:, 0], 1) * np.maximum(
            boxes[:, 3] - boxes[:, 1], 1))
        cells = max(float(np.median(sizes)) / 9.0 / factor, 2.0)
        speed = rng.uniform(*speed_range) / factor
        angle = (0.0 if self._sign > 0 else math.pi) if self._along_x else (
            math.pi / 2 if self._sign > 0 else -math.pi / 2)
        self._turbulence = Turbulence(rng, self.grid_shape, cells, angle, speed)
        self._turbulence_gain = rng.uniform(0.9, 1.3)
        self._fill = rng.uniform(0.5, 0.9)
        self._strength = 1.0 + 0.15 * np.sin(
            np.arange(len(boxes)) * rng.uniform(0.2, 0.6) + rng.uniform(0, 2 * np.pi))

    def _coords(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Along (0 at the source side, 1 at the far side) and cross (-1..1) box coordinates."""
        x1, y1, x2, y2 = self._boxes[t]
        u = (self._xs[None, :] - np.float32(x1 - 0.5)) / np.float32(max(x2 - x1 + 1.0, 1.0))
        v = (self._ys[:, None] - np.float32(y1 - 0.5)) / np.float32(max(y2 - y1 + 1.0, 1.0))
        along, cross = (u, v) if self._along_x else (v, u)
        if self._sign < 0:
            along = 1.0 - along
        return along, 2.0 * cross - 1.0

    def envelope(self, t: int) -> np.ndarray:
        along, cross = self._coords(t)
        width = (0.45 + 0.9 * np.clip(along, 0.0, 1.0)) / np.float32(_WIDTH_NORM)
        q = (2.0 * along - 1.0) ** 2 + (cross / width) ** 2
        log_env = np.maximum(np.float32(math.log(self.threshold)) * q, np.float32(LOG_FLOOR))
        return np.exp(log_env).astype(np.float32)

    def density(self, t: int, envelope: np.ndarray) -> np.ndarray:
        along, _ = self._coords(t)
        gain = np.float32(self._turbulence_gain) * (0.6 + 0.6 * np.clip(along, 0.0, 1.5))
        modulation = np.clip(self._fill + gain * self._turbulence.sample(t), 0.0, 2.0)
        shaped = profile(envelope, self.threshold, self.flatness)
        return (np.float32(self._strength[t]) * shaped * modulation).astype(np.float32)

    def source_point(self) -> tuple[float, float]:
        x1, y1, x2, y2 = self._boxes[0]
        return float((x1 + x2) / 2), float((y1 + y2) / 2)
