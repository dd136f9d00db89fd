"""Run a detector over every clip of a data loader: the ``eval ckpt=`` inference pass.

Batches come from the datamodule (``video``, ``video_idx``, ``start``, ``image_hw``), so the
clips — context frames included — are exactly those validation and test see; decoding goes
through :func:`iodvideo.detections.batch.decode_batch` like every other path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from iodvideo.detections.batch import DecodeSettings, decode_batch

VideoClips = dict[str, dict[int, np.ndarray]]  # video → {1-based start: (N, 4K+1) tubelets}


def infer_clips(
    detector: torch.nn.Module,
    batches: Iterable[Mapping[str, Any]],
    videos: Sequence[str],
    settings: DecodeSettings,
    device: torch.device | str = "cpu",
    num_classes: int = 1,
) -> list[VideoClips]:
    """Decoded tubelets in image pixels (float64) of every clip of ``batches``, per video
    name (``videos[video_idx]``), each clip scaled to its own resolution, split by class in
    one pass: entry ``c`` holds each clip's tubelets of class ``c`` (every clip appears in
    every entry, possibly with no tubelet). One class: one entry with every tubelet."""
    clips: list[dict[int, dict[int, np.ndarray]]] = [{} for _ in range(num_classes)]
    detector = detector.to(device).eval()
    with torch.inference_mode():
        for batch in batches:
            out = detector(batch["video"].to(device))
            decoded = decode_batch(out, batch, settings)
            for c in range(num_classes):
                for vi, start, tubelets in decoded.clips(c if num_classes > 1 else None):
                    clips[c].setdefault(vi, {})[start] = tubelets
    return [{videos[vi]: c for vi, c in per_class.items()} for per_class in clips]
