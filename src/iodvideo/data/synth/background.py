"""Static scene backgrounds: textured grey clutter with the structures of IOD-Video's scenes.

Single-frame saliency of the gas must be low, so the background has to offer clutter at the
plume's own spatial scale and brightness range: smooth multi-octave texture, plus drawn
structures (pipes, valves, flanges, tanks, cylinders, buildings, hills, vegetation) whose
edges and shading are at least as strong as the plume. Values are grey levels (float32,
~0..255) in world coordinates; the camera later cuts frames out of it.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from iodvideo.data.synth.noise import fractal_noise, smooth_series

Painter = Callable[[np.random.Generator, np.ndarray, float], None]


def render_background(
    rng: np.random.Generator, scene: str, shape: tuple[int, int], mean: float, sigma: float
) -> np.ndarray:
    """A ``shape`` float32 background for ``scene`` with mean ~``mean`` and clutter ~``sigma``."""
    h, w = shape
    size = max(h, w)
    base = fractal_noise(rng, shape, [size / 3.0, size / 10.0, size / 30.0], [0.4, 0.8, 0.6])
    layer = np.zeros(shape, dtype=np.float32)
    PAINTERS.get(scene, _paint_others)(rng, layer, sigma)
    # thermal images are soft: heat diffuses and optics blur
    layer = cv2.GaussianBlur(layer, (0, 0), sigmaX=max(0.6, size / 400.0))
    fine = fractal_noise(rng, shape, [2.0, 4.0])
    out = mean + sigma * (0.55 * base + 0.25 * fine) + layer
    return out.astype(np.float32)


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


def _sky_and_ground(rng: np.random.Generator, layer: np.ndarray, sigma: float) -> int:
    """Horizon line with smooth hills; returns its mean row."""
    h, w = layer.shape
    base = int(rng.uniform(0.2, 0.55) * h)
    hills = base + (0.08 * h * smooth_series(rng, w, period=w * rng.uniform(0.5, 1.5)))
    rows = np.arange(h, dtype=np.float32)[:, None]
    sky = rows < hills[None, :].astype(np.float32)
    sky_value = _level(rng, sigma, 2.5)
    gradient = (rows / max(h, 1)).astype(np.float32)
    layer += np.where(sky, np.float32(sky_value) * (1.2 - gradient), 0.0).astype(np.float32)
    return base


def _paint_wild(rng: np.random.Generator, layer: np.ndarray, sigma: float) -> None:
    h, w = layer.shape
    horizon = _sky_and_ground(rng, layer, sigma)
    for _ in range(int(rng.integers(15, 45))):  # bushes and trees
        cx = int(rng.uniform(0, w))
        cy = int(rng.uniform(horizon, h))
        axes = (int(rng.uniform(0.01, 0.05) * w) + 1, int(rng.uniform(0.01, 0.05) * h) + 1)
        cv2.ellipse(layer, (cx, cy), axes, float(rng.uniform(0, 180)), 0, 360,
                    _level(rng, sigma, 1.2), -1)


def _paint_factory(rng: np.random.Generator, layer: np.ndarray, sigma: float) -> None:
    h, w = layer.shape
    horizon = _sky_and_ground(rng, layer, sigma)
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


def _paint_others(rng: np.random.Generator, layer: np.ndarray, sigma: float) -> None:
    painter = [_paint_pipeline, _paint_experiment, _paint_wild, _paint_cylinder]
    painter[int(rng.integers(len(painter)))](rng, layer, sigma)


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
