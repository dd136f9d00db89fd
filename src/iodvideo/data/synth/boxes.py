"""From per-frame plume boxes to an IOD-Video tube: annotated like a person would, integer.

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


KEYFRAME_STEP = 5  # IOD-Video's boxes are drawn every 5th frame and interpolated between
SLACK = (0.012, 0.6)  # per-video range of the annotator's tolerance, fraction of box size
FINE = 0.9  # when a box is redrawn, edges off by less than this x the tolerance stay put


def annotate(
    raw: np.ndarray, rng: np.random.Generator, height: int, width: int, window: int
) -> np.ndarray:
    """The tube a person would draw for the per-frame plume boxes ``raw`` (T, 4).

    IOD-Video's tubes show how they were made: an annotator set the box on every 5th frame and
    the tool interpolated linearly in between, in whole pixels (runs like ``+1 0 +1 0 0`` or
    ``-4 -4 -4 -4 -3`` per coordinate). On a keyframe the annotator leaves an edge alone while
    it is roughly right (two thirds of real coordinate steps are zero) and otherwise redraws it
    where they see the gas edge, which on an amorphous plume is uncertain by a few percent of
    the box size. Each video gets its own annotator (tolerance and care), so some tubes sit
    still and others move a lot, as in the real data (protocol §1.4).
    """
    raw = smooth_boxes(raw, window)
    n = len(raw)
    unit = max(height, width) / 320.0
    # how far (fraction of the box size) an edge may be off before it is redrawn, and how
    # uncertain a redrawn edge is
    slack = float(np.exp(rng.uniform(np.log(SLACK[0]), np.log(SLACK[1]))))
    care = slack * rng.uniform(0.2, 0.8)
    keys = np.arange(0, n, KEYFRAME_STEP)
    if keys[-1] != n - 1:
        keys = np.append(keys, n - 1)
    drawn = np.empty((len(keys), 4))
    size = np.empty(4)
    for j, k in enumerate(keys):
        target = raw[k]
        size[0::2] = max(target[2] - target[0], 1.0)
        size[1::2] = max(target[3] - target[1], 1.0)
        seen = target + care * size * rng.standard_normal(4)
        if j == 0:
            drawn[j] = seen
            continue
        off = np.abs(seen - drawn[j - 1])
        tolerance = 0.5 * unit + slack * size
        if np.all(off <= tolerance):  # the whole box still looks right: untouched
            drawn[j] = drawn[j - 1]
        else:  # redrawn: edges that were nearly right stay
            drawn[j] = np.where(off <= FINE * tolerance, drawn[j - 1], seen)
    drawn = np.rint(drawn)  # the annotator clicks whole pixels
    frames = np.arange(n)
    boxes = np.stack([np.interp(frames, keys, drawn[:, c]) for c in range(4)], axis=1)
    return to_tube(boxes, height, width)


def to_tube(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """Round and clip ``(T, 4)`` boxes into the image, enforce x2 > x1, y2 > y1, add frames."""
    b = np.rint(np.asarray(boxes, dtype=np.float64))
    x1 = np.clip(b[:, 0], 0, width - 2)
    y1 = np.clip(b[:, 1], 0, height - 2)
    x2 = np.clip(np.maximum(b[:, 2], x1 + 1), x1 + 1, width - 1)
    y2 = np.clip(np.maximum(b[:, 3], y1 + 1), y1 + 1, height - 1)
    frames = np.arange(1, len(b) + 1, dtype=np.float64)
    return np.stack([frames, x1, y1, x2, y2], axis=1).astype(np.float32)
