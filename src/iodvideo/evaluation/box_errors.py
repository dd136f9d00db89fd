"""Why boxes miss at strict IoU: the top detection of every GT frame, split into centre and size
error (beyond the paper; issue 31's "AP against IoU threshold" question).

AP@0.5 says the detector finds the object; AP@0.75 says its box fits. When the two differ
a lot, one wants to know whether the centre or the size is off, and by how much. For every
GT box this takes the frame's highest-scoring detection (what a user sees first) and
reports its IoU, its centre error as a fraction of the GT box's width/height, and its log
size ratios (0 = right size; 0.22 ≈ 25 % too large). Two "what if" IoUs isolate each part:
the IoU with the detection's size but the GT centre (``iou_if_centred``), and with its
centre but the GT size (``iou_if_sized``) — the component whose fix raises IoU most is the
one to work on. IoU is the evaluator's (+1 pixel convention, protocol §9.1). Frames without a
detection are counted, not scored.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from iodvideo.detections.iou import iou_elementwise

# the IoU levels whose hit rates the summary reports
HIT_LEVELS = (0.5, 0.75)


def _recentred(boxes: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """``boxes`` moved so that their centres are ``centres (n, 2)``, sizes kept."""
    half = (boxes[:, 2:4] - boxes[:, 0:2]) / 2
    return np.concatenate((centres - half, centres + half), axis=1)


def top_detection_errors(
    detections: Mapping[str, np.ndarray], gt_boxes: Mapping[str, np.ndarray]
) -> np.ndarray:
    """One row per GT box whose frame has a detection: ``iou, dx, dy, log_w, log_h,
    iou_if_centred, iou_if_sized`` (see the module docstring), from per-video detection rows
    ``(M, 6)`` frame, x1, y1, x2, y2, score and GT rows ``(n, 5)`` frame, x1, y1, x2, y2."""
    rows: list[np.ndarray] = []
    for video, gt in gt_boxes.items():
        gt = np.asarray(gt, dtype=np.float64).reshape(-1, 5)
        dets = np.asarray(detections.get(video, np.empty((0, 6))), dtype=np.float64)
        dets = dets.reshape(-1, 6)
        if not len(gt) or not len(dets):
            continue
        order = np.lexsort((-dets[:, 5], dets[:, 0]))  # by frame, best score first
        frames, first = np.unique(dets[order, 0], return_index=True)
        top = dets[order[first]]
        where = np.searchsorted(frames, gt[:, 0])
        found = (where < len(frames)) & (frames[np.minimum(where, len(frames) - 1)] == gt[:, 0])
        if not found.any():
            continue
        truth, pred = gt[found, 1:5], top[where[found], 1:5]
        size_t = np.clip(truth[:, 2:4] - truth[:, 0:2], 1e-6, None)
        size_p = np.clip(pred[:, 2:4] - pred[:, 0:2], 1e-6, None)
        centre_t = (truth[:, 0:2] + truth[:, 2:4]) / 2
        centre_p = (pred[:, 0:2] + pred[:, 2:4]) / 2
        rows.append(np.column_stack((
            iou_elementwise(pred, truth),
            (centre_p - centre_t) / size_t,
            np.log(size_p / size_t),
            iou_elementwise(_recentred(pred, centre_t), truth),
            iou_elementwise(_recentred(truth, centre_p), truth),
        )))
    return np.concatenate(rows) if rows else np.empty((0, 7))


def summarise_box_errors(
    detections: Mapping[str, np.ndarray], gt_boxes: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """The table eval writes (report.md "Box errors", metrics.json ``box_errors``): hit rates
    of the top detection at IoU 0.5 and 0.75, the two "what if" rates at 0.75, and the centre
    and size errors of the top detections that reach IoU 0.5 (median |dx|, |dy|; mean and
    spread of the log size ratios)."""
    errors = top_detection_errors(detections, gt_boxes)
    total = int(sum(len(np.asarray(g).reshape(-1, 5)) for g in gt_boxes.values()))
    out: dict[str, float] = {"gt_boxes": total, "scored_frames": int(len(errors))}
    if not len(errors):
        return out
    iou, dx, dy, log_w, log_h, centred, sized = errors.T
    for level in HIT_LEVELS:
        out[f"top1_iou>={level:g}"] = float(np.mean(iou >= level) * 100)
    out["top1_iou>=0.75_if_centred"] = float(np.mean(centred >= 0.75) * 100)
    out["top1_iou>=0.75_if_sized"] = float(np.mean(sized >= 0.75) * 100)
    hit = iou >= 0.5
    if hit.any():
        out["hits_median_abs_dx"] = float(np.median(np.abs(dx[hit])))
        out["hits_median_abs_dy"] = float(np.median(np.abs(dy[hit])))
        out["hits_log_w_mean"] = float(np.mean(log_w[hit]))
        out["hits_log_w_sd"] = float(np.std(log_w[hit]))
        out["hits_log_h_mean"] = float(np.mean(log_h[hit]))
        out["hits_log_h_sd"] = float(np.std(log_h[hit]))
    return out


def box_error_table(summary: Mapping[str, float]) -> str:
    """A two-column markdown table of :func:`summarise_box_errors`."""
    lines = ["| top detection per GT frame | value |", "|---|---|"]
    for key, value in summary.items():
        text = f"{value:.1f} %" if key.startswith("top1_") else (
            f"{value:d}" if isinstance(value, int) else f"{value:.3f}")
        lines.append(f"| {key} | {text} |")
    return "\n".join(lines)
