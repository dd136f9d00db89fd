"""Video-level tube AP — an extra metric, clearly not one the paper reports.

Tubes come from :func:`iodvideo.detections.linking.build_tubes` (the reference's
``BuildTubes``, §9.3). A detected tube matches a GT tube of the same video when their
spatio-temporal IoU reaches the threshold: temporal IoU of the frames they cover times the
mean per-frame IoU (+1 pixel convention) over the frames they share. Tubes are taken by score
(ties in pooled order), each GT tube at most once, and AP is the same trapezoid on the raw PR
curve as frame AP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from iodvideo.detections.iou import iou_elementwise
from iodvideo.detections.linking import Tube
from iodvideo.evaluation.ap import average_precision


def spatio_temporal_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two tubes ``(L, 5)`` (frame, x1, y1, x2, y2; frames increasing): the temporal IoU
    of their frame sets times the mean per-frame IoU on the frames they share. For tubes of
    consecutive frames (detected ones, IOD-Video's) the frame sets are the frame ranges; a GT
    tube with gaps counts only the frames it has a box on."""
    a_frames, b_frames = a[:, 0], b[:, 0]
    shared = np.intersect1d(a_frames, b_frames)
    if not len(shared):
        return 0.0
    temporal = len(shared) / len(np.union1d(a_frames, b_frames))
    ra = a[np.isin(a_frames, shared), 1:5]
    rb = b[np.isin(b_frames, shared), 1:5]
    return float(temporal * np.mean(iou_elementwise(ra, rb)))


def video_ap(
    tubes: Mapping[str, Sequence[Tube]],
    gt_tubes: Mapping[str, Sequence[np.ndarray]],
    thresholds: Sequence[float] = (0.2, 0.5),
) -> dict[float, float]:
    """Tube AP (fraction) per spatio-temporal IoU threshold over the videos of ``gt_tubes``."""
    videos = list(gt_tubes)
    pooled = [(iv, t) for iv, v in enumerate(videos) for t in tubes.get(v, [])]
    scores = np.array([t.score for _, t in pooled], dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    num_gt = sum(len(gt_tubes[v]) for v in videos)
    out = {}
    for th in thresholds:
        remaining = {iv: list(gt_tubes[v]) for iv, v in enumerate(videos)}
        tp = []
        for i in order:
            iv, tube = pooled[i]
            ious = [spatio_temporal_iou(tube.boxes, g) for g in remaining[iv]]
            if ious and max(ious) >= th:
                remaining[iv].pop(int(np.argmax(ious)))
                tp.append(True)
            else:
                tp.append(False)
        out[float(th)] = average_precision(np.array(tp, dtype=bool), num_gt)
    return out
