"""What a false positive sits on: per-pixel statistics of a clip and simple, general rules.

One pass over the clip's grey frames (:class:`SceneStats`) accumulates the mean frame, the
per-pixel maximum, the mean absolute frame-to-frame difference and, at a few fixed grey
levels, how often each pixel changes by more than that level. :meth:`SceneStats.finish`
turns them into a static label map (:class:`SceneMaps`); :func:`moving_warm` adds, frame by
frame, warm things that move. Nothing here looks at a particular video: every threshold is
either a documented constant of :class:`SceneRules` (8-bit grey levels) or scales with what
the clip itself shows (its noise, its median texture and gradient). The rules, first match
wins:

``letterbox``
    rows / columns at the border, contiguous from it, whose pixels (95 % of them) never
    exceed ``bar_level`` over the whole clip: near-constant dark bars (at most
    ``bar_max_fraction`` of the frame each).
``text``
    burnt-in overlays: static (rarely changing), very strong edges (gradient of the mean frame
    ≥ ``text_edge`` grey levels per pixel) packed into a small, dense block of several strokes
    (after a closing of ~2 % of the frame width: height ≤ ``text_max_height``, width ≤
    ``text_max_width`` of the frame, edge density ≥ ``text_density``, one of its rows crossing
    ≥ ``text_strokes`` separate edge runs: glyphs, not a lone edge or a blob's outline); the
    block's bounding box is marked.
``sky``
    smooth pixels (local 7×7 standard deviation of the mean frame ≤ ``smooth_min`` or
    ``smooth_factor`` × the clip's median) connected to the top of the picture (below any
    bar), within its upper ``sky_top``.
``moving_warm`` (per frame)
    brighter than the frame's ``warm_percentile`` (white-hot IR), changed by more than
    ``warm_motion_factor`` × the motion level against two frames earlier, and not a
    persistently moving place (active in < ``active_fraction`` of the frame pairs): a person,
    a vehicle, an animal passing through.
``vegetation``
    textured (local std ≥ ``texture_min`` or ``texture_factor`` × the median) and moving in
    at least ``active_fraction`` of the frame pairs: a place that keeps moving a little while
    its texture stays (the mean frame is still textured) — leaves, branches, grass in wind.
``edges``
    static structures: gradient of the mean frame ≥ ``edge_min`` or ``edge_factor`` × the
    median, and not persistently moving (horizons, buildings, pipes, rocks).
``other``
    none of the above.

The motion level is the smallest of :data:`LEVELS` at or above ``max(motion_min_level,
motion_noise_factor × noise)``, the noise being the median (over the non-bar pixels) of the
mean absolute frame difference: most of a surveillance picture is static background. A box is
labelled by the central ``window`` (fraction of its width and height) around its centre, where
its heatmap peak is: the most frequent non-``other`` label there if it covers at least
``min_share`` of the window, else ``other``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Static labels of SceneMaps.labels, then the per-frame one; index = value in the label map.
LABELS = ("other", "letterbox", "text", "sky", "edges", "vegetation", "moving_warm")
OTHER, LETTERBOX, TEXT, SKY, EDGES, VEGETATION, MOVING_WARM = range(len(LABELS))
# Grey levels at which changes between consecutive frames are counted per pixel.
LEVELS = (2, 3, 4, 6, 8, 12, 16, 24, 32)


@dataclass(frozen=True)
class SceneRules:
    """The thresholds of the rules above (8-bit grey levels; fractions of the frame)."""

    bar_level: float = 24.0
    bar_max_fraction: float = 0.33
    text_edge: float = 40.0
    text_max_height: float = 0.15
    text_max_width: float = 0.5
    text_density: float = 0.2
    text_strokes: int = 6
    motion_min_level: float = 4.0
    motion_noise_factor: float = 4.0
    active_fraction: float = 0.15
    texture_min: float = 4.0
    texture_factor: float = 1.5
    edge_min: float = 8.0
    edge_factor: float = 3.0
    smooth_min: float = 1.5
    smooth_factor: float = 0.5
    sky_top: float = 0.6
    warm_percentile: float = 75.0
    warm_motion_factor: float = 2.0
    window: float = 0.5
    min_share: float = 0.3


def grey(frame: np.ndarray) -> np.ndarray:
    """BGR or grey uint8 → float32 grey."""
    if frame.ndim == 3:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    return frame.astype(np.float32)


@dataclass
class SceneMaps:
    """What :meth:`SceneStats.finish` derives; every map is ``(H, W)``."""

    mean: np.ndarray  # mean grey frame
    active: np.ndarray  # fraction of frame pairs changing by more than motion_level
    gradient: np.ndarray  # gradient magnitude of the mean frame, grey levels per pixel
    texture: np.ndarray  # local 7×7 std of the mean frame
    labels: np.ndarray  # int8 static label map (LABELS indices, no MOVING_WARM)
    noise: float  # median mean absolute frame difference (non-bar pixels)
    motion_level: float
    frames: int

    def shares(self) -> dict[str, float]:
        """Share of the frame each static label covers."""
        counts = np.bincount(self.labels.ravel(), minlength=len(LABELS))
        return {name: float(c) / self.labels.size for name, c in zip(LABELS, counts,
                                                                      strict=True)}


class SceneStats:
    """Accumulates per-pixel statistics of grey frames, one frame at a time."""

    def __init__(self) -> None:
        self.frames = 0
        self._sum: np.ndarray | None = None
        self._max: np.ndarray | None = None
        self._diff: np.ndarray | None = None
        self._counts: np.ndarray | None = None
        self._prev: np.ndarray | None = None

    def add(self, frame: np.ndarray) -> None:
        g = grey(frame)
        if self._sum is None:
            self._sum = np.zeros(g.shape, np.float64)
            self._max = np.zeros(g.shape, np.float32)
            self._diff = np.zeros(g.shape, np.float64)
            self._counts = np.zeros((len(LEVELS), *g.shape), np.int32)
        assert self._max is not None and self._diff is not None and self._counts is not None
        self._sum += g
        np.maximum(self._max, g, out=self._max)
        if self._prev is not None:
            d = np.abs(g - self._prev)
            self._diff += d
            for i, level in enumerate(LEVELS):
                self._counts[i] += d > level
        self._prev = g
        self.frames += 1

    def finish(self, rules: SceneRules = SceneRules()) -> SceneMaps:
        if self._sum is None:
            raise ValueError("no frames were added")
        assert self._max is not None and self._diff is not None and self._counts is not None
        pairs = max(self.frames - 1, 1)
        mean = (self._sum / self.frames).astype(np.float32)
        bar = letterbox_mask(self._max, rules)
        valid = ~bar if (~bar).any() else np.ones_like(bar)
        noise = float(np.median(self._diff[valid] / pairs))
        wanted = max(rules.motion_min_level, rules.motion_noise_factor * noise)
        index = next((i for i, lv in enumerate(LEVELS) if lv >= wanted), len(LEVELS) - 1)
        active = (self._counts[index] / pairs).astype(np.float32)
        gradient = _gradient(cv2.GaussianBlur(mean, (3, 3), 0))
        near_bar = cv2.dilate(bar.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        gradient[near_bar] = 0.0
        texture = _local_std(mean, 7)
        texture[near_bar] = 0.0
        moving = active >= rules.active_fraction

        labels = np.full(mean.shape, OTHER, np.int8)
        labels[bar] = LETTERBOX
        text = text_mask(mean, moving | near_bar, rules)
        labels[text & ~bar] = TEXT
        free = labels == OTHER
        smooth = texture <= max(rules.smooth_min, rules.smooth_factor * _median(texture, valid))
        labels[sky_mask(smooth & free, bar, rules)] = SKY
        free = labels == OTHER
        texture_level = max(rules.texture_min, rules.texture_factor * _median(texture, valid))
        swaying = _close((texture >= texture_level) & moving, 0.04 * mean.shape[1])
        labels[free & swaying] = VEGETATION
        free = labels == OTHER
        edge_level = max(rules.edge_min, rules.edge_factor * _median(gradient, valid))
        labels[free & (gradient >= edge_level) & ~moving] = EDGES
        return SceneMaps(mean, active, gradient, texture, labels, noise, float(LEVELS[index]),
                         self.frames)


def _median(values: np.ndarray, where: np.ndarray) -> float:
    chosen = values[where]
    return float(np.median(chosen)) if chosen.size else 0.0


def _close(mask: np.ndarray, size: float) -> np.ndarray:
    """Morphological closing with an odd square of about ``size`` pixels."""
    k = max(3, int(round(size)) | 1)
    return cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((k, k), np.uint8)) > 0


def _gradient(image: np.ndarray) -> np.ndarray:
    """Sobel magnitude / 8: grey levels per pixel for a ramp."""
    gx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3)
    return np.hypot(gx, gy) / 8.0


def _local_std(image: np.ndarray, size: int) -> np.ndarray:
    mean = cv2.blur(image, (size, size))
    square = cv2.blur(image * image, (size, size))
    return np.sqrt(np.maximum(square - mean * mean, 0.0))


def _run(flags: np.ndarray, limit: int) -> int:
    """Length of the leading run of True, at most ``limit``."""
    off = np.flatnonzero(~flags)
    return int(min(off[0] if off.size else len(flags), limit))


def letterbox_mask(maximum: np.ndarray, rules: SceneRules = SceneRules()) -> np.ndarray:
    """Border rows and columns that never get brighter than ``bar_level`` (95 % of their
    pixels, over the whole clip), contiguous from the border."""
    height, width = maximum.shape
    rows = np.percentile(maximum, 95, axis=1) <= rules.bar_level
    cols = np.percentile(maximum, 95, axis=0) <= rules.bar_level
    limit_h, limit_w = int(rules.bar_max_fraction * height), int(rules.bar_max_fraction * width)
    mask = np.zeros(maximum.shape, bool)
    top, bottom = _run(rows, limit_h), _run(rows[::-1], limit_h)
    left, right = _run(cols, limit_w), _run(cols[::-1], limit_w)
    mask[:top] = True
    mask[height - bottom:] = True
    mask[:, :left] = True
    mask[:, width - right:] = True
    return mask


def text_mask(mean: np.ndarray, excluded: np.ndarray,
              rules: SceneRules = SceneRules()) -> np.ndarray:
    """Bounding boxes of compact, dense blocks of static very strong edges (several strokes):
    burnt-in text, time stamps, logos. ``excluded``: pixels that cannot be text (moving ones,
    the surroundings of letterbox bars)."""
    height, width = mean.shape
    strong = (_gradient(mean) >= rules.text_edge) & ~excluded
    size = max(3, int(round(0.02 * width)) | 1)
    closed = cv2.morphologyEx(strong.astype(np.uint8), cv2.MORPH_CLOSE,
                              np.ones((size, size), np.uint8))
    count, components, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    out = np.zeros(mean.shape, bool)
    for i in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[i])
        if h > rules.text_max_height * height or w > rules.text_max_width * width or area < 20:
            continue
        inside = strong[y:y + h, x:x + w] & (components[y:y + h, x:x + w] == i)
        if inside.sum() >= rules.text_density * w * h and _runs(inside) >= rules.text_strokes:
            out[y:y + h, x:x + w] = True
    return cv2.dilate(out.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0


def _runs(mask: np.ndarray) -> int:
    """The most runs of True in one row: a glyph row crosses two edges per stroke, a lone
    edge or a blob's outline only one or two."""
    starts = mask[:, 1:] & ~mask[:, :-1]
    return int((starts.sum(axis=1) + mask[:, 0]).max()) if mask.size else 0


