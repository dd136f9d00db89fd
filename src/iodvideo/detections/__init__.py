"""Detections: the pure logic between a detector's head outputs and per-frame boxes.

Decoding (protocol §8), the one batch-decoding path, clip → frame merging (§9.1 step 1),
per-frame rescoring (§9.1 step 2), the +1-pixel IoU and tube linking (§9.3). Below both
:mod:`iodvideo.evaluation` and :mod:`iodvideo.inference`, which use it and never each other.
"""

from iodvideo.detections.batch import DecodedBatch, DecodeSettings, decode_batch
from iodvideo.detections.decode import (
    boxes_to_image,
    decode_clips,
    decode_labelled,
    decode_mov,
    decode_sta,
)
from iodvideo.detections.iou import iou_elementwise, iou_plus1
from iodvideo.detections.linking import Tube, build_tubes, tubelet_nms
from iodvideo.detections.merge import clips_to_frame_detections
from iodvideo.detections.rescore import (
    frame_score_order,
    rescore_detections,
    rescore_frame,
    rescore_frames,
)

__all__ = [
    "DecodeSettings",
    "DecodedBatch",
    "Tube",
    "boxes_to_image",
    "build_tubes",
    "clips_to_frame_detections",
    "decode_batch",
    "decode_clips",
    "decode_labelled",
    "decode_mov",
    "decode_sta",
    "frame_score_order",
    "iou_elementwise",
    "iou_plus1",
    "rescore_detections",
    "rescore_frame",
    "rescore_frames",
    "tubelet_nms",
]
