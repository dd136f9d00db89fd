"""Frame-level AP exactly as the reference evaluator computes it (protocol §9.1-9.2).

Detections for one video are an ``(N, 6)`` array ``frame, x1, y1, x2, y2, score`` (1-based
frames, original pixels); a ground-truth tube is an ``(nframes, 5)`` array ``frame, x1, y1, x2,
y2``. Every step keeps the reference's order of operations (per-frame rescoring, one global score
sort, greedy matching, trapezoid on the raw PR curve) but is vectorised with numpy:

* rescoring: :func:`iodvideo.detections.rescore.rescore_frames` (sparse overlap graph);
* matching (:mod:`iodvideo.evaluation.matching`): a detection's fate depends only on the
  detections ranked above it *on its own frame*, so TPs are found per frame, once for all
  subsets of videos or frames (:class:`~iodvideo.evaluation.scored.ScoredDetections`);
* AP (:mod:`iodvideo.evaluation.ap`): only the global ranks of the TPs matter (FP steps add
  zero area), taken from one stable sort of all scores. Ties in score are broken by pooled
  row order (videos in ground-truth order, frames ascending, rows as given), a deterministic
  stand-in for the reference's quicksort, whose tie order is unspecified. Sums use
  ``math.fsum`` (exactly rounded), so the fast path equals the per-detection transcription in
  :mod:`iodvideo.evaluation.reference` bit for bit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from iodvideo.detections.rows import as_rows
from iodvideo.evaluation.matching import score_chunk
from iodvideo.evaluation.scored import ScoredDetections

_CHUNK_ROWS = 1 << 21


def _check_detections(name: str, dets: np.ndarray) -> np.ndarray:
    dets = as_rows(dets, 6, f"detections of video {name!r}")
    if not np.isfinite(dets).all():
        bad = int(np.count_nonzero(~np.isfinite(dets).all(axis=1)))
        raise ValueError(f"detections of video {name!r}: {bad} row(s) with NaN or infinite values")
    if len(dets) and dets[:, 0].min() < 1:
        raise ValueError(f"frame numbers are 1-based, found {dets[:, 0].min():g} in {name!r}")
    if len(dets) and not np.array_equal(dets[:, 0], np.round(dets[:, 0])):
        raise ValueError(f"detections of video {name!r}: frame numbers must be integers")
    return dets


def score_detections(
    detections: Mapping[str, np.ndarray],
    gt_tubes: Mapping[str, np.ndarray],
    iou_thresholds: Sequence[float],
    rescore: bool = True,
    rescore_threshold: float = 0.6,
    workers: int | None = None,
) -> ScoredDetections:
    """Rescore and match every detection of the videos in ``gt_tubes`` (reference §9.1-9.2).

    Detections of videos absent from ``gt_tubes`` are ignored; videos without detections
    still count their GT boxes. Work is done a few videos at a time, so memory stays at a few
    arrays of one value per detection. ``workers > 1`` spreads those units over forked
    processes (numpy only in the workers; default 1, which is what the Lightning module uses).
    """
    thresholds = [float(t) for t in iou_thresholds]
    videos = list(gt_tubes)
    tubes = [as_rows(gt_tubes[v], 5, f"ground-truth tube of video {v!r}") for v in videos]
    for v, tube in zip(videos, tubes, strict=True):
        if len(tube) and tube[:, 0].min() < 1:
            raise ValueError(f"frame numbers are 1-based, found {tube[:, 0].min():g} in {v!r}")
    sizes = [len(detections[v]) if v in detections else 0 for v in videos]
    total = int(sum(sizes))
    video_col = np.repeat(np.arange(len(videos), dtype=np.int32), sizes)
    frame_col = np.empty(total, dtype=np.int32)
    score_col = np.empty(total, dtype=np.float64)
    tp_parts: dict[float, list[np.ndarray]] = {t: [] for t in thresholds}

    ranges, first = [], 0
    while first < len(videos):
        last, rows = first, 0
        while last < len(videos) and (last == first or rows + sizes[last] <= _CHUNK_ROWS):
            rows += sizes[last]
            last += 1
        ranges.append((first, last))
        first = last
    job = (detections, videos, tubes, sizes, thresholds, rescore, rescore_threshold)
    if workers is None:
        workers = 1
    if workers > 1 and len(ranges) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        global _JOB
        _JOB = job  # read by the forked workers, never pickled
        try:
            with ProcessPoolExecutor(
                max_workers=workers, mp_context=multiprocessing.get_context("fork")
            ) as pool:
                results = list(pool.map(_score_range, ranges))
        finally:
            _JOB = None
    else:
        results = [_score_range(r, job) for r in ranges]
    offset = 0
    for frames, scores, found in results:
        frame_col[offset : offset + len(frames)] = frames
        score_col[offset : offset + len(frames)] = scores
        for t in thresholds:
            tp_parts[t].append(found[t] + offset)
        offset += len(frames)
    tp = {t: np.sort(np.concatenate(parts)) for t, parts in tp_parts.items()}
    return ScoredDetections(
        videos, video_col, frame_col, score_col, tp, [t[:, 0].astype(np.int64) for t in tubes]
    )


_JOB: tuple | None = None


def _score_range(
    video_range: tuple[int, int], job: tuple | None = None
) -> tuple[np.ndarray, np.ndarray, dict[float, np.ndarray]]:
    """Frames, rescored scores and TP rows of videos ``first:last`` (one work unit)."""
    detections, videos, tubes, sizes, thresholds, rescore, rescore_threshold = job or _JOB
    first, last = video_range
    chunk = [
        _check_detections(videos[i], detections[videos[i]]) if sizes[i] else np.empty((0, 6))
        for i in range(first, last)
    ]
    chunk = [d[np.argsort(d[:, 0], kind="stable")] for d in chunk]
    dets = np.concatenate(chunk) if chunk else np.empty((0, 6))
    local_video = np.repeat(np.arange(last - first), [len(d) for d in chunk])
    scores, found = score_chunk(
        dets, local_video, tubes[first:last], thresholds, rescore, rescore_threshold
    )
    return dets[:, 0].astype(np.int32), scores, found


def frame_ap_at(
    detections: Mapping[str, np.ndarray],
    gt_tubes: Mapping[str, np.ndarray],
    iou_thresholds: Sequence[float],
    rescore: bool = True,
) -> dict[float, float]:
    """Single-class frame AP (fraction) at each IoU threshold, rescoring only once.

    Reproduces the reference protocol: the GT is every row of every tube in ``gt_tubes``, so
    videos without detections still count; detections of videos absent from ``gt_tubes`` are
    ignored (this is how the clear/vague subsets are scored); detections are rescored per frame
    (:func:`iodvideo.detections.rescore.rescore_detections`), pooled in ``gt_tubes`` order,
    sorted once by score (ties in pooled order), greedily matched per (video, frame) with the +1
    IoU, each GT box at most once, and scored with :func:`iodvideo.evaluation.ap.average_precision`.
    """
    scored = score_detections(detections, gt_tubes, iou_thresholds, rescore)
    if scored.num_gt() == 0:
        raise ValueError("average precision needs at least one ground-truth box (num_gt = 0)")
    return {t: scored.ap(t) for t in scored.thresholds}


def frame_ap(
    detections: Mapping[str, np.ndarray],
    gt_tubes: Mapping[str, np.ndarray],
    iou_threshold: float = 0.5,
    rescore: bool = True,
) -> float:
    """Single-class frame AP (fraction) at one IoU threshold; see :func:`frame_ap_at`."""
    return frame_ap_at(detections, gt_tubes, [iou_threshold], rescore)[float(iou_threshold)]