def sky_mask(smooth: np.ndarray, bar: np.ndarray, rules: SceneRules = SceneRules()) -> np.ndarray:
    """Smooth regions touching the top of the picture (its first row below any bar), cut to
    the picture's upper ``sky_top``."""
    rows = np.flatnonzero(~bar.all(axis=1))
    if not rows.size:
        return np.zeros(smooth.shape, bool)
    top, bottom = int(rows[0]), int(rows[-1])
    count, components = cv2.connectedComponents(smooth.astype(np.uint8), connectivity=4)
    touching = np.unique(components[top:top + 2][smooth[top:top + 2]])
    mask = np.isin(components, touching[touching > 0])
    mask[top + int(rules.sky_top * (bottom - top + 1)):] = False
    return mask


def moving_warm(frame: np.ndarray, earlier: np.ndarray | None, maps: SceneMaps,
                rules: SceneRules = SceneRules()) -> np.ndarray:
    """Per frame: warm pixels (above the frame's ``warm_percentile``) near a strong change
    against ``earlier`` (two frames back), at places that do not move persistently."""
    if earlier is None:
        return np.zeros(maps.labels.shape, bool)
    now = grey(frame)
    valid = maps.labels != LETTERBOX
    warm = now >= np.percentile(now[valid], rules.warm_percentile) if valid.any() else valid
    changed = np.abs(now - grey(earlier)) > rules.warm_motion_factor * maps.motion_level
    changed = cv2.dilate(changed.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    return warm & changed & valid & (maps.active < rules.active_fraction)


def frame_labels(maps: SceneMaps, warm: np.ndarray | None) -> np.ndarray:
    """The static label map with this frame's moving warm pixels on top (they win over every
    static label but letterbox and text)."""
    labels = maps.labels.copy()
    if warm is not None:
        labels[warm & (labels != TEXT) & (labels != LETTERBOX)] = MOVING_WARM
    return labels


def window_of(box: np.ndarray, shape: tuple[int, int], fraction: float) -> tuple[slice, slice]:
    """The central ``fraction`` of ``box`` (x1, y1, x2, y2), at least 5×5 px, in the image."""
    height, width = shape
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half_w = max(2.5, fraction * (box[2] - box[0]) / 2)
    half_h = max(2.5, fraction * (box[3] - box[1]) / 2)
    x1 = int(np.clip(np.floor(cx - half_w), 0, width - 1))
    x2 = int(np.clip(np.ceil(cx + half_w), x1 + 1, width))
    y1 = int(np.clip(np.floor(cy - half_h), 0, height - 1))
    y2 = int(np.clip(np.ceil(cy + half_h), y1 + 1, height))
    return slice(y1, y2), slice(x1, x2)


def box_label(labels: np.ndarray, box: np.ndarray, rules: SceneRules = SceneRules()) -> str:
    """The label of what ``box`` sits on (see the module docstring)."""
    rows, cols = window_of(np.asarray(box, np.float64), labels.shape, rules.window)
    patch = labels[rows, cols].ravel()
    counts = np.bincount(patch, minlength=len(LABELS))
    counts[OTHER] = 0
    best = int(np.argmax(counts))  # ties: the earlier label of LABELS
    return LABELS[best] if counts[best] >= rules.min_share * patch.size else LABELS[OTHER]
