"""Frame AP as a torchmetrics ``Metric``: the validation and test metric of training.

``update`` takes one batch of decoded clips (tubelets in image pixels, as
:func:`iodvideo.detections.batch.decode_batch` returns them) with their video index and 1-based
start frame; the states are concatenated across batches and, under DDP, across processes
(``dist_reduce_fx="cat"``), so each rank may see any subset of the clips and every rank
computes the same numbers. ``compute`` merges the clips of each video per frame and scores
them with exactly the protocol of :func:`iodvideo.evaluation.frame_ap.frame_ap_at`.

The ground truth is cut to the frames the seen clips cover (:func:`covered_ground_truth`):
a partial pass (``trainer.limit_val_batches``, a sanity check) is not charged with misses on
frames it never saw; a full pass covers every frame, so it scores exactly like ``eval``.

A model of several classes passes each tubelet's class to ``update`` and the GT of every
class (``class_gt``); each class is then scored on its own and the metrics are their mean,
plus one ``<metric>/<label>`` value per class (:mod:`iodvideo.evaluation.classes`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from iodvideo.detections.merge import clips_to_frame_detections
from iodvideo.evaluation.classes import CLASS_SEPARATOR, mean_over_classes
from iodvideo.evaluation.frame_ap import score_detections
from iodvideo.evaluation.metrics import METRIC_NAMES, METRICS, THRESHOLDS_50_95, metrics_from_scored

ClipDetections = dict[int, dict[int, np.ndarray]]  # video_idx → {start: (N, 4K+1) tubelets}


def covered_ground_truth(
    clip_detections: Mapping[int, Mapping[int, np.ndarray]],
    videos: Sequence[str],
    ground_truth: Mapping[str, np.ndarray],
    clip_len: int,
) -> dict[str, np.ndarray]:
    """The GT tubes of the videos that have decoded clips, cut to the frames those clips cover
    (``video_idx`` → {start: tubelets}); GT rows are ``frame, x1, y1, x2, y2``."""
    covered: dict[str, np.ndarray] = {}
    for vi, clips in clip_detections.items():
        tube = np.asarray(ground_truth[videos[vi]])
        seen = np.zeros(len(tube), dtype=bool)
        for start in clips:
            seen |= (tube[:, 0] >= start) & (tube[:, 0] < start + clip_len)
        covered[videos[vi]] = tube[seen]
    return {video: covered[video] for video in videos if video in covered}


class FrameAP(Metric):
    """Frame AP (percent) of the clips seen since the last reset.

    ``videos`` lists the evaluated videos in order (``video_idx`` indexes it) and
    ``gt_tubes`` their ground truth. ``compute`` returns ``{"frameAP@<th>": value}`` for
    each of ``iou_thresholds``; with ``paper_metrics=True`` every metric of
    :data:`iodvideo.evaluation.metrics.METRICS` instead (the paper's five always, the others
    only where defined, e.g. ``AP@0.5_vague`` only with vague videos). ``num_clips`` (distinct
    clips scored) comes with either; nothing at all when no clip was seen.
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
        class_gt: Sequence[Mapping[str, np.ndarray]] | None = None,
        labels: Sequence[str] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.videos = list(videos)
        self.gt_tubes = {v: np.asarray(gt_tubes[v]) for v in self.videos}
        # several classes: per class, the GT boxes of that class per video (same videos)
        self.class_gt = [{v: np.asarray(gt[v]) for v in self.videos} for gt in class_gt or ()]
        self.label_names = list(labels) if labels is not None else [
            str(c) for c in range(len(self.class_gt))]
        if self.class_gt and (len(self.class_gt) == 1
                              or len(self.label_names) != len(self.class_gt)):
            raise ValueError(f"class_gt holds {len(self.class_gt)} classes and labels "
                             f"{len(self.label_names)}: give both for two or more classes")
        self.clip_len = clip_len
        self.iou_thresholds = [float(t) for t in iou_thresholds]
        self.paper_metrics = paper_metrics
        self.add_state("tubelets", default=[], dist_reduce_fx="cat")
        self.add_state("video_idx", default=[], dist_reduce_fx="cat")
        self.add_state("start", default=[], dist_reduce_fx="cat")
        self.add_state("labels", default=[], dist_reduce_fx="cat")

    @property
    def num_classes(self) -> int:
        return max(1, len(self.class_gt))

    def update(self, tubelets: torch.Tensor, video_idx: torch.Tensor, start: torch.Tensor,
               labels: torch.Tensor | None = None) -> None:
        """``tubelets (B, N, 4K+1)`` in image pixels, ``video_idx (B,)``, ``start (B,)`` and,
        for several classes, the class ``labels (B, N)`` of the tubelets."""
        if tubelets.dim() != 3 or tubelets.shape[-1] != 4 * self.clip_len + 1:
            raise ValueError(
                f"tubelets must be (B, N, {4 * self.clip_len + 1}), got {tuple(tubelets.shape)}"
            )
        if labels is None:
            if self.num_classes > 1:
                raise ValueError("a metric of several classes needs the tubelets' labels")
            labels = torch.zeros(tubelets.shape[:2], dtype=torch.long)
        if labels.shape != tubelets.shape[:2]:
            raise ValueError(f"labels {tuple(labels.shape)} must be (B, N) like the tubelets "
                             f"{tuple(tubelets.shape)}")
        self.tubelets.append(tubelets.detach().to(self.device))
        self.video_idx.append(video_idx.detach().reshape(-1).long().to(self.device))
        self.start.append(start.detach().reshape(-1).long().to(self.device))
        self.labels.append(labels.detach().long().to(self.device))

    def clip_detections(self, label: int | None = None) -> ClipDetections:
        """Accumulated clips per video index (``label``: that class's tubelets only); a clip
        seen twice (DDP padding) counts once."""
        # a list before any sync; after a DDP sync each state is one concatenated tensor
        if isinstance(self.tubelets, list) and not self.tubelets:
            return {}
        tubelets = dim_zero_cat(self.tubelets).cpu().double().numpy()
        video_idx = dim_zero_cat(self.video_idx).cpu().numpy()
        start = dim_zero_cat(self.start).cpu().numpy()
        labels = dim_zero_cat(self.labels).cpu().numpy()
        clips: ClipDetections = {}
        for det, lab, vi, s in zip(tubelets, labels, video_idx, start, strict=True):
            clips.setdefault(int(vi), {})[int(s)] = det if label is None else det[lab == label]
        return clips

    def frame_detections(self, clips: ClipDetections | None = None) -> dict[str, np.ndarray]:
        """Clips (default: the accumulated ones) merged per video into ``(M, 6)`` frame
        detections."""
        clips = self.clip_detections() if clips is None else clips
        return {self.videos[vi]: clips_to_frame_detections(c, self.clip_len)
                for vi, c in clips.items()}

    def compute(self) -> dict[str, torch.Tensor]:
        clips = self.clip_detections()
        if not clips:
            return {}
        if self.num_classes == 1:
            values = self._score(clips, self.gt_tubes)
        else:
            per_class = {}
            for c, label in enumerate(self.label_names):
                gt = self.class_gt[c]
                has_gt = any(len(rows) for rows in covered_ground_truth(
                    clips, self.videos, gt, self.clip_len).values())
                per_class[label] = (self._score(self.clip_detections(c), gt, clips) if has_gt
                                    else {})  # no GT of this class seen: no AP
            values = mean_over_classes(per_class)
            values = {k: v for k, v in values.items()
                      if math.isfinite(v) or CLASS_SEPARATOR not in k}
        values["num_clips"] = float(sum(len(c) for c in clips.values()))
        return {k: torch.tensor(v, dtype=torch.float64) for k, v in values.items()}

    def _score(self, clips: ClipDetections, gt_boxes: Mapping[str, np.ndarray],
               coverage: ClipDetections | None = None) -> dict[str, float]:
        """Metrics of one class's clips against its GT, cut to the frames ``coverage`` (default:
        ``clips``) covers."""
        detections = self.frame_detections(clips)
        gt = covered_ground_truth(coverage or clips, self.videos, gt_boxes, self.clip_len)
        if self.paper_metrics:
            scored = score_detections(detections, gt, THRESHOLDS_50_95)
            metrics = metrics_from_scored(scored, tuple(METRICS)).metrics
            return {k: v for k, v in metrics.items() if k in METRIC_NAMES or math.isfinite(v)}
        scored = score_detections(detections, gt, self.iou_thresholds)
        return {f"frameAP@{t:g}": 100.0 * scored.ap(t) for t in scored.thresholds}
