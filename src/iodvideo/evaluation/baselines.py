"""Trivial baselines, scored with the same protocol as a model (``eval baseline=...``).

``copied_box``: the mean labelled box of the training frames, copied as one constant detection
of score 1 onto every frame of the test range. It needs no model and no frames, only the
annotations, and answers "does the model know more than where the gas usually is?". With
a few labelled frames of one camera (the training and test video are the same clip,
docs/own-data.md "A few labelled frames") it is the box the labels drew on that clip's first
frames: a plume that does not move scores ≈ 100, one that moves or grows scores ≈ 0.

Which mean box a test video gets:

* the mean of *its own* boxes in its training range, where the video is a training video
  with boxes there (the few-labelled-frames protocol);
* otherwise the mean over every training box of every training video, in relative image
  coordinates (corners divided by width and height) and scaled to the test video's
  resolution: a prior box for a camera never seen (a split's usual test videos).

A box is the mean of the corners ``x1, y1, x2, y2``; with several classes each class has its
own mean box (a class without training boxes gets no detection).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from iodvideo.data.annotations import Annotations
from iodvideo.data.selection import Range, rows_in_range

COPIED_BOX = "copied_box"
BASELINES = (COPIED_BOX,)


def _relative(boxes: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    height, width = image_hw
    return boxes / np.array([width, height, width, height], dtype=np.float64)


def mean_boxes(
    annotations: Annotations, train_frames: Mapping[str, Range], label: int | None = None
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Per training video with boxes (of ``label``) in its range of ``train_frames``: its mean
    box ``x1, y1, x2, y2`` in pixels; and the mean of all those boxes in relative coordinates
    (None: no training box at all)."""
    own: dict[str, np.ndarray] = {}
    relative = []
    for video, frames in train_frames.items():
        rows = rows_in_range(annotations.frame_boxes(video, label), frames)
        if not len(rows):
            continue
        boxes = np.asarray(rows[:, 1:5], dtype=np.float64)
        own[video] = boxes.mean(axis=0)
        relative.append(_relative(boxes, annotations.image_hw(video)))
    pooled = np.concatenate(relative).mean(axis=0) if relative else None
    return own, pooled


def copied_box_detections(
    annotations: Annotations,
    train_frames: Mapping[str, Range],
    test_frames: Mapping[str, Range],
    label: int | None = None,
) -> dict[str, np.ndarray]:
    """``video → (M, 6)`` rows ``frame, x1, y1, x2, y2, score``: the mean training box (module
    doc) with score 1 on every frame ``first..last`` of each test video's range; no row for a
    video when there is no training box (of ``label``)."""
    own, pooled = mean_boxes(annotations, train_frames, label)
    out: dict[str, np.ndarray] = {}
    for video, (first, last) in test_frames.items():
        box = own.get(video)
        if box is None and pooled is not None:
            height, width = annotations.image_hw(video)
            box = pooled * np.array([width, height, width, height], dtype=np.float64)
        if box is None:
            out[video] = np.empty((0, 6), dtype=np.float64)
            continue
        frames = np.arange(first, last + 1, dtype=np.float64)
        out[video] = np.column_stack(
            (frames, np.tile(box, (len(frames), 1)), np.ones(len(frames))))
    return out
