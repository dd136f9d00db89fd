"""Frame-level AP with the IOD-Video protocol (protocol §9): rescoring, matching, the
paper's five metrics, breakdowns and reports."""

from iodvideo.evaluation.frame_ap import (
    ScoredDetections,
    average_precision,
    frame_ap,
    frame_ap_at,
    iou_plus1,
    rescore_detections,
    rescore_frame,
    score_detections,
)
from iodvideo.evaluation.metrics import (
    METRIC_NAMES,
    THRESHOLDS_50_95,
    SplitMetrics,
    mean_over_splits,
    paper_metrics,
)
from iodvideo.evaluation.rescore import rescore_frames

__all__ = [
    "METRIC_NAMES",
    "THRESHOLDS_50_95",
    "ScoredDetections",
    "SplitMetrics",
    "average_precision",
    "frame_ap",
    "frame_ap_at",
    "iou_plus1",
    "mean_over_splits",
    "paper_metrics",
    "rescore_detections",
    "rescore_frame",
    "rescore_frames",
    "score_detections",
]
