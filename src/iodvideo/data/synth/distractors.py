"""Things that move but are not gas: walking people, vehicles, swaying vegetation.

IOD-Video's hard negatives (seed paper §3.2): if only the gas moved, "where do pixels change"
would be a perfect detector. Distractors are drawn into the world canvas each frame, so the
camera moves them along with the scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

KINDS = ("person", "vehicle", "vegetation")


@dataclass(frozen=True)
class Distractor:
    kind: str
    start: tuple[float, float]  # world px
    velocity: tuple[float, float]  # px / frame (vegetation: sway amplitude)
    size: float  # px
    value: float  # absolute grey level (apparent temperature) of the object
    phase: float
    rate: float  # gait / sway frequency, radians per frame
    accent: float  # grey level of hot parts (wheels)

    def draw(self, canvas: np.ndarray, t: int) -> None:
        x = self.start[0] + self.velocity[0] * t
        y = self.start[1] + self.velocity[1] * t
        s = self.size
        if self.kind == "person":
            bob = 0.05 * s * np.sin(self.rate * t + self.phase)
            cx, cy = int(round(x)), int(round(y + bob))
            body = (max(1, int(0.22 * s)), max(1, int(0.4 * s)))
            cv2.ellipse(canvas, (cx, cy), body, 0, 0, 360, self.value, -1)
            cv2.circle(canvas, (cx, cy - int(0.55 * s)), max(1, int(0.13 * s)), self.value, -1)
            swing = int(0.2 * s * np.sin(self.rate * t + self.phase))
            cv2.line(canvas, (cx, cy + int(0.3 * s)), (cx + swing, cy + int(0.9 * s)),
                     self.value, max(1, int(0.08 * s)))
            cv2.line(canvas, (cx, cy + int(0.3 * s)), (cx - swing, cy + int(0.9 * s)),
                     self.value, max(1, int(0.08 * s)))
        elif self.kind == "vehicle":
            x0, y0 = int(round(x - s)), int(round(y - 0.35 * s))
            cv2.rectangle(canvas, (x0, y0), (x0 + int(2 * s), y0 + int(0.7 * s)), self.value, -1)
            r = max(1, int(0.18 * s))
            for wx in (x0 + int(0.4 * s), x0 + int(1.6 * s)):  # warm wheels
                cv2.circle(canvas, (wx, y0 + int(0.7 * s)), r, self.accent, -1)
        else:  # vegetation sways in place
            dx = self.velocity[0] * np.sin(self.rate * t + self.phase)
            dy = self.velocity[1] * np.sin(0.7 * self.rate * t + self.phase)
            axes = (max(1, int(0.5 * s)), max(1, int(0.35 * s)))
            cv2.ellipse(canvas, (int(round(x + dx)), int(round(y + dy))), axes, 20.0, 0, 360,
                        self.value, -1)


def draw_distractors(
    rng: np.random.Generator,
    scene: str,
    world_shape: tuple[int, int],
    frame_width: int,
    mean: float,
    sigma: float,
    rate: float,
) -> list[Distractor]:
    """About ``rate`` distractors per video (Poisson), kinds weighted by scene.

    Objects are opaque: they replace the background with their own apparent temperature
    ``mean +- (0.8..2.5) sigma`` (people and engines are mostly warmer than the scene).
    """
    h, w = world_shape
    count = int(rng.poisson(rate * 1.5))
    weights = {"wild": (0.2, 0.1, 0.7), "factory": (0.4, 0.4, 0.2)}.get(scene, (0.6, 0.2, 0.2))
    out = []
    for _ in range(count):
        kind = str(rng.choice(KINDS, p=weights))
        offset = float(rng.choice([-1.0, 1.0], p=[0.25, 0.75]) * rng.uniform(0.8, 2.5) * sigma)
        if kind == "person":
            size = rng.uniform(0.08, 0.2) * frame_width
            speed = rng.uniform(0.3, 1.5) * rng.choice([-1.0, 1.0])
            velocity = (float(speed), float(rng.normal(0, 0.1)))
        elif kind == "vehicle":
            size = rng.uniform(0.06, 0.15) * frame_width
            velocity = (float(rng.uniform(1.0, 4.0) * rng.choice([-1.0, 1.0])), 0.0)
        else:
            size = rng.uniform(0.04, 0.12) * frame_width
            velocity = (float(rng.uniform(0.5, 2.5)), float(rng.uniform(0.0, 1.0)))
        out.append(Distractor(
            kind=kind, start=(float(rng.uniform(0, w)), float(rng.uniform(0.3 * h, h))),
            velocity=velocity, size=float(size), value=mean + offset,
            phase=float(rng.uniform(0, 2 * np.pi)), rate=float(rng.uniform(0.1, 0.4)),
            accent=mean + offset + 0.5 * abs(offset),
        ))
    return out
