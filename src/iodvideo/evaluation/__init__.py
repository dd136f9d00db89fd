"""Frame-level AP with the IOD-Video protocol (reference-notes §9)."""

from iodvideo.evaluation.frame_ap import (
    average_precision,
    frame_ap,
    frame_ap_at,
    iou_plus1,
    rescore_detections,
    rescore_frame,
)

__all__ = [
    "average_precision",
    "frame_ap",
    "frame_ap_at",
    "iou_plus1",
    "rescore_detections",
    "rescore_frame",
]
