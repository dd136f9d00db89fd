"""MOC-style clip augmentation (protocol §3): mirror → photometric → expand → crop.

Every random parameter is drawn once per clip and applied to all K frames and all boxes, so
the clip stays temporally coherent. Image maths is float32 without clipping, as in the
reference. Randomness comes from Python's ``random`` like the reference; Lightning's
``seed_everything(..., workers=True)`` gives each DataLoader worker and epoch its own stream.

Why not albumentations for these steps: its flip maps x → W−1−x, its brightness/contrast
clip to [0, 255] and its crops do not implement the SSD sampler with a clip-averaged IoU
constraint, so none of them reproduces the reference; resizing (the one step where it
would fit) is plain ``cv2.resize`` in :mod:`iodvideo.data.transforms`.

``legacy=True`` reproduces the reference's two geometric quirks (§11.7–8): the mirror maps
boxes with W instead of W−1, and the expanded canvas always holds the image in its
bottom-right corner. The clean default mirrors exactly and draws the paste offset uniformly.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import cv2
import numpy as np

# Canvas fill of the expand step: the COCO mean in BGR, times 255 (protocol §3.3).
EXPAND_FILL_BGR = (104.0136177, 114.0342201, 119.91659325)
# (min IoU) per constrained crop sampler; the last one asks for IoU >= 1 (practically never).
CROP_MIN_IOUS = (0.1, 0.3, 0.5, 0.7, 0.9, 1.0)


@dataclass(frozen=True)
class AugmentedClip:
    """``frames (K, h, w, 3)`` float32, ``tubes`` list of ``(K, 4)`` pixel boxes that
    survived the crop (possibly empty: the clip then trains with mask 0), and ``kept``, the
    index of each surviving tube in the input list: the crop drops tubes whose centre leaves
    it, so per-tube data (class labels) must be re-selected with ``kept`` to stay aligned."""

    frames: np.ndarray
    tubes: list[np.ndarray]
    kept: list[int]


def _clip_iou(boxes: np.ndarray, crop: np.ndarray) -> float:
    """Mean over frames of IoU(box_k, crop), +1 pixel convention (protocol §3.4)."""
    iw = np.clip(np.minimum(boxes[:, 2], crop[2]) - np.maximum(boxes[:, 0], crop[0]) + 1, 0, None)
    ih = np.clip(np.minimum(boxes[:, 3], crop[3]) - np.maximum(boxes[:, 1], crop[1]) + 1, 0, None)
    inter = iw * ih
    area_b = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
    area_c = (crop[2] - crop[0] + 1) * (crop[3] - crop[1] + 1)
    return float(np.mean(inter / (area_b + area_c - inter)))


@dataclass(frozen=True)
class MOCAugment:
    """The reference's training augmentation; see the module docstring."""

    legacy: bool = False
    mirror_p: float = 0.5
    brightness_delta: float = 32.0
    contrast_range: tuple[float, float] = (0.5, 1.5)
    saturation_range: tuple[float, float] = (0.5, 1.5)
    hue_delta: float = 18.0
    expand_p: float = 0.5
    expand_max_ratio: float = 4.0
    crop_trials: int = 50
    crop_scale: tuple[float, float] = (0.3, 1.0)
    crop_aspect: tuple[float, float] = (0.5, 2.0)

    def __call__(self, frames: np.ndarray, tubes: list[np.ndarray]) -> AugmentedClip:
        """``frames (K, H, W, 3)`` uint8 or float; ``tubes`` list of ``(K, 4)`` pixel boxes.
        Mirror and expand keep every tube in order; only the crop drops some (``kept``)."""
        images = np.asarray(frames, dtype=np.float32)
        boxes = [np.asarray(t, dtype=np.float32).copy() for t in tubes]
        images, boxes = self.mirror(images, boxes)
        images = self.photometric(images)
        images, boxes = self.expand(images, boxes)
        return self.crop(images, boxes)

    # -- steps --------------------------------------------------------------------------
    def mirror(
        self, images: np.ndarray, boxes: list[np.ndarray]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        if random.random() >= self.mirror_p:
            return images, boxes
        width = images.shape[2]
        edge = width if self.legacy else width - 1
        flipped = []
        for tube in boxes:
            out = tube.copy()
            out[:, 0], out[:, 2] = edge - tube[:, 2], edge - tube[:, 0]
            flipped.append(out)
        return np.ascontiguousarray(images[:, :, ::-1]), flipped

    def photometric(self, images: np.ndarray) -> np.ndarray:
        """Brightness, contrast, saturation, hue — each with p 0.5, contrast first or last."""
        contrast_first = random.random() < 0.5
        images = self._brightness(images)
        if contrast_first:
            images = self._contrast(images)
        images = self._saturation_hue(images)
        if not contrast_first:
            images = self._contrast(images)
        return images

    def _brightness(self, images: np.ndarray) -> np.ndarray:
        if random.random() < 0.5:
            delta = self.brightness_delta
            return images + np.float32(random.uniform(-delta, delta))
        return images

    def _contrast(self, images: np.ndarray) -> np.ndarray:
        if random.random() < 0.5:
            return images * np.float32(random.uniform(*self.contrast_range))
        return images

    def _saturation_hue(self, images: np.ndarray) -> np.ndarray:
        """No-ops on grey IR frames (S = 0) but kept so colour inputs behave like the reference."""
        saturation = random.uniform(*self.saturation_range) if random.random() < 0.5 else None
        hue = random.uniform(-self.hue_delta, self.hue_delta) if random.random() < 0.5 else None
        if saturation is None and hue is None:
            return images
        if np.array_equal(images[..., 0], images[..., 1]) and np.array_equal(
            images[..., 1], images[..., 2]
        ):
            return images  # grey: HSV round trip would only add float noise
        out = []
        for image in images:
            hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
            if saturation is not None:
                hsv[..., 1] *= saturation
            if hue is not None:
                hsv[..., 0] = np.mod(hsv[..., 0] + hue, 360.0)
            out.append(cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR))
        return np.stack(out)

    def expand(
        self, images: np.ndarray, boxes: list[np.ndarray]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        if random.random() >= self.expand_p:
            return images, boxes
        ratio = random.uniform(1.0, self.expand_max_ratio)
        k, height, width, channels = images.shape
        canvas_h, canvas_w = int(height * ratio), int(width * ratio)
        if self.legacy:
            top, left = canvas_h - height, canvas_w - width
        else:
            top, left = random.randint(0, canvas_h - height), random.randint(0, canvas_w - width)
        canvas = np.empty((k, canvas_h, canvas_w, channels), dtype=np.float32)
        canvas[...] = np.asarray(EXPAND_FILL_BGR[:channels], dtype=np.float32)
        canvas[:, top : top + height, left : left + width] = images
        shift = np.array([left, top, left, top], dtype=np.float32)
        return canvas, [tube + shift for tube in boxes]

    def crop(self, images: np.ndarray, boxes: list[np.ndarray]) -> AugmentedClip:
        height, width = images.shape[1:3]
        candidates = [np.array([0, 0, width, height])]  # sampler 0: the whole image
        for min_iou in CROP_MIN_IOUS:
            found = self._sample_crop(boxes, min_iou, width, height)
            if found is not None:
                candidates.append(found)
        x1, y1, x2, y2 = (int(v) for v in random.choice(candidates))
        cropped = images[:, y1 : y2 + 1, x1 : x2 + 1]
        limit = np.array([x2 - x1, y2 - y1, x2 - x1, y2 - y1], dtype=np.float32)
        shift = np.array([x1, y1, x1, y1], dtype=np.float32)
        kept, indices = [], []
        for t, tube in enumerate(boxes):
            moved = tube - shift
            cx, cy = (moved[:, 0] + moved[:, 2]) / 2, (moved[:, 1] + moved[:, 3]) / 2
            inside = (cx >= 0) & (cx <= limit[0]) & (cy >= 0) & (cy <= limit[1])
            if inside.all():
                kept.append(np.clip(moved, 0, limit))
                indices.append(t)
        return AugmentedClip(np.ascontiguousarray(cropped), kept, indices)

    def _sample_crop(
        self, boxes: list[np.ndarray], min_iou: float, width: int, height: int
    ) -> np.ndarray | None:
        """One SSD-style crop whose clip-mean IoU with some tube is ≥ ``min_iou``, or None."""
        trials = 0
        while trials < self.crop_trials:
            scale = random.uniform(*self.crop_scale)
            aspect = random.uniform(*self.crop_aspect)
            w, h = scale * math.sqrt(aspect), scale / math.sqrt(aspect)
            if w > 1 or h > 1:
                continue  # redrawn without counting a trial, as in the reference
            trials += 1
            x, y = random.uniform(0, 1 - w), random.uniform(0, 1 - h)
            crop = np.array([x * width, y * height, (x + w) * width, (y + h) * height])
            crop = np.trunc(crop)
            if any(_clip_iou(tube, crop) >= min_iou for tube in boxes):
                return crop
        return None
