"""Static scene backgrounds: textured grey clutter with the structures of IOD-Video's scenes.

Single-frame saliency of the gas must be low, so the background has to offer clutter at the
plume's own spatial scale and brightness range: smooth multi-octave texture, plus drawn
structures (pipes, valves, flanges, tanks, cylinders, buildings, hills, leafy vegetation)
whose edges and shading are at least as strong as the plume. Outdoor scenes may show a sky:
smooth, mostly cold (dark in white-hot), colder towards the zenith, above a ragged horizon.
The leak's own hardware (the pipe, flange, valve, chimney or bottle the gas comes out of) can
be drawn at the plume's source. Values are grey levels (float32, ~0..255) in world
coordinates; the camera later cuts frames out of it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

from iodvideo.data.synth.noise import fractal_noise, smooth_series, value_noise

# a painter draws a scene's structures into the layer; returns its sky mask (None: no sky)
Painter = Callable[[np.random.Generator, np.ndarray, float], "np.ndarray | None"]
INDOOR = ("experiment",)  # scenes that never show a sky


def render_background(
    rng: np.random.Generator, scene: str, shape: tuple[int, int], mean: float, sigma: float,
    sky_rng: np.random.Generator | None = None,
) -> np.ndarray:
    """A ``shape`` float32 background for ``scene`` with mean ~``mean`` and clutter ~``sigma``.

    ``sky_rng`` (given when the video has a sky): scenes with a horizon get a smooth sky above
    it, outdoor scenes without one get a sky and horizon drawn from ``sky_rng``.
    """
    h, w = shape
    size = max(h, w)
    base = fractal_noise(rng, shape, [size / 3.0, size / 10.0, size / 30.0], [0.4, 0.8, 0.6])
    layer = np.zeros(shape, dtype=np.float32)
    sky = PAINTERS.get(scene, _paint_others)(rng, layer, sigma)
    # thermal images are soft: heat diffuses and optics blur
    layer = cv2.GaussianBlur(layer, (0, 0), sigmaX=max(0.6, size / 400.0))
    fine = fractal_noise(rng, shape, [2.0, 4.0])
    texture = 0.55 * base + 0.25 * fine
    if sky_rng is None or scene in INDOOR:
        return (mean + sigma * texture + layer).astype(np.float32)
    if sky is not None:  # the scene's own horizon: its sky loses the ground's texture
        texture = np.where(sky, 0.15 * texture, texture)
        return (mean + sigma * texture + layer).astype(np.float32)
    sky, values = _sky(sky_rng, shape, mean, sigma)
    ground = mean + sigma * texture
    return (np.where(sky, values + 0.15 * sigma * texture, ground) + layer).astype(np.float32)


def _sky(
    rng: np.random.Generator, shape: tuple[int, int], mean: float, sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """(mask, grey levels) of a sky above a ragged horizon at 12-50 % of the height."""
    h, w = shape
    base = rng.uniform(0.12, 0.5) * h
    horizon = base + 0.04 * h * smooth_series(rng, w, period=w * rng.uniform(0.2, 1.0))
    horizon += 0.01 * h * smooth_series(rng, w, period=rng.uniform(4.0, 12.0))  # tree line
    rows = np.arange(h, dtype=np.float32)[:, None]
    mask = rows < horizon[None, :].astype(np.float32)
    sign = -1.0 if rng.random() < 0.85 else 1.0  # the clear sky is cold
    level = mean + sign * rng.uniform(0.8, 2.5) * sigma
    zenith = rng.uniform(0.3, 1.2) * sigma * np.clip(1.0 - rows / max(base, 1.0), 0.0, 1.0)
    return mask, (level + sign * zenith).astype(np.float32)


def draw_source(
    rng: np.random.Generator, background: np.ndarray, source: tuple[float, float],
    direction: float, radius: float, kind: str, sigma: float, frame_width: int,
) -> None:
    """The hardware the gas leaks from, drawn into ``background`` (world px) at ``source``:
    a pipe across the wind with a flange or valve at the leak, a pipe ending at it (from
    upwind), a chimney or a bottle below it (rising gas only: else a pipe end)."""
    x, y = source
    r = max(radius, 1.5)
    layer = np.zeros_like(background)
    value = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.4, 1.2) * sigma)
    # at least 2 px even where 5 % of the frame is less (frames down to 16 px wide)
    thick = int(np.clip(r * rng.uniform(0.5, 1.0), 2, max(2.0, 0.05 * frame_width)))
    h = background.shape[0]
    if kind in ("chimney", "cylinder") and math.sin(direction) > -0.3:
        kind = "pipe"  # the gas does not rise: a body below the source would sit in the plume
    if kind in ("valve", "flange", "pipe"):
        if kind == "pipe":  # the pipe ends at the leak, coming from upwind
            angle = direction + math.pi + rng.normal(0.0, 0.3)
            length = rng.uniform(0.2, 0.6) * frame_width
            start = (x + length * math.cos(angle), y + length * math.sin(angle))
            end = (x, y)
        else:  # a pipe across the wind, leaking at a joint
            angle = direction + math.pi / 2 + rng.normal(0.0, 0.3)
            length = rng.uniform(0.6, 1.5) * frame_width
            dx, dy = 0.5 * length * math.cos(angle), 0.5 * length * math.sin(angle)
            start, end = (x - dx, y - dy), (x + dx, y + dy)
        cv2.line(layer, _pt(*start), _pt(*end), value, thick)
        ca, sa = math.cos(angle), math.sin(angle)
        if kind == "flange":  # a disc across the pipe, with bolts
            half = 1.2 * thick
            cv2.line(layer, _pt(x - half * sa, y + half * ca), _pt(x + half * sa, y - half * ca),
                     1.3 * value, max(2, thick // 2))
        elif kind == "valve":  # a body and a hand wheel
            side = max(2, int(1.4 * thick))
            cv2.rectangle(layer, _pt(x - side / 2, y - side / 2), _pt(x + side / 2, y + side / 2),
                          1.2 * value, -1)
            cv2.circle(layer, _pt(x, y - 1.6 * side), side, value, max(1, side // 4))
    else:  # chimney or gas bottle: a vertical body below the rising gas's source
        width = int((1.5 if kind == "chimney" else 2.0) * r) + 2
        bottom = y + rng.uniform(0.15, 0.5) * h
        cv2.rectangle(layer, _pt(x - width / 2, y + 1), _pt(x + width / 2, bottom), value, -1)
        if kind == "cylinder":  # neck and valve at the top
            cv2.rectangle(layer, _pt(x - width / 6, y - 1), _pt(x + width / 6, y + width / 3),
                          1.3 * value, -1)
    layer = cv2.GaussianBlur(layer, (0, 0), sigmaX=max(0.6, max(background.shape) / 400.0))
    background += layer


def _pt(x: float, y: float) -> tuple[int, int]:
    return int(round(x)), int(round(y))


def _level(rng: np.random.Generator, sigma: float, spread: float = 1.6) -> float:
    """A structure's brightness offset: warmer or colder than its surroundings."""
    return float(rng.choice([-1.0, 1.0]) * rng.uniform(0.5, spread) * sigma)


