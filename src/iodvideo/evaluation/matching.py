"""Greedy matching of rescored detections to GT boxes, vectorised over frames (§9.2).

A detection's fate depends only on the detections ranked above it *on its own frame*, so TPs
are found per frame: with one GT box, the first detection in the frame's score order whose IoU
clears the threshold; with several, the reference's greedy rounds (:func:`greedy_tp`). Done
once per chunk of videos for every threshold at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from iodvideo.detections.iou import iou_elementwise
from iodvideo.detections.rescore import frame_score_order, rescore_frames


@dataclass(frozen=True)
class _GroundTruth:
    """GT boxes grouped per (video, frame): ``boxes (F, G, 4)`` padded, ``valid (F, G)``."""

    keys: np.ndarray  # (F,) sorted video·stride + frame
    boxes: np.ndarray
    valid: np.ndarray
    num_boxes: int


def frame_keys(video: np.ndarray, frame: np.ndarray, stride: int) -> np.ndarray:
    """One sortable integer per (video, frame); ``stride`` exceeds every frame number."""
    return video.astype(np.int64) * stride + frame.astype(np.int64)


def _ground_truth(tubes: list[np.ndarray], stride: int) -> _GroundTruth:
    """Every row of every tube is one GT box of its (video, frame), as in the reference."""
    video = np.concatenate([np.full(len(t), iv) for iv, t in enumerate(tubes)] + [np.empty(0)])
    rows = np.concatenate([*tubes, np.empty((0, 5))])
    keys = frame_keys(video, rows[:, 0], stride)
    order = np.argsort(keys, kind="stable")
    keys, rows = keys[order], rows[order]
    unique, first, counts = np.unique(keys, return_index=True, return_counts=True)
    slot = np.arange(len(keys)) - np.repeat(first, counts)
    width = int(counts.max()) if len(counts) else 0
    boxes = np.full((len(unique), width, 4), np.nan)
    valid = np.zeros((len(unique), width), dtype=bool)
    frame_index = np.repeat(np.arange(len(unique)), counts)
    boxes[frame_index, slot] = rows[:, 1:5]
    valid[frame_index, slot] = True
    return _GroundTruth(unique, boxes, valid, len(keys))


def greedy_tp(
    iou: np.ndarray, gt_frame: np.ndarray, valid: np.ndarray, threshold: float
) -> np.ndarray:
    """Reference greedy matching, vectorised over frames.

    Detections arrive in score order; ``iou (n, G)`` against their frame's GT slots and
    ``gt_frame (n,)`` their GT-frame index (−1: no GT, always FP). In the reference each
    detection takes the best still-unmatched GT of its frame and is a TP when that IoU ≥
    ``threshold``. Between two matches on a frame its unmatched set is fixed, so each round
    finds, for every frame at once, the first later detection whose best IoU over the unmatched
    GT clears the threshold (ties between GT boxes go to the first); at most G + 1 rounds.
    """
    tp = np.zeros(len(gt_frame), dtype=bool)
    unmatched = valid.copy()
    candidates = np.flatnonzero(gt_frame >= 0)
    while candidates.size:
        frames = gt_frame[candidates]
        open_iou = np.where(unmatched[frames], iou[candidates], -np.inf)
        hits = np.flatnonzero(open_iou.max(axis=1) >= threshold)
        if hits.size == 0:
            break
        matched_frames, first = np.unique(frames[hits], return_index=True)
        winners = hits[first]
        tp[candidates[winners]] = True
        unmatched[matched_frames, open_iou[winners].argmax(axis=1)] = False
        # Earlier detections on a matched frame are FPs; frames without a match are done.
        last = np.full(len(valid), len(candidates))
        last[matched_frames] = winners
        candidates = candidates[np.arange(len(candidates)) > last[frames]]
    return tp


def score_chunk(
    dets: np.ndarray,
    local_video: np.ndarray,
    tubes: list[np.ndarray],
    thresholds: list[float],
    rescore: bool,
    rescore_threshold: float,
) -> tuple[np.ndarray, dict[float, np.ndarray]]:
    """Rescored scores and TP row indices (per threshold) of a few videos' pooled rows."""
    frames = np.concatenate([dets[:, 0], *(t[:, 0] for t in tubes), [0.0]])
    stride = int(frames.max()) + 1
    keys = frame_keys(local_video, dets[:, 0], stride)
    scores = dets[:, 5]
    if rescore and len(dets):
        scores = rescore_frames(keys, dets[:, 1:5], scores, rescore_threshold)
    tp: dict[float, np.ndarray] = {t: np.empty(0, dtype=np.int64) for t in thresholds}
    if not len(dets) or not thresholds:
        return scores, tp
    gt = _ground_truth(tubes, stride)
    # Each frame's detections in the evaluator's order (score descending, ties by row).
    order = frame_score_order(keys, scores)
    okeys = keys[order]
    slot = np.searchsorted(gt.keys, okeys).clip(max=max(len(gt.keys) - 1, 0))
    found = gt.keys[slot] == okeys if len(gt.keys) else np.zeros(len(okeys), dtype=bool)
    gt_count = gt.valid.sum(axis=1)
    single = found & (gt_count[slot] == 1) if len(gt.keys) else found
    multi = found & ~single

    # One GT box: the first detection (in frame order) with IoU >= th is the TP.
    rows = order[single]
    iou = iou_elementwise(dets[rows, 1:5], gt.boxes[slot[single], 0])
    hit = iou >= min(thresholds)
    rows, iou, frame_of = rows[hit], iou[hit], okeys[single][hit]
    parts: dict[float, list[np.ndarray]] = {t: [] for t in thresholds}
    for t in thresholds:
        take = iou >= t
        f = frame_of[take]
        head = np.r_[True, f[1:] != f[:-1]] if f.size else np.zeros(0, dtype=bool)
        parts[t].append(rows[take][head])

    # Several GT boxes on a frame: the general greedy matching.
    if multi.any():
        rows = order[multi]
        gt_frame = slot[multi]
        iou = np.full((len(rows), gt.boxes.shape[1]), -np.inf)
        iou[:] = iou_elementwise(dets[rows, None, 1:5], gt.boxes[gt_frame])
        iou[~gt.valid[gt_frame]] = -np.inf
        for t in thresholds:
            parts[t].append(rows[greedy_tp(iou, gt_frame, gt.valid, t)])
    return scores, {t: np.sort(np.concatenate(p)) for t, p in parts.items()}
