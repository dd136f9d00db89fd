"""Frame-level AP exactly as the reference evaluator computes it (protocol §9.1-9.2).

Detections for one video are an ``(N, 6)`` array ``frame, x1, y1, x2, y2, score`` (1-based
frames, original pixels); a ground-truth tube is an ``(nframes, 5)`` array ``frame, x1, y1, x2,
y2``. Every step keeps the reference's order of operations (per-frame rescoring, one global score
sort, greedy matching, trapezoid on the raw PR curve) but is vectorised with numpy:

* rescoring: :func:`iodvideo.evaluation.rescore.rescore_frames` (sparse overlap graph);
* matching: a detection's fate depends only on the detections ranked above it *on its own
  frame*, so TPs are found per frame (with one GT box, the first detection in the frame's score
  order whose IoU clears the threshold), once for all subsets of videos or frames;
* AP: only the global ranks of the TPs matter (FP steps add zero area), taken from one stable
  sort of all scores. Ties in score are broken by pooled row order (videos in ground-truth
  order, frames ascending, rows as given), a deterministic stand-in for the reference's
  quicksort, whose tie order is unspecified. Sums use ``math.fsum`` (exactly rounded), so the
  fast path equals the per-detection transcription in :mod:`iodvideo.evaluation.reference` bit
  for bit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from iodvideo.evaluation.rescore import frame_score_order, rescore_frames


def _iou_elementwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
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

    The reference treats x2, y2 as inclusive pixel indices: area = (x2−x1+1)(y2−y1+1) and the
    intersection width is min(x2)+1 − max(x1), clipped at 0. Returns ``(n,)``.
    """
    return _iou_elementwise(
        np.asarray(box, dtype=np.float64), np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    )


