"""Box IoU with the reference's +1 pixel convention (protocol §9.1).

The reference treats x2, y2 as inclusive pixel indices: area = (x2−x1+1)(y2−y1+1) and the
intersection width is min(x2)+1 − max(x1), clipped at 0. Every consumer — rescoring, matching,
tube linking, the stream alarm — must agree on this to the last bit, so it lives here once.
"""

from __future__ import annotations

import numpy as np


def iou_elementwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of broadcast box pairs ``(..., 4)`` with the +1 pixel convention.

    Degenerate boxes give NaN or inf exactly as the reference's numpy code would; NaN then fails
    every threshold comparison there too.
    """
    iw = np.maximum(0.0, np.minimum(a[..., 2], b[..., 2]) + 1 - np.maximum(a[..., 0], b[..., 0]))
    ih = np.maximum(0.0, np.minimum(a[..., 3], b[..., 3]) + 1 - np.maximum(a[..., 1], b[..., 1]))
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0] + 1) * (a[..., 3] - a[..., 1] + 1)
    area_b = (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / (area_a + area_b - inter)


def iou_plus1(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one ``(4,)`` box with ``(n, 4)`` boxes, pixel-inclusive like the reference.

    Returns ``(n,)``.
    """
    return iou_elementwise(
        np.asarray(box, dtype=np.float64), np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    )


def column_iou(
    x1: np.ndarray, y1: np.ndarray, x2: np.ndarray, y2: np.ndarray, u: np.ndarray, v: np.ndarray
) -> np.ndarray:
    """IoU (+1 pixel convention) of rows ``u`` and ``v``, from contiguous coordinate columns.

    The operations and their order are those of the reference rescoring loop (intersection
    width, times intersection height, over area(u) + area(v) − intersection; u is the earlier
    box, the leader there), so the results are bit-identical to it.
    """
    ax1, ay1, ax2, ay2 = x1.take(u), y1.take(u), x2.take(u), y2.take(u)
    bx1, by1, bx2, by2 = x1.take(v), y1.take(v), x2.take(v), y2.take(v)
    iw = np.maximum(0.0, np.minimum(ax2, bx2) + 1 - np.maximum(ax1, bx1))
    iw *= np.maximum(0.0, np.minimum(ay2, by2) + 1 - np.maximum(ay1, by1))
    area_a = (ax2 - ax1 + 1) * (ay2 - ay1 + 1)
    area_b = (bx2 - bx1 + 1) * (by2 - by1 + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return iw / (area_a + area_b - iw)
