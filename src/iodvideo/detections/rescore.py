"""Per-frame linear rescoring of merged detections (protocol §9.1 step 2), one frame or many.

The reference walks each frame's boxes in score order: the first remaining box (a *leader*)
multiplies the score of every other remaining box that overlaps it with IoU > t by 1 − IoU and
removes those boxes from the remaining list (:func:`rescore_frame`, a direct transcription).
So the leaders are exactly the boxes kept by greedy hard NMS at t, and a suppressed box is
weighted by its IoU with the *first* leader (in score order) that overlaps it by more than t —
that leader always comes before it.

:func:`rescore_frames` does all frames at once from the sparse graph of pairs with IoU > t
(:mod:`iodvideo.detections.overlap`): the directed edges (earlier → later in score order) are
resolved in rounds — a box is suppressed as soon as one of its in-neighbours is a leader, and a
leader once all its in-neighbours are suppressed. The result equals the frame-by-frame loop bit
for bit (tests/detections/test_rescore.py checks this on random, clustered and degenerate
sets). Prediction uses the same functions to rank each frame's boxes, so what a user sees is
what the evaluator scores.
"""

from __future__ import annotations

import numpy as np

from iodvideo.detections.overlap import overlap_edges
from iodvideo.detections.rows import as_rows

_CHUNK_ROWS = 1 << 16


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
    # The +1 IoU of iou_plus1, inlined on contiguous columns: this loop is a hot spot.
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
    frames at once by :func:`rescore_frames` (same numbers).
    """
    dets = as_rows(dets, 6, "detections")
    out = dets.copy()
    if len(dets):
        out[:, 5] = rescore_frames(dets[:, 0].astype(np.int64), dets[:, 1:5], dets[:, 5], threshold)
    return out


def frame_score_order(keys: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Row order grouping equal ``keys`` (ascending), each group by score descending, ties by
    row index: the order in which the reference visits each frame's boxes."""
    by_score = np.argsort(-scores, kind="stable")
    return by_score[np.argsort(keys[by_score], kind="stable")]


def rescore_frames(
    keys: np.ndarray, boxes: np.ndarray, scores: np.ndarray, threshold: float = 0.6
) -> np.ndarray:
    """Rescored scores of many frames' boxes; ``keys (n,)`` integers name the frame of each row.

    Equivalent to applying :func:`rescore_frame` to every group of
    equal keys, in input row order; much faster for large inputs. ``boxes (n, 4)`` are x1, y1,
    x2, y2; ``scores (n,)`` must not be NaN.
    """
    keys = np.asarray(keys, dtype=np.int64)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64)
    out = scores.copy()
    if len(scores) == 0:
        return out
    order = frame_score_order(keys, scores)
    keys, boxes, scores = keys[order], boxes[order], scores[order]
    # Frame boundaries, so chunks never split a frame.
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    new = np.empty_like(scores)
    lo = 0
    while lo < len(starts):
        hi = int(np.searchsorted(starts, starts[lo] + _CHUNK_ROWS, side="right"))
        hi = max(hi, lo + 1)
        a, b = int(starts[lo]), int(ends[hi - 1])
        new[a:b] = _rescore_sorted(keys[a:b], boxes[a:b], scores[a:b], threshold)
        lo = hi
    out[order] = new
    return out


def _rescore_sorted(
    keys: np.ndarray, boxes: np.ndarray, scores: np.ndarray, threshold: float
) -> np.ndarray:
    """Rows sorted by (frame, reference visiting order): rescored scores in the same order."""
    if threshold >= 1.0:  # IoU never exceeds 1: nothing is ever suppressed
        return scores.copy()
    if not threshold > 0.0:
        return _rescore_loop(keys, boxes, scores, threshold)
    found = overlap_edges(keys, boxes, threshold)
    if found is None:  # coordinates too extreme for the row keys: slow but exact
        return _rescore_loop(keys, boxes, scores, threshold)
    u, v, iou = found
    weight = _resolve_greedy(len(scores), u, v, iou)
    return scores * weight


def _rescore_loop(
    keys: np.ndarray, boxes: np.ndarray, scores: np.ndarray, threshold: float
) -> np.ndarray:
    out = np.empty_like(scores)
    bounds = np.r_[0, np.flatnonzero(keys[1:] != keys[:-1]) + 1, len(keys)]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        out[a:b] = rescore_frame(boxes[a:b], scores[a:b], threshold)
    return out


def _resolve_greedy(n: int, u: np.ndarray, v: np.ndarray, iou: np.ndarray) -> np.ndarray:
    """Weights of the reference rescoring from the IoU > t edges u → v (u earlier).

    Leaders are the boxes without a leader in-neighbour; a suppressed box takes 1 − IoU with
    its earliest leader in-neighbour. Resolved in rounds: each round decides every box whose
    in-neighbours are all decided (or one of which is a leader).
    """
    weight = np.ones(n)
    if u.size == 0:
        return weight
    state = np.ones(n, dtype=np.int8)  # 0 undecided, 1 leader, 2 suppressed
    state[v] = 0
    eu, ev = u, v
    while eu.size:
        su = state[eu]
        leader_in = np.zeros(n, dtype=bool)
        leader_in[ev[su == 1]] = True
        pending = np.zeros(n, dtype=bool)
        pending[ev[su == 0]] = True
        undecided = state == 0
        state[undecided & leader_in] = 2
        state[undecided & ~leader_in & ~pending] = 1
        keep = state[ev] == 0
        eu, ev = eu[keep], ev[keep]
    # Earliest leader in-neighbour of each suppressed box.
    by_leader = state[u] == 1
    lu, lv, liou = u[by_leader], v[by_leader], iou[by_leader]
    first = np.lexsort((lu, lv))
    lv, liou = lv[first], liou[first]
    head = np.r_[True, lv[1:] != lv[:-1]]
    weight[lv[head]] = 1.0 - liou[head]
    return weight
