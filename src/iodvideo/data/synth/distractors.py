"""Things that move but are not gas: warm people, workers at the leak, vehicles, vegetation.

IOD-Video's hard negatives (seed paper §3.2): if only the gas moved, "where do pixels change"
would be a perfect detector. People are warm (much brighter than the scene in white-hot),
some of them stand right next to the leak holding an instrument (an OGI camera, a sniffer
wand) that they move about; vegetation is leafy texture that sways as a whole while its
leaves flutter, which lights up a frame difference much as gas does. Thin, warm stems (dry
grass, reeds, weeds, bare twigs: white-hot lines against the scene) sway in place at the edge
of every bright stroke, the strongest frame difference in many outdoor clips. Distractors are
drawn into the world canvas each frame, so the camera moves them along with the scene.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from iodvideo.data.synth.noise import value_noise

KINDS = ("person", "vehicle", "vegetation")


class Drawable(Protocol):
    def draw(self, canvas: np.ndarray, t: int) -> None: ...


def _figure(canvas: np.ndarray, cx: int, cy: int, s: float, value: float, head: float,
            swing: int) -> None:
    """A person centred at (cx, cy), ``s`` px tall-ish; ``swing`` moves the feet apart."""
    cv2.ellipse(canvas, (cx, cy), (max(1, int(0.22 * s)), max(1, int(0.4 * s))), 0, 0, 360,
                value, -1)
    cv2.circle(canvas, (cx, cy - int(0.55 * s)), max(1, int(0.13 * s)), head, -1)
    for side in (1, -1):
        cv2.line(canvas, (cx, cy + int(0.3 * s)), (cx + side * swing, cy + int(0.9 * s)),
                 value, max(1, int(0.08 * s)))


@dataclass(frozen=True)
class Distractor:
    """A walking person or a driving vehicle."""

    kind: str
    start: tuple[float, float]  # world px
    velocity: tuple[float, float]  # px / frame
    size: float  # px
    value: float  # absolute grey level (apparent temperature) of the object
    phase: float
    rate: float  # gait frequency, radians per frame
    accent: float  # grey level of the hottest parts (head, wheels)

    def draw(self, canvas: np.ndarray, t: int) -> None:
        x = self.start[0] + self.velocity[0] * t
        y = self.start[1] + self.velocity[1] * t
        s = self.size
        if self.kind == "person":
            bob = 0.05 * s * np.sin(self.rate * t + self.phase)
            swing = int(0.2 * s * np.sin(self.rate * t + self.phase))
            _figure(canvas, int(round(x)), int(round(y + bob)), s, self.value, self.accent, swing)
        else:
            x0, y0 = int(round(x - s)), int(round(y - 0.35 * s))
            cv2.rectangle(canvas, (x0, y0), (x0 + int(2 * s), y0 + int(0.7 * s)), self.value, -1)
            r = max(1, int(0.18 * s))
            for wx in (x0 + int(0.4 * s), x0 + int(1.6 * s)):  # warm wheels
                cv2.circle(canvas, (wx, y0 + int(0.7 * s)), r, self.accent, -1)


class Foliage:
    """A bush or tree crown: leafy texture with holes that sways as a whole (more at the top)
    while its leaves flutter independently (a displacement that varies across the clump)."""

    def __init__(self, rng: np.random.Generator, centre: tuple[float, float], size: float,
                 level: float, contrast: float, amplitude: float, rate: float) -> None:
        pad = int(math.ceil(2.0 * amplitude)) + 2
        rx, ry = max(2.0, 0.5 * size), max(2.0, 0.4 * size)
        ph, pw = 2 * int(ry) + 1 + 2 * pad, 2 * int(rx) + 1 + 2 * pad
        leaves = value_noise(rng, (ph, pw), max(size / 9.0, 1.2))
        coarse = value_noise(rng, (ph, pw), max(size / 3.0, 2.0))
        ys, xs = np.mgrid[0:ph, 0:pw].astype(np.float32)
        d = ((xs - (pw - 1) / 2) / rx) ** 2 + ((ys - (ph - 1) / 2) / ry) ** 2 + 0.35 * coarse
        alpha = np.clip((1.0 - d) * 3.0, 0.0, 1.0) * np.clip(0.7 + 0.7 * leaves, 0.0, 1.0)
        texture = level + contrast * (0.8 * leaves + 0.4 * coarse)
        self._layers = np.dstack([texture * alpha, alpha]).astype(np.float32)
        self._xs, self._ys = xs, ys
        self._top = (0.4 + 0.6 * (1.0 - ys / max(ph - 1, 1))).astype(np.float32)
        self._wave = (xs * rng.uniform(0.3, 0.8) + ys * rng.uniform(0.3, 0.8)).astype(np.float32)
        self.origin = (int(round(centre[0])) - pw // 2, int(round(centre[1])) - ph // 2)
        self.amplitude, self.rate = amplitude, rate
        self.phases = rng.uniform(0.0, 2.0 * np.pi, size=3)
        self.flutter = rng.uniform(0.3, 0.6)

    def draw(self, canvas: np.ndarray, t: int) -> None:
        a, w, (p0, p1, p2) = self.amplitude, self.rate * t, self.phases
        flutter = np.sin(self._wave + np.float32(2.3 * w + p2)) * np.float32(self.flutter * a)
        map_x = self._xs - (np.float32(a * math.sin(w + p0)) * self._top + flutter)
        map_y = self._ys - (np.float32(0.3 * a * math.sin(0.7 * w + p1)) * self._top
                            + 0.5 * flutter)
        warped = cv2.remap(self._layers, map_x, map_y, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        _blend(canvas, warped, self.origin)


def _blend(canvas: np.ndarray, layers: np.ndarray, origin: tuple[int, int]) -> None:
    """Premultiplied (value * alpha, alpha) patch over ``canvas`` at ``origin``, clipped."""
    h, w = canvas.shape
    x0, y0 = origin
    ph, pw = layers.shape[:2]
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x0 + pw, w), min(y0 + ph, h)
    if cx1 <= cx0 or cy1 <= cy0:
        return
    part = layers[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
    region = canvas[cy0:cy1, cx0:cx1]
    region *= 1.0 - part[..., 1]
    region += part[..., 0]


class Worker:
    """A person beside the leak holding an instrument they keep pointing and moving about,
    swaying on their feet: warm, moving, and exactly where the gas is."""

    def __init__(self, rng: np.random.Generator, position: tuple[float, float], size: float,
                 facing: float, value: float, instrument: float) -> None:
        self.position, self.size, self.facing = position, size, facing
        self.value, self.instrument = value, instrument
        self.head = value + 0.3 * abs(value - instrument)
        self.rate = rng.uniform(0.05, 0.2)
        self.phases = rng.uniform(0.0, 2.0 * np.pi, size=3)
        self.aim = rng.uniform(-0.6, 0.3)  # radians below (+) / above (-) horizontal
        self.wand = bool(rng.random() < 0.4)  # a long sniffer wand instead of a camera

    def draw(self, canvas: np.ndarray, t: int) -> None:
        s, (p0, p1, p2) = self.size, self.phases
        x = self.position[0] + 0.03 * s * math.sin(self.rate * t + p0)
        y = self.position[1]
        cx, cy = int(round(x)), int(round(y))
        _figure(canvas, cx, cy, s, self.value, self.head, int(0.1 * s))
        angle = self.aim + 0.35 * math.sin(0.6 * self.rate * t + p1) + 0.1 * math.sin(
            2.1 * self.rate * t + p2)
        ux, uy = self.facing * math.cos(angle), math.sin(angle)
        shoulder = (cx, cy - int(0.25 * s))
        hand = (int(round(cx + 0.45 * s * ux)), int(round(cy - 0.25 * s + 0.45 * s * uy)))
        cv2.line(canvas, shoulder, hand, self.value, max(1, int(0.07 * s)))
        if self.wand:
            tip = (int(round(hand[0] + 0.6 * s * ux)), int(round(hand[1] + 0.6 * s * uy)))
            cv2.line(canvas, hand, tip, self.instrument, max(1, int(0.03 * s)))
        else:
            half = max(1, int(0.1 * s))
            cv2.rectangle(canvas, (hand[0] - half, hand[1] - half),
                          (hand[0] + half, hand[1] + int(0.6 * half)), self.instrument, -1)


def draw_worker(
    rng: np.random.Generator,
    source: tuple[float, float],
    direction: float,
    source_radius: float,
    frame_width: int,
    mean: float,
    sigma: float,
    warm: tuple[float, float],
) -> Worker:
    """A worker standing beside the source, across the wind from it, facing it."""
    size = rng.uniform(0.1, 0.2) * frame_width
    side = 1.0 if rng.random() < 0.5 else -1.0
    nx, ny = -math.sin(direction) * side, math.cos(direction) * side
    gap = 2.0 * source_radius + rng.uniform(0.25, 0.6) * size
    x, y = source[0] + nx * gap, source[1] + ny * gap + 0.2 * size
    facing = 1.0 if source[0] >= x else -1.0
    value = mean + rng.uniform(*warm) * sigma
    instrument = mean + rng.uniform(-1.5, 1.5) * sigma
    return Worker(rng, (float(x), float(y)), float(size), facing, float(value), float(instrument))


def draw_distractors(
    rng: np.random.Generator,
    scene: str,
    world_shape: tuple[int, int],
    frame_width: int,
    mean: float,
    sigma: float,
    rate: float,
    warm: tuple[float, float] = (1.5, 4.0),
) -> list[Drawable]:
    """About ``rate`` distractors per video (Poisson), kinds weighted by scene.

    Objects are opaque: they replace the background with their own apparent temperature.
    People are warm (``mean + warm x sigma``, one in ten colder than the scene), vehicles
    mostly warm (``mean +- (0.8..2.5) sigma``) with hot wheels, vegetation a leafy texture
    around a level within ``+- 2.5 sigma``.
    """
    h, w = world_shape
    unit = frame_width / 320.0
    count = int(rng.poisson(rate * 1.5))
    weights = {"wild": (0.15, 0.05, 0.8), "factory": (0.35, 0.35, 0.3),
               "experiment": (0.8, 0.0, 0.2)}.get(scene, (0.5, 0.15, 0.35))
    out: list[Drawable] = []
    for _ in range(count):
        kind = str(rng.choice(KINDS, p=weights))
        start = (float(rng.uniform(0, w)), float(rng.uniform(0.3 * h, h)))
        offset = float(rng.choice([-1.0, 1.0], p=[0.25, 0.75]) * rng.uniform(0.8, 2.5) * sigma)
        phase, gait = float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(0.1, 0.4))
        if kind == "person":
            size = rng.uniform(0.08, 0.2) * frame_width
            speed = rng.uniform(0.3, 1.5) * rng.choice([-1.0, 1.0])
            velocity = (float(speed), float(rng.normal(0, 0.1)))
            if rng.random() < 0.9:
                offset = float(rng.uniform(*warm) * sigma)
            out.append(Distractor(kind, start, velocity, float(size), mean + offset, phase, gait,
                                  mean + offset + 0.3 * abs(offset)))
        elif kind == "vehicle":
            size = rng.uniform(0.06, 0.15) * frame_width
            velocity = (float(rng.uniform(1.0, 4.0) * rng.choice([-1.0, 1.0])), 0.0)
            out.append(Distractor(kind, start, velocity, float(size), mean + offset, phase, gait,
                                  mean + offset + 0.5 * abs(offset)))
        else:  # a bush to a tree crown
            size = float(np.exp(rng.uniform(np.log(0.06), np.log(0.3)))) * frame_width
            out.append(Foliage(rng, start, size, mean + offset,
                               float(rng.uniform(0.8, 2.0) * sigma),
                               float(rng.uniform(0.3, 1.5) * unit), gait))
    return out


class Stems:
    """A clump of thin, warm stems (grass, reeds, weeds, twigs) rooted near the ground that
    sway in place: bright lines one to two pixels wide, bent by the wind more towards their
    tips (a cantilever: sideways displacement ~ position along the stem squared), all of the
    clump with the same gusts plus each stem its own flutter; some carry a side twig.

    Each stem is a polyline drawn anti-aliased at sub-pixel positions into a mask of the
    clump's patch, which paints ``value`` over the canvas: smooth motion even when a tip moves
    a fraction of a pixel per frame.
    """

    POINTS = 8  # polyline vertices per stem

    def __init__(self, rng: np.random.Generator, root: tuple[float, float], frame_width: int,
                 tallest: float, value: float, count: int, rate: float) -> None:
        unit = frame_width / 320.0
        self.value = float(value)
        self.rate = float(rate)
        self.gust_phase = rng.uniform(0.0, 2.0 * np.pi, size=2)
        spread = rng.uniform(0.02, 0.12) * frame_width
        s = np.linspace(0.0, 1.0, self.POINTS)
        rest, bend, amplitude, own, widths = [], [], [], [], []
        for _ in range(count):
            length = rng.uniform(0.3, 1.0) * tallest
            base = np.array([root[0] + rng.uniform(-0.5, 0.5) * spread,
                             root[1] + rng.uniform(0.0, 0.05) * tallest])
            angle = -math.pi / 2 + rng.normal(0.0, 0.3)
            direction = np.array([math.cos(angle), math.sin(angle)])
            normal = np.array([-direction[1], direction[0]])
            bow = rng.uniform(-0.2, 0.2) * length
            points = base + length * s[:, None] * direction + bow * (s * s)[:, None] * normal
            tip_sway = rng.uniform(0.03, 0.1) * length
            phase, speed = rng.uniform(0.0, 2.0 * np.pi), rng.uniform(0.8, 1.6)
            width = max(1, int(round(rng.uniform(0.7, 2.2) * unit)))
            rest.append(points)
            bend.append(s * s)
            amplitude.append(tip_sway)
            own.append((phase, speed))
            widths.append(width)
            if rng.random() < 0.4:  # a side twig from the upper half, swaying with its stem
                k = int(rng.integers(self.POINTS // 3, self.POINTS - 2))
                turn = angle + rng.choice([-1.0, 1.0]) * rng.uniform(0.4, 1.0)
                twig = rng.uniform(0.15, 0.4) * length
                r = np.linspace(0.0, 1.0, 4)
                start = points[k]
                rest.append(start + twig * r[:, None] * np.array([math.cos(turn),
                                                                  math.sin(turn)]))
                bend.append(s[k] ** 2 + 0.5 * (twig / length) * r * r)
                amplitude.append(tip_sway)
                own.append((phase, speed))
                widths.append(max(1, width - 1))
        reach = max(amplitude) * 1.6 + 3.0
        every = np.concatenate(rest)
        x0, y0 = np.floor(every.min(axis=0) - reach).astype(int)
        x1, y1 = np.ceil(every.max(axis=0) + reach).astype(int)
        self.origin = (int(x0), int(y0))
        self._shape = (int(y1 - y0 + 1), int(x1 - x0 + 1))
        self._rest = [p - np.array(self.origin, dtype=np.float64) for p in rest]
        self._bend, self._amplitude, self._own, self._widths = bend, amplitude, own, widths

    def sway(self, t: int) -> list[float]:
        """Sideways displacement of each polyline's tip (px) at frame ``t``."""
        w, (g0, g1) = self.rate * t, self.gust_phase
        gust = 0.6 * math.sin(w + g0) + 0.25 * math.sin(2.3 * w + g1)
        return [a * (gust + 0.3 * math.sin(speed * w + phase)
                     + 0.1 * math.sin(3.1 * speed * w + 2.0 * phase))
                for a, (phase, speed) in zip(self._amplitude, self._own, strict=True)]

    def mask(self, t: int) -> np.ndarray:
        """Coverage (0..1, float32) of the clump's patch at frame ``t``."""
        mask = np.zeros(self._shape, dtype=np.uint8)
        for rest, bend, shift, width in zip(self._rest, self._bend, self.sway(t), self._widths,
                                            strict=True):
            points = rest.copy()
            points[:, 0] += shift * bend
            fixed = np.rint(points * 16.0).astype(np.int32)  # 4 fractional bits
            cv2.polylines(mask, [fixed], False, 255, width, cv2.LINE_AA, shift=4)
        return mask.astype(np.float32) * np.float32(1.0 / 255.0)

    def draw(self, canvas: np.ndarray, t: int) -> None:
        h, w = canvas.shape
        x0, y0 = self.origin
        ph, pw = self._shape
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x0 + pw, w), min(y0 + ph, h)
        if cx1 <= cx0 or cy1 <= cy0:
            return
        alpha = self.mask(t)[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
        region = canvas[cy0:cy1, cx0:cx1]
        region += alpha * (np.float32(self.value) - region)


def draw_stems(
    rng: np.random.Generator,
    world_shape: tuple[int, int],
    frame_width: int,
    mean: float,
    sigma: float,
) -> list[Drawable]:
    """One to three clumps of warm stems rooted in the lower part of the scene: 3-10 stems
    each, up to 10-35 % of the height tall, ``mean + (3..6) sigma`` bright (white-hot, often
    at the top of the grey range), swaying at 0.6-2 Hz (at 25 frames/s) by 3-10 % of their
    length at the tip."""
    h, w = world_shape
    out: list[Drawable] = []
    for _ in range(int(rng.integers(1, 4))):
        root = (float(rng.uniform(0.05, 0.95) * w), float(rng.uniform(0.7, 1.0) * h))
        out.append(Stems(rng, root, frame_width, float(rng.uniform(0.1, 0.35) * h),
                         mean + float(rng.uniform(3.0, 6.0)) * sigma,
                         int(rng.integers(3, 11)), float(rng.uniform(0.15, 0.5))))
    return out