def _shaded_bar(
    layer: np.ndarray, x0: int, y0: int, x1: int, y1: int, value: float, vertical: bool
) -> None:
    """Axis-aligned cylinder (pipe, tank, bottle): brightest along its axis, like IR shading."""
    h, w = layer.shape
    x0, x1 = max(x0, 0), min(x1, w)
    y0, y1 = max(y0, 0), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return
    n = (x1 - x0) if vertical else (y1 - y0)
    profile = np.sin(np.linspace(0.15, np.pi - 0.15, n, dtype=np.float32)) * 0.6 + 0.4
    shade = profile[None, :] if vertical else profile[:, None]
    layer[y0:y1, x0:x1] = np.float32(value) * shade


def _pipes(rng: np.random.Generator, layer: np.ndarray, sigma: float, count: int) -> list:
    h, w = layer.shape
    pipes = []
    for _ in range(count):
        vertical = rng.random() < 0.35
        thick = int(rng.uniform(0.02, 0.07) * min(h, w)) + 2
        value = _level(rng, sigma)
        if vertical:
            x = int(rng.uniform(0, w - thick))
            y0 = int(rng.uniform(0, 0.5) * h)
            _shaded_bar(layer, x, y0, x + thick, h, value, vertical=True)
            pipes.append((x + thick // 2, int(rng.uniform(y0, h)), thick, True))
        else:
            y = int(rng.uniform(0, h - thick))
            x0 = int(rng.uniform(-0.2, 0.4) * w)
            x1 = int(rng.uniform(0.6, 1.2) * w)
            _shaded_bar(layer, x0, y, x1, y + thick, value, vertical=False)
            pipes.append((int(rng.uniform(max(x0, 0), min(x1, w))), y + thick // 2, thick, False))
    return pipes


def _paint_pipeline(rng: np.random.Generator, layer: np.ndarray, sigma: float) -> None:
    h, w = layer.shape
    _pipes(rng, layer, sigma, int(rng.integers(3, 7)))
    for _ in range(int(rng.integers(2, 6))):  # supports / brackets
        x = int(rng.uniform(0, w))
        cv2.rectangle(layer, (x, int(0.6 * h)), (x + 4, h), _level(rng, sigma, 1.0), -1)
    return None


def _paint_valve(rng: np.random.Generator, layer: np.ndarray, sigma: float) -> None:
    for cx, cy, thick, _ in _pipes(rng, layer, sigma, int(rng.integers(2, 4))):
        r = int(thick * rng.uniform(1.2, 2.2)) + 2
        value = _level(rng, sigma)
        cv2.rectangle(layer, (cx - r // 2, cy - r // 2), (cx + r // 2, cy + r // 2), value, -1)
        wheel = (cx, cy - r)
        cv2.circle(layer, wheel, r, _level(rng, sigma), max(1, r // 5))
        cv2.line(layer, (cx - r, wheel[1]), (cx + r, wheel[1]), value, max(1, r // 6))


def _paint_flange(rng: np.random.Generator, layer: np.ndarray, sigma: float) -> None:
    for cx, cy, thick, vertical in _pipes(rng, layer, sigma, int(rng.integers(2, 5))):
        r = int(thick * 0.9) + 2
        value = _level(rng, sigma)
        if vertical:
            cv2.rectangle(layer, (cx - r, cy - 2), (cx + r, cy + 2), value, -1)
        else:
            cv2.rectangle(layer, (cx - 2, cy - r), (cx + 2, cy + r), value, -1)
        for k in (-1, 1):  # bolts
            bx, by = (cx + k * r, cy) if vertical else (cx, cy + k * r)
            cv2.circle(layer, (bx, by), max(1, r // 5), value * 1.3, -1)


def _paint_cylinder(rng: np.random.Generator, layer: np.ndarray, sigma: float) -> None:
    h, w = layer.shape
    x = int(rng.uniform(0, 0.2) * w)
    while x < w:
        bw = int(rng.uniform(0.06, 0.14) * w) + 3
        top = int(rng.uniform(0.15, 0.5) * h)
        value = _level(rng, sigma)
        _shaded_bar(layer, x, top + bw // 2, x + bw, h, value, vertical=True)
        cv2.ellipse(layer, (x + bw // 2, top + bw // 2), (bw // 2, bw // 2), 0, 180, 360,
                    value * 0.8, -1)
        x += bw + int(rng.uniform(0.0, 0.15) * w)


def _sky_and_ground(
    rng: np.random.Generator, layer: np.ndarray, sigma: float
) -> tuple[int, np.ndarray]:
    """Horizon line with smooth hills; returns its mean row and the sky mask."""
    h, w = layer.shape
    base = int(rng.uniform(0.2, 0.55) * h)
    hills = base + (0.08 * h * smooth_series(rng, w, period=w * rng.uniform(0.5, 1.5)))
    rows = np.arange(h, dtype=np.float32)[:, None]
    sky = rows < hills[None, :].astype(np.float32)
    sky_value = _level(rng, sigma, 2.5)
    gradient = (rows / max(h, 1)).astype(np.float32)
    layer += np.where(sky, np.float32(sky_value) * (1.2 - gradient), 0.0).astype(np.float32)
    return base, sky


def _paint_wild(rng: np.random.Generator, layer: np.ndarray, sigma: float) -> np.ndarray:
    h, w = layer.shape
    horizon, sky = _sky_and_ground(rng, layer, sigma)
    bushes = np.zeros_like(layer)
    for _ in range(int(rng.integers(15, 45))):  # bushes and trees
        cx = int(rng.uniform(0, w))
        cy = int(rng.uniform(horizon, h))
        axes = (int(rng.uniform(0.01, 0.05) * w) + 1, int(rng.uniform(0.01, 0.05) * h) + 1)
        cv2.ellipse(bushes, (cx, cy), axes, float(rng.uniform(0, 180)), 0, 360,
                    _level(rng, sigma, 1.2), -1)
    # leaves: a fine texture with gaps inside every bush
    leaves = value_noise(rng, (h, w), max(w / 120.0, 1.2))
    layer += bushes * np.clip(0.8 + 0.6 * leaves, 0.0, 1.6)
    return sky


def _paint_factory(rng: np.random.Generator, layer: np.ndarray, sigma: float) -> np.ndarray:
    h, w = layer.shape
    horizon, sky = _sky_and_ground(rng, layer, sigma)
    x = int(rng.uniform(-0.1, 0.1) * w)
    while x < w:
        bw = int(rng.uniform(0.12, 0.35) * w) + 4
        top = int(rng.uniform(0.1, 0.9) * horizon) + 1
        value = _level(rng, sigma)
        cv2.rectangle(layer, (x, top), (x + bw, h), value, -1)
        step = max(4, bw // 5)
        for wx in range(x + 2, x + bw - 3, step):  # windows
            for wy in range(top + 3, h - 3, step):
                cv2.rectangle(layer, (wx, wy), (wx + step // 3, wy + step // 3), -value * 0.6, -1)
        if rng.random() < 0.3:  # chimney
            cw = max(3, bw // 8)
            cv2.rectangle(layer, (x + bw // 2, top - horizon // 2), (x + bw // 2 + cw, top),
                          value * 1.2, -1)
        x += bw + int(rng.uniform(0.0, 0.1) * w)
    return sky


def _paint_experiment(rng: np.random.Generator, layer: np.ndarray, sigma: float) -> None:
    h, w = layer.shape
    table = int(rng.uniform(0.55, 0.8) * h)
    layer[table:, :] += np.float32(_level(rng, sigma, 1.2))
    cv2.line(layer, (0, table), (w, table), _level(rng, sigma), max(1, h // 60))
    for _ in range(int(rng.integers(2, 6))):  # equipment on the bench
        bw = int(rng.uniform(0.05, 0.25) * w) + 2
        bh = int(rng.uniform(0.05, 0.3) * h) + 2
        x = int(rng.uniform(0, w - bw))
        cv2.rectangle(layer, (x, table - bh), (x + bw, table), _level(rng, sigma), -1)
    _pipes(rng, layer, sigma, int(rng.integers(0, 3)))


def _paint_others(rng: np.random.Generator, layer: np.ndarray, sigma: float) -> np.ndarray | None:
    painter = [_paint_pipeline, _paint_experiment, _paint_wild, _paint_cylinder]
    return painter[int(rng.integers(len(painter)))](rng, layer, sigma)


PAINTERS: dict[str, Painter] = {
    "pipeline": _paint_pipeline,
    "valve": _paint_valve,
    "flange": _paint_flange,
    "cylinder": _paint_cylinder,
    "wild": _paint_wild,
    "factory": _paint_factory,
    "experiment": _paint_experiment,
    "others": _paint_others,
}
