"""Running part of the model once per frame, as the reference does in training (legacy mode).

The reference calls its neck — for TEA, TAM, TDN, I3D, S3D and MSNet — and, for the
frame-level baseline, its whole network once per output frame (protocol §5.2, §11.27). Each
BatchNorm then normalises with the statistics of that frame's B samples and updates its running
statistics K times per step. iodvideo batches all B·K frames by default; these helpers are what
``legacy`` uses to loop instead. With running statistics (eval mode) the loop computes the same
function as one batched call, so callers loop only while a BatchNorm uses batch statistics.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from iodvideo.models.memory_format import like_layout
from iodvideo.models.temporal.layout import split_time


def uses_batch_statistics(module: nn.Module) -> bool:
    """True if a BatchNorm in ``module`` normalises with batch statistics (training, or
    ``iodvideo.training.bn_calibration``'s recalibration, which puts only the BatchNorms in
    training mode): only then does a per-frame call differ from a batched one."""
    return any(
        m.training or not m.track_running_stats
        for m in module.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
    )


def split_frames(maps: Sequence[torch.Tensor], clip_len: int) -> list[list[torch.Tensor]]:
    """Clip-major ``(B*K, ...)`` maps → for each frame k, every map's ``(B, ...)`` rows of k."""
    per_clip = [split_time(m, clip_len) for m in maps]  # checks K divides the batch
    return [[m[:, k] for m in per_clip] for k in range(clip_len)]


def stack_frames(frames: Sequence[torch.Tensor]) -> torch.Tensor:
    """Per-frame ``(B, ...)`` maps in frame order → one clip-major ``(B*K, ...)`` map, in the
    frames' memory format (a stack is NCHW whatever its inputs)."""
    return like_layout(torch.stack(list(frames), dim=1).flatten(0, 1), frames[0])
