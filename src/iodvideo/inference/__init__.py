"""Inference: decode clip outputs into tubelets (protocol §8), merge them per frame (§9.1)."""

from iodvideo.inference.decode import boxes_to_image, decode_clips, decode_mov, decode_sta
from iodvideo.inference.merge import clips_to_frame_detections

__all__ = [
    "boxes_to_image",
    "clips_to_frame_detections",
    "decode_clips",
    "decode_mov",
    "decode_sta",
]