def rescore_frame(boxes: np.ndarray, scores: np.ndarray, threshold: float = 0.6) -> np.ndarray:
    """Linear soft-NMS-like rescoring of one frame's boxes (protocol §9.1 step 2).

    Going down the score order, the first remaining box multiplies the score of every other
    remaining box that overlaps it with IoU > ``threshold`` by 1 − IoU, and those boxes leave
    the remaining list (so they never suppress anything); no box is removed from the output.
    Ties in score are taken in input order. Returns the new scores in input order.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    # The +1 IoU of iou_plus1, inlined on contiguous columns: this loop is the evaluation hot spot.
    x1, y1, x2, y2 = boxes[order].T.copy()
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    weight = np.ones(len(scores))
    remaining = np.arange(len(scores))
    with np.errstate(divide="ignore", invalid="ignore"):
        while remaining.size > 1:
            i, rest = remaining[0], remaining[1:]
            inter = np.maximum(0.0, np.minimum(x2[i], x2[rest]) + 1 - np.maximum(x1[i], x1[rest]))
            inter *= np.maximum(0.0, np.minimum(y2[i], y2[rest]) + 1 - np.maximum(y1[i], y1[rest]))
            overlap = inter / (area[i] + area[rest] - inter)
            hit = overlap > threshold
            weight[order[rest[hit]]] = 1.0 - overlap[hit]
            remaining = rest[~hit]
    return scores * weight


def rescore_detections(dets: np.ndarray, threshold: float = 0.6) -> np.ndarray:
    """Apply :func:`rescore_frame` to each frame of one video's ``(N, 6)`` detections.

    The reference rescores each frame's merged box list independently before pooling all
    videos; rows keep their input order, only the score column changes. Computed for all
    frames at once by :func:`iodvideo.evaluation.rescore.rescore_frames` (same numbers).
    """
    dets = _as_rows(dets, 6, "detections")
    out = dets.copy()
    if len(dets):
        out[:, 5] = rescore_frames(dets[:, 0].astype(np.int64), dets[:, 1:5], dets[:, 5], threshold)
    return out


def average_precision(tp: np.ndarray, num_gt: int) -> float:
    """Trapezoidal area under the raw PR curve of detections in score order (protocol §9.2).

    The curve starts at (P=1, R=0) and has one point per detection; it is neither interpolated
    (no VOC envelope) nor extended past the last recall, which is what the reference reports.
    Returns a fraction in [0, 1].
    """
    if num_gt <= 0:
        raise ValueError("average precision needs at least one ground-truth box (num_gt = 0)")
    tp = np.asarray(tp, dtype=bool)
    true_pos = np.cumsum(tp)
    precision = np.concatenate(([1.0], true_pos / np.arange(1, len(tp) + 1)))
    recall = np.concatenate(([0.0], true_pos / num_gt))
    # math.fsum is exactly rounded, so the sum does not depend on how many zero-width (FP)
    # steps there are: the fast path, which visits only the TP steps, gives the same bits.
    return math.fsum(np.diff(recall) * (precision[1:] + precision[:-1]) / 2)


def _ap_from_ranks(ranks: np.ndarray, num_gt: int) -> float:
    """:func:`average_precision` from the 1-based ranks of the TPs in score order alone.

    FP steps add zero area, and the TP step at rank r after k − 1 earlier TPs goes from
    precision (k−1)/(r−1) (1 at the start) to k/r with recall (k−1)/G → k/G: the same
    floating-point terms as the full curve.
    """
    if num_gt <= 0:
        raise ValueError("average precision needs at least one ground-truth box (num_gt = 0)")
    ranks = np.sort(np.asarray(ranks, dtype=np.int64))
    k = np.arange(1, len(ranks) + 1)
    precision = k / ranks
    before = np.ones(len(ranks))
    later = ranks > 1
    before[later] = (k[later] - 1) / (ranks[later] - 1)
    recall_step = k / num_gt - (k - 1) / num_gt
    return math.fsum(recall_step * (precision + before) / 2)


def _as_rows(array: np.ndarray, columns: int, what: str) -> np.ndarray:
    """``array`` as float64 ``(n, columns)``; an empty input of any shape gives ``(0, columns)``."""
    out = np.asarray(array, dtype=np.float64)
    if out.size == 0:
        return out.reshape(0, columns)
    if out.ndim != 2 or out.shape[1] != columns:
        raise ValueError(f"{what} must be an (n, {columns}) array, got shape {out.shape}")
    return out


@dataclass(frozen=True)
class _GroundTruth:
    """GT boxes grouped per (video, frame): ``boxes (F, G, 4)`` padded, ``valid (F, G)``."""

    keys: np.ndarray  # (F,) sorted video·stride + frame
    boxes: np.ndarray
    valid: np.ndarray
    num_boxes: int


def _frame_keys(video: np.ndarray, frame: np.ndarray, stride: int) -> np.ndarray:
    return video.astype(np.int64) * stride + frame.astype(np.int64)


def _ground_truth(tubes: list[np.ndarray], stride: int) -> _GroundTruth:
    """Every row of every tube is one GT box of its (video, frame), as in the reference."""
    video = np.concatenate([np.full(len(t), iv) for iv, t in enumerate(tubes)] + [np.empty(0)])
    rows = np.concatenate([*tubes, np.empty((0, 5))])
    keys = _frame_keys(video, rows[:, 0], stride)
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


def _greedy_tp(
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


_CHUNK_ROWS = 1 << 21


@dataclass
class ScoredDetections:
    """Every detection of a set of videos after rescoring and matching (pooled order).

    Rows are pooled as the reference does: videos in ground-truth order, frames ascending,
    each frame's rows in input order. ``score`` is the rescored score, ``tp[th]`` the sorted
    pooled indices of the true positives at IoU threshold ``th``. Whether a detection is a TP
    depends only on its own frame, so any subset of videos or frames can be scored from this
    without matching again (:meth:`ap`).
    """

    videos: list[str]
    video: np.ndarray  # (n,) int32 index into videos
    frame: np.ndarray  # (n,) int32
    score: np.ndarray  # (n,) float64
    tp: dict[float, np.ndarray]
    gt_frames: list[np.ndarray]  # per video: frame number of every GT box
    _order: np.ndarray | None = None
    _rank: np.ndarray | None = None

    @property
    def thresholds(self) -> list[float]:
        return list(self.tp)

    def order(self) -> np.ndarray:
        """Pooled indices in the evaluator's score order: score descending, ties by pooled
        index (a stable sort; the reference's quicksort leaves ties in an unspecified order)."""
        if self._order is None:
            import torch

            _, index = torch.sort(torch.from_numpy(-self.score), stable=True)
            self._order = index.numpy()
        return self._order

    def num_gt(self) -> int:
        """GT boxes of all pooled videos (the AP denominator)."""
        return sum(len(f) for f in self.gt_frames)

    def rank_of_rows(self) -> np.ndarray:
        """0-based position of every pooled row in :meth:`order` (inverse permutation)."""
        if self._rank is None:
            order = self.order()
            self._rank = np.empty_like(order)
            self._rank[order] = np.arange(len(order))
        return self._rank

    def ap(self, threshold: float) -> float:
        """AP over all pooled videos."""
        return _ap_from_ranks(self.tp_ranks(threshold), self.num_gt())

    def tp_ranks(self, threshold: float) -> np.ndarray:
        """1-based ranks in :meth:`order` of the TPs at ``threshold``, ascending."""
        return np.sort(self.rank_of_rows()[self.tp[threshold]]) + 1

    def ap_by_label(
        self,
        row_labels: np.ndarray,
        labels: Sequence[int],
        thresholds: Sequence[float],
        gt_labels: np.ndarray,
    ) -> dict[int, dict[float, float]]:
        """AP of each label of a partition of the detections and GT boxes, per threshold.

        ``row_labels (n,)`` labels every pooled detection (−1: in no group) and ``gt_labels``
        every GT box (concatenated over videos in order). A group's AP is the AP of its
        detections alone against its GT boxes, exactly what the reference gives on a pickle
        restricted to that group (TPs are decided per frame). NaN for a group without GT.
        """
        rank = self.rank_of_rows()
        in_order = row_labels[self.order()]
        out: dict[int, dict[float, float]] = {}
        for label in labels:
            # Position of each row among the group's rows in score order (1-based).
            local = np.cumsum(in_order == label, dtype=np.int64)
            gt = int(np.count_nonzero(gt_labels == label))
            out[label] = {}
            for th in thresholds:
                rows = self.tp[th]
                rows = rows[row_labels[rows] == label]
                out[label][float(th)] = (
                    _ap_from_ranks(local[rank[rows]], gt) if gt else float("nan")
                )
        return out

    def video_rows(self, iv: int) -> slice:
        lo, hi = np.searchsorted(self.video, [iv, iv + 1])
        return slice(int(lo), int(hi))

    def ap_per_video(self, threshold: float) -> dict[str, float]:
        """AP of every video on its own (rows of one video are contiguous in pooled order)."""
        tp = np.zeros(len(self.score), dtype=bool)
        tp[self.tp[threshold]] = True
        out = {}
        for iv, name in enumerate(self.videos):
            rows = self.video_rows(iv)
            order = np.argsort(-self.score[rows], kind="stable")
            ranks = np.flatnonzero(tp[rows][order]) + 1
            out[name] = _ap_from_ranks(ranks, len(self.gt_frames[iv]))
        return out


def _check_detections(name: str, dets: np.ndarray) -> np.ndarray:
    dets = _as_rows(dets, 6, f"detections of video {name!r}")
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
    tubes = [_as_rows(gt_tubes[v], 5, f"ground-truth tube of video {v!r}") for v in videos]
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
    scores, found = _score_chunk(
        dets, local_video, tubes[first:last], thresholds, rescore, rescore_threshold
    )
    return dets[:, 0].astype(np.int32), scores, found


def _score_chunk(
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
    keys = _frame_keys(local_video, dets[:, 0], stride)
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
    iou = _iou_elementwise(dets[rows, 1:5], gt.boxes[slot[single], 0])
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
        iou[:] = _iou_elementwise(dets[rows, None, 1:5], gt.boxes[gt_frame])
        iou[~gt.valid[gt_frame]] = -np.inf
        for t in thresholds:
            parts[t].append(rows[_greedy_tp(iou, gt_frame, gt.valid, t)])
    return scores, {t: np.sort(np.concatenate(p)) for t, p in parts.items()}


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
    (:func:`rescore_detections`), pooled in ``gt_tubes`` order, sorted once by score (ties in
    pooled order), greedily matched per (video, frame) with the +1 IoU, each GT box at most
    once, and scored with :func:`average_precision`.
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
