"""Frame AP as a torchmetrics ``Metric``, for Lightning validation loops.

``update`` takes one batch of decoded clips (tubelets in image pixels, as returned by
:func:`iodvideo.inference.decode.boxes_to_image`) with their video index and 1-based start
frame; the states are concatenated across batches and, under DDP, across processes
(``dist_reduce_fx="cat"``), so each rank may see any subset of the clips. ``compute`` merges
the clips of each video per frame and scores them with exactly the protocol of
:func:`iodvideo.evaluation.frame_ap.frame_ap_at` (percent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from iodvideo.evaluation.frame_ap import score_detections
from iodvideo.evaluation.metrics import THRESHOLDS_50_95, metrics_from_scored
from iodvideo.inference.merge import clips_to_frame_detections


class FrameAP(Metric):
    """Frame AP (percent) of the clips seen since the last reset.

    ``videos`` lists the evaluated videos in order (``video_idx`` indexes it) and
    ``gt_tubes`` their ground truth. ``compute`` returns ``{"frameAP@<th>": value}`` for
    each of ``iou_thresholds``; with ``paper_metrics=True`` it returns the five paper metrics
    instead (AP@0.5, AP@0.75, AP@clear, AP@vague, AP@0.5:0.95).
    """

    full_state_update = False
    higher_is_better = True

    def __init__(
        self,
        videos: Sequence[str],
        gt_tubes: Mapping[str, np.ndarray],
        clip_len: int,
        iou_thresholds: Sequence[float] = (0.5,),
        paper_metrics: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.videos = list(videos)
        self.gt_tubes = {v: np.asarray(gt_tubes[v]) for v in self.videos}
        self.clip_len = clip_len
        self.iou_thresholds = [float(t) for t in iou_thresholds]
        self.paper_metrics = paper_metrics
        self.add_state("tubelets", default=[], dist_reduce_fx="cat")
        self.add_state("video_idx", default=[], dist_reduce_fx="cat")
        self.add_state("start", default=[], dist_reduce_fx="cat")

    def update(self, tubelets: torch.Tensor, video_idx: torch.Tensor, start: torch.Tensor) -> None:
        """``tubelets (B, N, 4K+1)`` in image pixels, ``video_idx (B,)``, ``start (B,)``."""
        if tubelets.dim() != 3 or tubelets.shape[-1] != 4 * self.clip_len + 1:
            raise ValueError(
                f"tubelets must be (B, N, {4 * self.clip_len + 1}), got {tuple(tubelets.shape)}"
            )
        self.tubelets.append(tubelets.detach().to(torch.float64))
        self.video_idx.append(video_idx.detach().reshape(-1).long())
        self.start.append(start.detach().reshape(-1).long())

    def frame_detections(self) -> dict[str, np.ndarray]:
        """Accumulated clips merged per video into ``(M, 6)`` frame detections."""
        # a list before any sync; after a DDP sync each state is one concatenated tensor
        if isinstance(self.tubelets, list) and not self.tubelets:
            return {}
        tubelets = dim_zero_cat(self.tubelets).cpu().numpy()
        video_idx = dim_zero_cat(self.video_idx).cpu().numpy()
        start = dim_zero_cat(self.start).cpu().numpy()
        clips: dict[int, dict[int, np.ndarray]] = {}
        for det, vi, s in zip(tubelets, video_idx, start, strict=True):
            clips.setdefault(int(vi), {})[int(s)] = det  # a clip seen twice (DDP padding): once
        return {
            self.videos[vi]: clips_to_frame_detections(c, self.clip_len) for vi, c in clips.items()
        }

    def compute(self) -> dict[str, torch.Tensor]:
        detections = self.frame_detections()
        if self.paper_metrics:
            scored = score_detections(detections, self.gt_tubes, THRESHOLDS_50_95)
            values = metrics_from_scored(scored).metrics
            return {k: torch.tensor(v, dtype=torch.float64) for k, v in values.items()}
        scored = score_detections(detections, self.gt_tubes, self.iou_thresholds)
        return {
            f"frameAP@{t:g}": torch.tensor(100.0 * scored.ap(t), dtype=torch.float64)
            for t in scored.thresholds
        }
