"""Beyond the paper: AP@0.5 and AP@0.5:0.95 by scene, motion, visibility and box size, and
per video. Every group is scored as the reference would score a pickle holding only that
group (its own detections, its own GT boxes), from the one matching pass already done.

Video names follow ``<id>_<scene>_<static|dynamic>_<clear|vague>``. Box-size groups are the
dataset's own terciles of sqrt(w·h) (+1 pixel convention) over every GT box of the annotation
file; a detection belongs to the size group of its frame's GT box (IOD-Video has exactly one
per frame; detections on frames without GT belong to no size group).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from iodvideo.evaluation.metrics import THRESHOLDS_50_95
from iodvideo.evaluation.scored import ScoredDetections

SIZE_GROUPS = ("small", "medium", "large")


def name_parts(video: str) -> dict[str, str]:
    """scene, motion and visibility from a video key (``?`` when the name does not fit)."""
    parts = video.rsplit("/", 1)[-1].split("_")
    if len(parts) >= 4:
        return {"scene": "_".join(parts[1:-2]), "motion": parts[-2], "visibility": parts[-1]}
    return {"scene": "?", "motion": "?", "visibility": "?"}


def box_size(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.sqrt((boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1))


def size_terciles(tubes: Iterable[np.ndarray]) -> tuple[float, float]:
    """The 1/3 and 2/3 quantiles of GT box size over ``tubes`` (the whole dataset)."""
    sizes = np.concatenate([box_size(np.asarray(t)[:, 1:5]) for t in tubes])
    low, high = np.quantile(sizes, [1 / 3, 2 / 3])
    return float(low), float(high)


def _ap_summary(
    scored: ScoredDetections, row_labels: np.ndarray, gt_labels: np.ndarray, names: list[str]
) -> dict[str, dict[str, float]]:
    labels = list(range(len(names)))
    by_label = scored.ap_by_label(row_labels, labels, THRESHOLDS_50_95, gt_labels)
    out = {}
    for label, name in enumerate(names):
        n_gt = int(np.count_nonzero(gt_labels == label))
        if n_gt == 0:
            continue
        values = [by_label[label][th] for th in THRESHOLDS_50_95]
        out[name] = {
            "AP@0.5": by_label[label][0.5] * 100,
            "AP@0.5:0.95": float(np.mean(values)) * 100,
            "gt_boxes": n_gt,
            "detections": int(np.count_nonzero(row_labels == label)),
        }
    return out


def breakdown(
    scored: ScoredDetections,
    gt_tubes: Mapping[str, np.ndarray],
    terciles: tuple[float, float] | None = None,
) -> dict[str, dict[str, dict[str, float]]]:
    """{"scene" | "motion" | "visibility" | "size": {group: {AP@0.5, AP@0.5:0.95, ...}}}."""
    n_gt = [len(f) for f in scored.gt_frames]
    out = {}
    for key in ("scene", "motion", "visibility"):
        values = [name_parts(v)[key] for v in scored.videos]
        names = sorted(set(values))
        video_label = np.array([names.index(v) for v in values], dtype=np.int64)
        out[key] = _ap_summary(
            scored, video_label[scored.video], np.repeat(video_label, n_gt), names
        )
    if terciles is None:
        terciles = size_terciles(gt_tubes[v] for v in scored.videos)
    # Size group of each GT box, and of each (video, frame) for the detections.
    gt_labels, row_labels = [], np.full(len(scored.score), -1, dtype=np.int64)
    for iv, video in enumerate(scored.videos):
        tube = np.asarray(gt_tubes[video], dtype=np.float64).reshape(-1, 5)
        label = np.searchsorted(terciles, box_size(tube[:, 1:5]), side="right")
        gt_labels.append(label)
        rows = scored.video_rows(iv)
        if len(tube):
            frame_label = np.full(int(max(tube[:, 0].max(), scored.frame[rows].max(initial=0))) + 1,
                                  -1, dtype=np.int64)
            frame_label[tube[::-1, 0].astype(np.int64)] = label[::-1]  # first box of a frame
            row_labels[rows] = frame_label[scored.frame[rows]]
    out["size"] = _ap_summary(
        scored, row_labels, np.concatenate(gt_labels + [np.empty(0, np.int64)]), list(SIZE_GROUPS)
    )
    return out


def per_video(scored: ScoredDetections) -> dict[str, dict[str, float]]:
    """AP@0.5 and AP@0.5:0.95 of every video on its own, to find failures."""
    per_th = {th: scored.ap_per_video(th) for th in THRESHOLDS_50_95}
    out = {}
    for iv, video in enumerate(scored.videos):
        rows = scored.video_rows(iv)
        out[video] = {
            "AP@0.5": per_th[0.5][video] * 100,
            "AP@0.5:0.95": float(np.mean([per_th[t][video] for t in THRESHOLDS_50_95])) * 100,
            "gt_boxes": len(scored.gt_frames[iv]),
            "detections": rows.stop - rows.start,
        }
    return out
