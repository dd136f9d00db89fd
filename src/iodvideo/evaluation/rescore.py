"""Exact, vectorised per-frame rescoring of many frames at once (protocol §9.1 step 2).

The reference walks each frame's boxes in score order: the first remaining box (a *leader*)
multiplies the score of every other remaining box that overlaps it with IoU > t by 1 − IoU and
removes those boxes from the remaining list. So the leaders are exactly the boxes kept by
greedy hard NMS at t, and a suppressed box is weighted by its IoU with the *first* leader (in
score order) that overlaps it by more than t — that leader always comes before it.

Both sets follow from the sparse graph of box pairs with IoU > t, which this module builds
without looking at most pairs:

* IoU ≤ IoU of the x intervals (and of the y intervals), so IoU > t needs both 1-D IoUs > t.
  That bounds the width ratio to (t, 1/t) and the centre distance to (Wa + Wb)·ρ with
  ρ = (1 − t) / (2(1 + t)) (the same in y). Every box goes to a *row* keyed by its frame, its
  height level ⌊log H / log(1/t)⌋ and a y cell as tall as the largest y reach of its level, and
  rows are sorted by x centre; each box then scans only the x window of the (at most 3 × 2)
  rows of its own and the next height level that its y reach touches.
* The candidates found that way go through the exact IoU (the same floating-point expression as
  :func:`iodvideo.evaluation.frame_ap.rescore_frame`), and the resulting directed edges (earlier →
  later in score order) are resolved in rounds: a box is suppressed as soon as one of its
  in-neighbours is a leader, and a leader once all its in-neighbours are suppressed.

Every filter is a necessary condition widened by a relative margin of 1e-6, so no pair with
IoU > t is ever skipped; boxes with a non-positive or non-finite width or height overlap nothing
(their intersection is 0 or NaN), exactly as in the reference. The result equals the
frame-by-frame reference bit for bit (tests/evaluation/test_rescore.py checks this on random,
clustered and degenerate sets).
"""

from __future__ import annotations

import numpy as np

_MARGIN = 1.0 + 1e-6
_CHUNK_ROWS = 1 << 16


