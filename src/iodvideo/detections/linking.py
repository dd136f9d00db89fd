"""Link clip tubelets into video-level tubes (the reference's ``BuildTubes``, protocol §9.3).

Not used by any metric the paper reports; it feeds the extra video-AP of
:mod:`iodvideo.evaluation.tubes`. Per video, clip by clip in start order:

1. keep the ``top_k`` = 10 best tubelets of the clip after tubelet NMS at 0.6 (IoU of two
   tubelets = mean of their K per-frame IoUs);
2. visit the current tubes by mean score, descending; each takes the best-scoring unused
   tubelet whose overlap with it is ≥ 0.5 — the mean IoU over the frames the new tubelet
   shares with the tube's last tubelet, or, once they share none, the IoU of the new
   tubelet's first box with the last box — and a tube that found nothing and whose last
   tubelet no longer overlaps the clip in time is finished;
3. unused tubelets start new tubes.

A tube becomes per-frame boxes by averaging every tubelet box that covers a frame; tubes
with a mean tubelet score below 0.005 or shorter than 15 frames are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from iodvideo.detections.iou import iou_plus1


@dataclass
class Tube:
    """Per-frame boxes ``(L, 5)``: frame, x1, y1, x2, y2; and the tube score."""

    boxes: np.ndarray
    score: float


def tubelet_iou(a: np.ndarray, b: np.ndarray, clip_len: int) -> np.ndarray:
    """Mean per-frame IoU of tubelet ``a (4K+1,)`` with each row of ``b (n, 4K+1)``."""
    total = np.zeros(len(b))
    for k in range(clip_len):
        total += iou_plus1(a[4 * k : 4 * k + 4], b[:, 4 * k : 4 * k + 4])
    return total / clip_len


def tubelet_nms(tubelets: np.ndarray, clip_len: int, threshold: float = 0.6,
                top_k: int = 10) -> np.ndarray:
    """Greedy NMS of one clip's ``(N, 4K+1)`` tubelets by score with :func:`tubelet_iou`;
    the ``top_k`` survivors in score order (what linking keeps of each clip)."""
    order = np.argsort(-tubelets[:, -1], kind="stable")
    tubelets = tubelets[order]
    keep = []
    alive = np.ones(len(tubelets), dtype=bool)
    for i in range(len(tubelets)):
        if not alive[i]:
            continue
        keep.append(i)
        if len(keep) == top_k:
            break
        rest = np.flatnonzero(alive[i + 1 :]) + i + 1
        if rest.size:
            alive[rest[tubelet_iou(tubelets[i], tubelets[rest], clip_len) > threshold]] = False
    return tubelets[keep]


def build_tubes(
    clips: Mapping[int, np.ndarray], clip_len: int, link_iou: float = 0.5,
    nms_iou: float = 0.6, top_k: int = 10, min_length: int = 15, min_score: float = 0.005,
) -> list[Tube]:
    """Tubes of one video from its clips ``{start: (N, 4K+1)}`` in image pixels."""
    current: list[list[tuple[int, np.ndarray]]] = []
    finished: list[list[tuple[int, np.ndarray]]] = []
    for start in sorted(clips):
        tubelets = tubelet_nms(np.asarray(clips[start], dtype=np.float64), clip_len, nms_iou,
                               top_k)
        if not current and not finished and start == min(clips):
            current = [[(start, t)] for t in tubelets]
            continue
        current.sort(key=lambda tube: -np.mean([t[-1] for _, t in tube]))
        available = np.ones(len(tubelets), dtype=bool)
        done = []
        for it, tube in enumerate(current):
            last_start, last = tube[-1]
            offset = start - last_start
            idx = np.flatnonzero(available)
            if offset < clip_len and idx.size:
                shared = clip_len - offset
                overlap = sum(
                    iou_plus1(last[4 * (k + offset) : 4 * (k + offset) + 4],
                              tubelets[idx, 4 * k : 4 * k + 4])
                    for k in range(shared)
                ) / shared
            elif idx.size:
                overlap = iou_plus1(last[4 * clip_len - 4 : 4 * clip_len], tubelets[idx, 0:4])
            else:
                overlap = np.zeros(0)
            valid = idx[overlap >= link_iou]
            if valid.size:
                best = valid[np.argmax(tubelets[valid, -1])]
                tube.append((start, tubelets[best]))
                available[best] = False
            elif offset >= clip_len:
                done.append(it)
        for it in reversed(done):
            finished.append(current.pop(it))
        current += [[(start, tubelets[i])] for i in np.flatnonzero(available)]
    out = []
    for tube in finished + current:
        score = float(np.mean([t[-1] for _, t in tube]))
        begin, end = tube[0][0], tube[-1][0] + clip_len - 1
        if score < min_score or end + 1 - begin < min_length:
            continue
        boxes = np.zeros((end + 1 - begin, 4))
        weight = np.zeros(end + 1 - begin)
        for start, t in tube:
            rows = np.arange(clip_len) + start - begin
            boxes[rows] += t[:-1].reshape(clip_len, 4)
            weight[rows] += 1
        frames = np.arange(begin, end + 1, dtype=np.float64)
        out.append(Tube(np.column_stack((frames, boxes / weight[:, None])), score))
    return out
