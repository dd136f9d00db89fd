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
) -> VideoClips:
    """Decoded tubelets in image pixels (float64) of every clip of ``batches``, per video
    name (``videos[video_idx]``), each clip scaled to its own resolution."""
    clips: dict[int, dict[int, np.ndarray]] = {}
    detector = detector.to(device).eval()
    with torch.inference_mode():
        for batch in batches:
            out = detector(batch["video"].to(device))
            for vi, start, tubelets in decode_batch(out, batch, settings).clips():
                clips.setdefault(vi, {})[start] = tubelets
    return {videos[vi]: c for vi, c in clips.items()}