def _column_iou(
    x1: np.ndarray, y1: np.ndarray, x2: np.ndarray, y2: np.ndarray, u: np.ndarray, v: np.ndarray
) -> np.ndarray:
    """IoU (+1 pixel convention) of rows ``u`` and ``v``, from contiguous coordinate columns.

    The operations and their order are those of the reference loop (intersection width, times
    intersection height, over area(u) + area(v) − intersection; u is the earlier box, the
    leader there), so the results are bit-identical to it.
    """
    ax1, ay1, ax2, ay2 = x1.take(u), y1.take(u), x2.take(u), y2.take(u)
    bx1, by1, bx2, by2 = x1.take(v), y1.take(v), x2.take(v), y2.take(v)
    iw = np.maximum(0.0, np.minimum(ax2, bx2) + 1 - np.maximum(ax1, bx1))
    iw *= np.maximum(0.0, np.minimum(ay2, by2) + 1 - np.maximum(ay1, by1))
    area_a = (ax2 - ax1 + 1) * (ay2 - ay1 + 1)
    area_b = (bx2 - bx1 + 1) * (by2 - by1 + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return iw / (area_a + area_b - iw)


def frame_score_order(keys: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Row order grouping equal ``keys`` (ascending), each group by score descending, ties by
    row index: the order in which the reference visits each frame's boxes."""
    by_score = np.argsort(-scores, kind="stable")
    return by_score[np.argsort(keys[by_score], kind="stable")]


def rescore_frames(
    keys: np.ndarray, boxes: np.ndarray, scores: np.ndarray, threshold: float = 0.6
) -> np.ndarray:
    """Rescored scores of many frames' boxes; ``keys (n,)`` integers name the frame of each row.

    Equivalent to applying :func:`iodvideo.evaluation.frame_ap.rescore_frame` to every group of
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
    found = _overlap_edges(keys, boxes, threshold)
    if found is None:  # coordinates too extreme for the row keys: slow but exact
        return _rescore_loop(keys, boxes, scores, threshold)
    u, v, iou = found
    weight = _resolve_greedy(len(scores), u, v, iou)
    return scores * weight


def _rescore_loop(
    keys: np.ndarray, boxes: np.ndarray, scores: np.ndarray, threshold: float
) -> np.ndarray:
    from iodvideo.evaluation.frame_ap import rescore_frame

    out = np.empty_like(scores)
    bounds = np.r_[0, np.flatnonzero(keys[1:] != keys[:-1]) + 1, len(keys)]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        out[a:b] = rescore_frame(boxes[a:b], scores[a:b], threshold)
    return out


def _overlap_edges(
    keys: np.ndarray, boxes: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """All pairs (u < v, same frame) with IoU(u, v) > threshold, and that IoU.

    ``None`` when the row keys would overflow (absurd coordinates); the caller then loops.
    """
    x1, y1, x2, y2 = (np.ascontiguousarray(boxes[:, i]) for i in range(4))
    width, height = x2 - x1 + 1, y2 - y1 + 1
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(boxes).all(axis=1) & (width > 0) & (height > 0)
    idx = np.flatnonzero(valid)
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    if idx.size < 2:
        return empty
    w, h = width[idx], height[idx]
    cx, cy = x1[idx] + x2[idx], y1[idx] + y2[idx]  # twice the centre
    step = np.log(1.0 / threshold) * (1.0 + 1e-9)
    ratio = np.exp(step)
    rho = (1.0 - threshold) / (2.0 * (1.0 + threshold)) * _MARGIN
    level_w = np.floor(np.log(w) / step).astype(np.int64)
    level_h = np.floor(np.log(h) / step).astype(np.int64)

    # Row height of height level l (in doubled-centre units): the largest y reach of a pair
    # whose lower level is l, i.e. 2·ρ·(c^(l+1) + c^(l+2)).
    lh_min = int(level_h.min())
    levels = np.arange(lh_min, int(level_h.max()) + 2)
    row_h = 2 * rho * (ratio ** (levels + 1) + ratio ** (levels + 2)) * _MARGIN + 1e-9
    frame = np.searchsorted(np.unique(keys[idx]), keys[idx])
    row_y = np.floor(cy / row_h[level_h - lh_min]).astype(np.int64)
    y_lo = int(min(row_y.min(), np.floor((cy.min() - row_h.max()) / row_h.min()))) - 2
    y_hi = int(max(row_y.max(), np.ceil((cy.max() + row_h.max()) / row_h.min()))) + 2
    n_levels, n_rows = len(levels) + 1, y_hi - y_lo + 1
    if float(frame.max() + 1) * n_levels * n_rows >= 2.0**62:
        return None

    def row_key(frm: np.ndarray, lvl: np.ndarray, row: np.ndarray) -> np.ndarray:
        return (frm * n_levels + (lvl - lh_min)) * n_rows + (row - y_lo)

    rkey = row_key(frame, level_h, row_y)
    unique_rows, row_rank = np.unique(rkey, return_inverse=True)
    span = float(2.0 ** np.ceil(np.log2(cx.max() - cx.min() + 4 * w.max() + 4)))
    if span * len(unique_rows) >= 2.0**50:
        return None
    x_off = cx - cx.min() + 2 * w.max() + 2  # positive, < span
    sort_key = row_rank * span + x_off
    by_row = np.argsort(sort_key, kind="stable")
    sorted_key = sort_key[by_row]
    row_first = np.searchsorted(row_rank[by_row], np.arange(len(unique_rows)))
    row_end = np.r_[row_first[1:], len(by_row)]

    # Per row: largest width and height, to bound the reach of a probe into that row.
    row_wmax = np.maximum.reduceat(w[by_row], row_first)
    row_hmax = np.maximum.reduceat(h[by_row], row_first)
    self_pos = np.empty_like(by_row)
    self_pos[by_row] = np.arange(len(by_row))

    # Probes: every row of the own height level at or after the own y cell, and every row of
    # the next level, that the y reach of the box touches. A same-level pair is then seen once
    # (from the box with the lower cell, or the lower x within one row: the own row is scanned
    # forward only), a cross-level pair once, from its lower-level box.
    reach_y = 2 * rho * h * (1.0 + 1.0 / threshold) * _MARGIN + 1e-9
    probe_p, probe_row = [], []
    # Row lookups through a dense table when the key space is small (the usual case).
    table = None
    key_space = (int(frame.max()) + 1) * n_levels * n_rows
    if key_space <= 1 << 23:
        table = np.full(key_space, -1, dtype=np.int64)
        table[unique_rows] = np.arange(len(unique_rows))
    for dl in (0, 1):
        lvl = level_h + dl
        cell = row_h[lvl - lh_min]
        first = np.floor((cy - reach_y) / cell).astype(np.int64)
        last = np.floor((cy + reach_y) / cell).astype(np.int64)
        if dl == 0:
            first = np.maximum(first, row_y)
        for dr in range(3):
            row = first + dr
            take = np.flatnonzero(row <= last)
            wanted = row_key(frame[take], lvl[take], row[take])
            if table is not None:
                rank = table[wanted]
                hit = rank >= 0
            else:
                rank = np.searchsorted(unique_rows, wanted).clip(max=len(unique_rows) - 1)
                hit = unique_rows[rank] == wanted
            probe_p.append(take[hit])
            probe_row.append(rank[hit])
    p = np.concatenate(probe_p)
    prow = np.concatenate(probe_row)
    partner_w = np.minimum(w[p] / threshold, row_wmax[prow])
    reach_x = 2 * rho * (w[p] + partner_w) * _MARGIN + 1e-9
    partner_h = np.minimum(h[p] / threshold, row_hmax[prow])
    reach_yp = 2 * rho * (h[p] + partner_h) * _MARGIN + 1e-9
    # The row's y cell may be out of reach once its real heights are known.
    lvl_of_row = (unique_rows[prow] // n_rows) % n_levels + lh_min
    row_of = unique_rows[prow] % n_rows + y_lo
    cell = row_h[lvl_of_row - lh_min]
    keep = (row_of * cell <= cy[p] + reach_yp) & ((row_of + 1) * cell >= cy[p] - reach_yp)
    p, prow, reach_x = p[keep], prow[keep], reach_x[keep]
    # Keys are rounded to a few units of the last place: widen both window ends by more.
    eps = float(len(unique_rows)) * span * 2.0**-48 + 1e-9
    base = prow * span + x_off[p]
    start = np.maximum(np.searchsorted(sorted_key, base - reach_x - eps), row_first[prow])
    own_row = prow == row_rank[p]
    start[own_row] = self_pos[p[own_row]] + 1
    stop = np.minimum(np.searchsorted(sorted_key, base + reach_x + eps), row_end[prow])
    length = np.maximum(stop - start, 0)
    busy = length > 0
    p, start, length = p[busy], start[busy], length[busy]

    # Expand every probe's window into (p, position) pairs, a batch at a time, and keep the
    # pairs that pass the reach conditions on their real sizes.
    sx, sy, sw, sh = cx[by_row], cy[by_row], w[by_row], h[by_row]
    slw = level_w[by_row]
    two_rho = 2 * rho
    cand_p, cand_q = [], []
    total = np.cumsum(length)
    batch_start = 0
    while batch_start < len(p):
        limit = (total[batch_start - 1] if batch_start else 0) + (1 << 21)
        batch_stop = max(int(np.searchsorted(total, limit, side="right")), batch_start + 1)
        sl = slice(batch_start, batch_stop)
        batch_start = batch_stop
        n_len = length[sl]
        count = int(total[batch_stop - 1] - (total[sl.start - 1] if sl.start else 0))
        offsets = np.cumsum(n_len) - n_len
        pos = np.repeat(start[sl] - offsets, n_len)
        pos += np.arange(count)
        pb = p[sl]
        pp = np.repeat(pb, n_len)
        near = np.abs(np.repeat(level_w[pb], n_len) - slw.take(pos)) <= 1
        near &= np.abs(np.repeat(cx[pb], n_len) - sx.take(pos)) < (
            np.repeat(w[pb], n_len) + sw.take(pos)) * two_rho
        near &= np.abs(np.repeat(cy[pb], n_len) - sy.take(pos)) < (
            np.repeat(h[pb], n_len) + sh.take(pos)) * two_rho
        cand_p.append(pp[near])
        cand_q.append(by_row.take(pos[near]))
    if not cand_p:
        return empty
    a = idx[np.concatenate(cand_p)]
    b = idx[np.concatenate(cand_q)]
    u, v = np.minimum(a, b), np.maximum(a, b)
    iou = _column_iou(x1, y1, x2, y2, u, v)
    over = iou > threshold
    return u[over], v[over], iou[over]


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
