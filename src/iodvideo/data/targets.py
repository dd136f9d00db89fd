"""CenterNet training targets for one clip, exactly as the reference builds them (protocol §4).

All coordinates are in output-grid units. Only the key frame's centre is splatted on the
heatmap; per-frame sizes, movements and centres are regressed at gathered positions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def gaussian_radius(height: float, width: float, min_overlap: float = 0.7) -> int:
    """CornerNet radius for a box of (height, width), including the reference's "divide by 2"
    instead of "by 2a" in all three roots (protocol §4.2, §11.24): an 18×18 box gives 4."""
    h, w, o = math.ceil(height), math.ceil(width), min_overlap
    b1 = h + w
    c1 = w * h * (1 - o) / (1 + o)
    r1 = (b1 + math.sqrt(b1**2 - 4 * c1)) / 2
    b2 = 2 * (h + w)
    c2 = (1 - o) * w * h
    r2 = (b2 + math.sqrt(b2**2 - 16 * c2)) / 2
    a3, b3, c3 = 4 * o, -2 * o * (h + w), (o - 1) * w * h
    r3 = (b3 + math.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return max(0, int(min(r1, r2, r3)))


def gaussian_kernel(radius: int) -> np.ndarray:
    """``(2r+1, 2r+1)`` Gaussian with σ = diameter/6, peak 1, negligible tails zeroed."""
    sigma = (2 * radius + 1) / 6
    y, x = np.ogrid[-radius : radius + 1, -radius : radius + 1]
    kernel = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    kernel[kernel < np.finfo(kernel.dtype).eps * kernel.max()] = 0
    return kernel


def draw_gaussian(heatmap: np.ndarray, center: tuple[int, int], radius: int) -> None:
    """Max-splat a Gaussian at integer ``center (x, y)`` into ``heatmap (h, w)``, in place,
    clipped at the map border."""
    kernel = gaussian_kernel(radius)
    x, y = center
    height, width = heatmap.shape
    left, right = min(x, radius), min(width - x, radius + 1)
    top, bottom = min(y, radius), min(height - y, radius + 1)
    region = heatmap[y - top : y + bottom, x - left : x + right]
    patch = kernel[radius - top : radius + bottom, radius - left : radius + right]
    np.maximum(region, patch, out=region)


def build_targets(
    tubes: Sequence[np.ndarray],
    clip_len: int,
    grid_size: int,
    max_objects: int = 128,
    labels: Sequence[int] | None = None,
    num_classes: int = 1,
) -> dict[str, np.ndarray]:
    """Targets for one clip from its tubes' boxes ``(K, 4)`` in grid units (protocol §4.1).

    Returns ``hm (num_classes, g, g)``, ``wh``/``mov``/``centers``/``index_all (max_objects, 2K)``,
    ``index``/``mask (max_objects,)``. ``mov`` is each frame's centre minus the *integer*
    key centre; ``index_all`` holds each frame's floored centre twice (x and y channel).
    One object per tube, each with a box on all K frames (an object cannot lack a box on one
    frame: :func:`iodvideo.data.clips.clip_boxes`). A clip without objects (``tubes`` empty)
    has an all-zero heatmap and ``mask`` 0: the size, movement and (unless ``loss.legacy``)
    STA terms skip it, the focal loss sees background.
    Flat indices are clamped into the grid: a centre on the far border (allowed by the
    reference's ``0 ≤ c ≤ g`` check) would otherwise index past the map.

    ``labels`` gives each tube's class index (same order as ``tubes``; None: all class 0, the
    single-class data this was written for): its Gaussian goes on that class's heatmap channel,
    so two classes overlapping in one place still each get their peak. The regression targets
    do not depend on the class (the box heads are shared).
    """
    if len(tubes) > max_objects:
        raise ValueError(f"{len(tubes)} objects in one clip exceed max_objects={max_objects}")
    classes = _checked_labels(labels, len(tubes), num_classes)
    key = clip_len // 2
    hm = np.zeros((num_classes, grid_size, grid_size), dtype=np.float32)
    wh = np.zeros((max_objects, 2 * clip_len), dtype=np.float32)
    mov = np.zeros_like(wh)
    centers = np.zeros_like(wh)
    index_all = np.zeros((max_objects, 2 * clip_len), dtype=np.int64)
    index = np.zeros(max_objects, dtype=np.int64)
    mask = np.zeros(max_objects, dtype=np.float32)
    last = grid_size - 1
    for n, boxes in enumerate(tubes):
        boxes = np.asarray(boxes, dtype=np.float32).reshape(clip_len, 4)
        frame_centers = np.stack(
            [(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1
        )
        key_box = boxes[key]
        key_center_int = frame_centers[key].astype(np.int32)
        radius = gaussian_radius(key_box[3] - key_box[1], key_box[2] - key_box[0])
        cx, cy = np.clip(key_center_int, 0, last)
        draw_gaussian(hm[classes[n]], (int(cx), int(cy)), radius)
        index[n] = cy * grid_size + cx
        wh[n, 0::2] = boxes[:, 2] - boxes[:, 0]
        wh[n, 1::2] = boxes[:, 3] - boxes[:, 1]
        mov[n] = (frame_centers - key_center_int).reshape(-1)
        centers[n] = frame_centers.reshape(-1)
        floored = np.clip(np.floor(frame_centers).astype(np.int64), 0, last)
        flat = floored[:, 1] * grid_size + floored[:, 0]
        index_all[n] = np.repeat(flat, 2)
        mask[n] = 1.0
    return {
        "hm": hm, "wh": wh, "mov": mov, "centers": centers,
        "index": index, "index_all": index_all, "mask": mask,
    }


def _checked_labels(labels: Sequence[int] | None, count: int, num_classes: int) -> list[int]:
    """``labels`` as plain ints (all 0 when None), after checking there is one per tube and
    each indexes a heatmap channel: a label out of range would otherwise raise an IndexError
    deep in a DataLoader worker, or (negative) silently splat on another class."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if labels is None:
        return [0] * count
    classes = [int(label) for label in labels]
    if len(classes) != count:
        raise ValueError(f"{len(classes)} labels for {count} objects: need one label per tube")
    bad = sorted({c for c in classes if not 0 <= c < num_classes})
    if bad:
        raise ValueError(f"labels {bad} out of range for num_classes={num_classes} "
                         f"(class indices 0..{num_classes - 1})")
    return classes
