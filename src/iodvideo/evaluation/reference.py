"""A straightforward transcription of the reference evaluator, one detection at a time.

Slow (pure Python over every detection, numpy only for one leader's IoUs per step of the
rescoring, as the original code), and kept for two jobs: the property tests check that the
vectorised path of :mod:`iodvideo.evaluation.frame_ap` gives exactly the same numbers, and
``scripts/bench_eval.py`` measures the speed-up against it. Ties in the global score sort are
broken by pooled row order, the deterministic choice documented in
:meth:`iodvideo.evaluation.scored.ScoredDetections.order`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from iodvideo.detections.iou import iou_plus1
from iodvideo.detections.rescore import rescore_frame
from iodvideo.evaluation.ap import average_precision


def pooled_rows_reference(
    detections: Mapping[str, np.ndarray], videos: Sequence[str], rescore: bool = True
) -> list[tuple[int, int, float, np.ndarray]]:
    """(video index, frame, score, box) of every detection, built frame by frame (§9.1)."""
    rows: list[tuple[int, int, float, np.ndarray]] = []
    for iv, name in enumerate(videos):
        if name not in detections:
            continue
        dets = np.asarray(detections[name], dtype=np.float64).reshape(-1, 6)
        per_frame: dict[int, list[np.ndarray]] = {}
        for row in dets:
            per_frame.setdefault(int(row[0]), []).append(row)
        for frame in sorted(per_frame):
            block = np.array(per_frame[frame])
            scores = rescore_frame(block[:, 1:5], block[:, 5]) if rescore else block[:, 5]
            for box, score in zip(block[:, 1:5], scores, strict=True):
                rows.append((iv, frame, float(score), box))
    return rows


def frame_ap_reference(
    detections: Mapping[str, np.ndarray],
    gt_tubes: Mapping[str, np.ndarray],
    iou_thresholds: Sequence[float],
    rescore: bool = True,
) -> dict[float, float]:
    """Frame AP (fraction) per threshold, matching one detection at a time (§9.2)."""
    videos = list(gt_tubes)
    rows = pooled_rows_reference(detections, videos, rescore)
    scores = np.array([r[2] for r in rows], dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    num_gt = sum(len(np.asarray(gt_tubes[v]).reshape(-1, 5)) for v in videos)
    out = {}
    for th in iou_thresholds:
        remaining: dict[tuple[int, int], list[np.ndarray]] = {}
        for iv, name in enumerate(videos):
            for gt_row in np.asarray(gt_tubes[name], dtype=np.float64).reshape(-1, 5):
                remaining.setdefault((iv, int(gt_row[0])), []).append(gt_row[1:5])
        tp = []
        for i in order:
            iv, frame, _, box = rows[i]
            boxes = remaining.get((iv, frame), [])
            if not boxes:
                tp.append(False)
                continue
            ious = iou_plus1(box, np.array(boxes))
            best = int(np.argmax(ious))
            if ious[best] >= th:
                tp.append(True)
                boxes.pop(best)
            else:
                tp.append(False)
        out[float(th)] = average_precision(np.array(tp, dtype=bool), num_gt)
    return out
