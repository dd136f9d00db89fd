"""One batch of head outputs → per-clip tubelets in image pixels: the one decoding path.

Validation, ``eval ckpt=``, predict and the monitor all turn a forward pass into tubelets
here, so the decoder settings, the dtype and the per-clip image scaling cannot drift apart
between what training selects on and what users see (protocol §8; each clip is scaled to its
own resolution — the reference used the batch's first, §11.18).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from iodvideo.detections.decode import SIZE_MODES, boxes_to_image, decode_labelled
from iodvideo.errors import ConfigError

DECODE_MODES = ("mov", "sta")


@dataclass(frozen=True)
class DecodeSettings:
    """How heatmap peaks become tubelets: ``mode`` mov | sta, ``top_n`` peaks per clip,
    ``offset_scale`` of the STA offsets (18 in the paper runs), ``sizes`` frame | clip (each
    frame's own box size, the reference's; or the tubelet's mean over its K frames)."""

    mode: str = "mov"
    top_n: int = 100
    offset_scale: float = 18.0
    sizes: str = "frame"

    def __post_init__(self) -> None:
        if self.mode not in DECODE_MODES:  # a user's decode.mode=...: one clean error line
            raise ConfigError(f"decode.mode must be 'mov' or 'sta', got {self.mode!r}")
        if self.sizes not in SIZE_MODES:
            raise ConfigError(f"decode.sizes must be 'frame' or 'clip', got {self.sizes!r}")


@dataclass
class DecodedBatch:
    """Tubelets ``(B, N, 4K+1)`` of one batch: ``grid`` in output-grid units (what the
    validation image callback draws), ``tubelets`` in image pixels (float32, as decoded), the
    class index ``labels (B, N)`` of every tubelet (all 0 for a single-class model), and the
    clips' ``video_idx`` / 1-based ``start`` when the batch carried them."""

    grid: torch.Tensor
    tubelets: torch.Tensor
    video_idx: torch.Tensor | None = None
    start: torch.Tensor | None = None
    labels: torch.Tensor | None = None

    def clips(self, label: int | None = None) -> Iterator[tuple[int, int, np.ndarray]]:
        """``(video_idx, start, (N, 4K+1) float64 tubelets)`` per clip; with ``label`` only
        that class's tubelets (in score order, like all of them)."""
        if self.video_idx is None or self.start is None:
            raise ValueError("this batch carried no video_idx/start")
        for b, (vi, start) in enumerate(zip(self.video_idx.tolist(), self.start.tolist(),
                                            strict=True)):
            yield vi, start, self.clip_tubelets(b, label)

    def clip_tubelets(self, index: int, label: int | None = None) -> np.ndarray:
        """Clip ``index``'s tubelets as float64 ``(N, 4K+1)`` (``label``: of that class)."""
        tubelets = self.tubelets[index].double().numpy()
        if label is None:
            return tubelets
        labels = self.labels[index].numpy() if self.labels is not None else np.zeros(
            len(tubelets), dtype=np.int64)
        return tubelets[labels == label]


def _per_clip(value: Any, batch: int, name: str) -> torch.Tensor:
    tensor = torch.as_tensor(value).detach().cpu()
    if tensor.shape[0] != batch:
        raise ValueError(f"{name} has {tensor.shape[0]} entries for a batch of {batch} clips")
    return tensor


def decode_batch(
    out: Mapping[str, torch.Tensor], batch: Mapping[str, Any], settings: DecodeSettings
) -> DecodedBatch:
    """Decode a detector's outputs for ``batch``: ``image_hw (B, 2)`` (each clip's original
    height, width) is required; ``video_idx (B,)`` and ``start (B,)`` are passed through.

    Outputs are decoded in float32 (bf16 autocast outputs included) on their device; the
    tubelets come back on the CPU.
    """
    out = {k: v.float() for k, v in out.items()}
    grid, labels = decode_labelled(out, settings.mode, settings.top_n, settings.offset_scale,
                                   settings.sizes)
    grid, labels = grid.cpu(), labels.cpu()
    size = grid.shape[0]
    image_hw = _per_clip(batch["image_hw"], size, "image_hw").reshape(size, 2).tolist()
    grid_hw = tuple(out["hm"].shape[-2:])
    tubelets = torch.stack([boxes_to_image(det, grid_hw, tuple(hw))
                            for det, hw in zip(grid, image_hw, strict=True)]) if size else grid
    return DecodedBatch(
        grid, tubelets,
        _per_clip(batch["video_idx"], size, "video_idx").long() if "video_idx" in batch else None,
        _per_clip(batch["start"], size, "start").long() if "start" in batch else None,
        labels,
    )

