"""Spread clip tubelets onto the frames they cover (protocol §9.1 step 1)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from iodvideo.detections.rows import as_rows


def clips_to_frame_detections(clip_dets: Mapping[int, np.ndarray], clip_len: int) -> np.ndarray:
    """Flatten one video's tubelets into per-frame boxes, the evaluator's detection format.

    ``clip_dets`` maps a 1-based clip start ``i`` to its ``(N, 4K+1)`` tubelets in image pixels;
    tubelet box k lands on frame ``i + k`` with the tubelet score. Returns ``(M, 6)`` float64 rows
    ``frame, x1, y1, x2, y2, score``, one per (clip, tubelet, k). Rows are ordered by frame, then
    clip start, then tubelet: the order in which the reference fills its per-frame lists, which is
    what decides ties in the evaluator's score sort.
    """
    columns = 4 * clip_len + 1
    starts = sorted(clip_dets)
    arrays = [as_rows(clip_dets[s], columns, f"tubelets of the clip starting at frame {s} "
                      f"(clip_len={clip_len})") for s in starts]
    if not arrays:
        return np.empty((0, 6), dtype=np.float64)
    tubelets = np.concatenate(arrays)
    clip_start = np.repeat(np.asarray(starts, dtype=np.float64), [len(a) for a in arrays])

    frames = (clip_start[:, None] + np.arange(clip_len)).reshape(-1)
    boxes = tubelets[:, :-1].reshape(-1, 4)
    scores = np.repeat(tubelets[:, -1], clip_len)
    rows = np.column_stack((frames, boxes, scores))
    return rows[np.argsort(frames, kind="stable")]
