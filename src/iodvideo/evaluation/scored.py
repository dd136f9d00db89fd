"""Every detection of a set of videos after rescoring and matching, and the APs of any
subset of it (all videos, one video, a label group) without matching again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from iodvideo.evaluation.ap import ap_from_ranks


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
        return ap_from_ranks(self.tp_ranks(threshold), self.num_gt())

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
                    ap_from_ranks(local[rank[rows]], gt) if gt else float("nan")
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
            out[name] = ap_from_ranks(ranks, len(self.gt_frames[iv]))
        return out
