"""The sparse graph of same-frame box pairs with IoU > t, without looking at most pairs.

IoU ≤ IoU of the x intervals (and of the y intervals), so IoU > t needs both 1-D IoUs > t.
That bounds the width ratio to (t, 1/t) and the centre distance to (Wa + Wb)·ρ with
ρ = (1 − t) / (2(1 + t)) (the same in y). Every box goes to a *row* keyed by its frame, its
height level ⌊log H / log(1/t)⌋ and a y cell as tall as the largest y reach of its level, and
rows are sorted by x centre; each box then scans only the x window of the (at most 3 × 2) rows
of its own and the next height level that its y reach touches. The candidates found that way
go through the exact IoU (:func:`iodvideo.detections.iou.column_iou`).

Every filter is a necessary condition widened by a relative margin of 1e-6, so no pair with
IoU > t is ever skipped; boxes with a non-positive or non-finite width or height overlap
nothing (their intersection is 0 or NaN), exactly as in the reference. Used by
:mod:`iodvideo.detections.rescore`.
"""

from __future__ import annotations

import numpy as np

from iodvideo.detections.iou import column_iou

_MARGIN = 1.0 + 1e-6


def overlap_edges(
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
    iou = column_iou(x1, y1, x2, y2, u, v)
    over = iou > threshold
    return u[over], v[over], iou[over]
