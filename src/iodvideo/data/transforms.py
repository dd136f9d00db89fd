"""Resize + normalise a clip, mapping its boxes to the output grid (protocol §3.5–3.6).

Frames are resized to a square ``input_size`` with bilinear interpolation (aspect ratio not
kept) and normalised with the CenterNet COCO mean/std in BGR order; boxes go straight to
grid units (``x · grid / W``), as the reference does after its augmentation.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# CenterNet's COCO statistics, BGR order (protocol §3.6, §11.23).
COCO_MEAN_BGR = (0.40789654, 0.44719302, 0.47026115)
COCO_STD_BGR = (0.28863828, 0.27408164, 0.27809835)


@dataclass(frozen=True)
class ResizeNormalize:
    """``frames (T, H, W, 3)`` uint8 → float32 ``(T, 3, S, S)``; ``boxes (..., 4)`` → grid units."""

    input_size: int = 288
    down_ratio: int = 4
    mean: tuple[float, float, float] = COCO_MEAN_BGR
    std: tuple[float, float, float] = COCO_STD_BGR

    @property
    def grid_size(self) -> int:
        return self.input_size // self.down_ratio

    def frames(self, frames: np.ndarray) -> np.ndarray:
        size = (self.input_size, self.input_size)
        resized = np.stack(
            [cv2.resize(f, size, interpolation=cv2.INTER_LINEAR) for f in frames]
        ).astype(np.float32)
        mean = np.asarray(self.mean, dtype=np.float32)
        std = np.asarray(self.std, dtype=np.float32)
        normalised = (resized / 255.0 - mean) / std
        return np.ascontiguousarray(normalised.transpose(0, 3, 1, 2))

    def boxes(self, boxes: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
        """Clip boxes to the image (annotations may reach a few pixels outside, §1.2), then
        scale them to the ``grid_size`` output map."""
        height, width = image_hw
        out = np.asarray(boxes, dtype=np.float32).copy()
        out[..., 0::2] = out[..., 0::2].clip(0, width) * (self.grid_size / width)
        out[..., 1::2] = out[..., 1::2].clip(0, height) * (self.grid_size / height)
        return out
