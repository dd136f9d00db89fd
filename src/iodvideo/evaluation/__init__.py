"""Frame-level AP with the IOD-Video protocol (protocol §9): matching, AP, the paper's five
metrics, breakdowns, reports and detections on disk. Rescoring, IoU and merging live in
:mod:`iodvideo.detections`."""

from iodvideo.evaluation.ap import average_precision
from iodvideo.evaluation.frame_ap import frame_ap, frame_ap_at, score_detections
from iodvideo.evaluation.metrics import (
    METRIC_NAMES,
    METRICS,
    THRESHOLDS_50_95,
    SplitMetrics,
    mean_over_splits,
    paper_metrics,
)
from iodvideo.evaluation.scored import ScoredDetections

__all__ = [
    "METRICS",
    "METRIC_NAMES",
    "THRESHOLDS_50_95",
    "ScoredDetections",
    "SplitMetrics",
    "average_precision",
    "frame_ap",
    "frame_ap_at",
    "mean_over_splits",
    "paper_metrics",
    "score_detections",
]
