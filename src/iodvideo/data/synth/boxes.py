"""From per-frame plume boxes to an IOD-Video tube: smoothed, integer, clipped, never empty.

Human annotators draw boxes that move smoothly (seed paper §3.1) and in whole pixels; the
real tubes are float32 ``(nframes, 5)`` rows ``frame, x1, y1, x2, y2`` with integer values,
1-based frame numbers, x2/y2 inclusive and positive size.
"""

from __future__ import annotations

import numpy as np


def smooth_boxes(boxes: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over ``window`` frames (shrinking at the ends), per coordinate."""
    boxes = np.asarray(boxes, dtype=np.float64)
    if window <= 1 or len(boxes) < 2:
        return boxes.copy()
    half = window // 2
    csum = np.concatenate([np.zeros((1, boxes.shape[1])), np.cumsum(boxes, axis=0)])
    idx = np.arange(len(boxes))
    lo = np.maximum(idx - half, 0)
    hi = np.minimum(idx + half + 1, len(boxes))
    return (csum[hi] - csum[lo]) / (hi - lo)[:, None]


def hold_boxes(boxes: np.ndarray, tolerance: float) -> np.ndarray:
    """Keep each coordinate where it was until it has moved more than ``tolerance`` px.

    Annotators only redraw an edge once it is visibly off, so a third of IOD-Video's
    per-frame box steps are exactly zero (reference-notes §1.4); this reproduces that.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    out = boxes.copy()
    for t in range(1, len(boxes)):
        stale = np.abs(boxes[t] - out[t - 1]) <= tolerance
        out[t] = np.where(stale, out[t - 1], boxes[t])
    return out


def to_tube(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """Round and clip ``(T, 4)`` boxes into the image, enforce x2 > x1, y2 > y1, add frames."""
    b = np.rint(np.asarray(boxes, dtype=np.float64))
    x1 = np.clip(b[:, 0], 0, width - 2)
    y1 = np.clip(b[:, 1], 0, height - 2)
    x2 = np.clip(np.maximum(b[:, 2], x1 + 1), x1 + 1, width - 1)
    y2 = np.clip(np.maximum(b[:, 3], y1 + 1), y1 + 1, height - 1)
    frames = np.arange(1, len(b) + 1, dtype=np.float64)
    return np.stack([frames, x1, y1, x2, y2], axis=1).astype(np.float32)
