"""A checkpoint's detector as a clip → tubelets function, and the clip schedule of a video.

:class:`ClipRunner` preprocesses frames exactly as training does (``ResizeNormalize``: square
resize, COCO BGR normalisation), runs the ``ClipDetector``, decodes MOV or STA tubelets (protocol
§8) and maps them back to the frames' own resolution, so any input size works.
:func:`clip_starts` / :func:`iter_clip_batches` schedule the clips of a video of known length
while reading its frames once, in order, with a bounded number of frames in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from iodvideo.checkpointing import checkpoint_decode, config_value, load_detector
from iodvideo.data.clips import clip_frames
from iodvideo.data.transforms import ResizeNormalize
from iodvideo.detections.batch import DecodeSettings, decode_batch
from iodvideo.errors import ConfigError
from iodvideo.inference.device import resolve_device
from iodvideo.models.registry import backbone_facts

log = logging.getLogger(__name__)


@dataclass
class ClipRunner:
    """Runs one detector on clips of preprocessed frames; returns tubelets in image pixels."""

    detector: torch.nn.Module
    input_size: int
    down_ratio: int = 4
    mode: str = "mov"
    top_n: int = 100
    offset_scale: float = 18.0
    sizes: str = "frame"
    device: torch.device = torch.device("cpu")
    labels: tuple[str, ...] = ()  # class names (the checkpoint's); () = "0", "1", ...

    def __post_init__(self) -> None:
        self.detector = self.detector.to(self.device).eval()
        self.transform = ResizeNormalize(self.input_size, self.down_ratio)

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, device: str = "auto", mode: str | None = None,
        top_n: int = 100, offset_scale: float | None = None, sizes: str | None = None,
    ) -> ClipRunner:
        """Rebuild the detector from a training checkpoint (its config travels inside it);
        ``mode`` / ``offset_scale`` / ``sizes`` left None follow the checkpoint."""
        detector, config = load_detector(path)
        settings = checkpoint_decode(
            {"mode": mode, "top_n": top_n, "offset_scale": offset_scale, "sizes": sizes}, config
        )
        return cls(
            detector,
            input_size=int(config_value(config, "data.input_size", 288)),
            down_ratio=int(config_value(config, "data.down_ratio", 4)),
            mode=settings.mode,
            top_n=settings.top_n,
            offset_scale=settings.offset_scale,
            sizes=settings.sizes,
            device=resolve_device(device),
            labels=tuple(str(name) for name in config.get("labels") or ()),
        )

    @property
    def decode_settings(self) -> DecodeSettings:
        return DecodeSettings(self.mode, self.top_n, self.offset_scale, self.sizes)

    @property
    def backbone(self) -> str:
        """Registry name of the detector's backbone (``tsm``, ``resnet``, ...)."""
        return backbone_facts(getattr(self.detector, "backbone", self.detector)).name

    @property
    def num_classes(self) -> int:
        """Heatmap channels of the detector: one per class (1 for IOD-Video's gas)."""
        return int(getattr(getattr(self.detector, "heads", None), "num_classes", 1))

    @property
    def class_names(self) -> list[str]:
        """A name per class: the checkpoint's labels when they fit the model, else indices."""
        if len(self.labels) == self.num_classes:
            return list(self.labels)
        if self.num_classes == 1:  # a checkpoint from before labels were stored: IOD's gas
            return ["gas"]
        return [str(c) for c in range(self.num_classes)]

    @property
    def clip_len(self) -> int:
        return int(self.detector.clip_len)

    @property
    def context(self) -> int:
        """Extra frames each side a clip needs (TDN: 2), as the model says."""
        return int(self.detector.context_frames)

    @property
    def frames_per_clip(self) -> int:
        return int(self.detector.frames_per_clip)

    def preprocess(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 BGR ``(T, H, W, 3)`` → float ``(T, 3, S, S)`` as in training."""
        return torch.from_numpy(self.transform.frames(frames))

    @torch.inference_mode()
    def forward(self, clips: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.detector(clips.to(self.device))

    def decode(self, out: dict[str, torch.Tensor], image_hw: tuple[int, int]) -> np.ndarray:
        """Head outputs of clips of one video → ``(B, N, 4K+1)`` float64 tubelets in image
        pixels (:func:`iodvideo.detections.batch.decode_batch`, like every other path)."""
        return self.decode_labelled(out, image_hw)[0]

    def decode_labelled(self, out: dict[str, torch.Tensor], image_hw: tuple[int, int]
                        ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`decode` plus the class index ``(B, N)`` of every tubelet."""
        size = int(out["hm"].shape[0])
        decoded = decode_batch(out, {"image_hw": [tuple(image_hw)] * size}, self.decode_settings)
        assert decoded.labels is not None
        return decoded.tubelets.double().numpy(), decoded.labels.numpy()

    def labelled(self, clips: torch.Tensor, image_hw: tuple[int, int]
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Like calling the runner, with the class of every tubelet."""
        return self.decode_labelled(self.forward(clips), image_hw)

    def __call__(self, clips: torch.Tensor, image_hw: tuple[int, int]) -> np.ndarray:
        """``clips (B, K(+2·context), 3, S, S)`` preprocessed → tubelets in image pixels."""
        return self.decode(self.forward(clips), image_hw)


def clip_starts(num_frames: int, clip_len: int, stride: int = 1) -> list[int]:
    """1-based clip starts: every ``stride``-th of 1..n−K+1, always ending on n−K+1 so the
    last frames are covered (protocol §2.2 for stride 1); one clip when n < K."""
    if stride < 1:
        raise ConfigError(f"stride must be >= 1, got {stride}")
    last = max(1, num_frames - clip_len + 1)
    starts = list(range(1, last + 1, stride))
    if starts[-1] != last:
        starts.append(last)
    return starts


def iter_clip_batches(
    frames: Iterable[np.ndarray], num_frames: int, runner_preprocess: Any, clip_len: int,
    context: int = 0, stride: int = 1, batch_size: int = 8,
) -> Iterator[tuple[list[int], torch.Tensor, tuple[int, int]]]:
    """Read ``frames`` once, in order; yield ``(starts, clips (B, T, 3, S, S), image_hw)``.

    At most one clip span (plus the frames read ahead for it) stays in memory.
    """
    starts = clip_starts(num_frames, clip_len, stride)
    cache: dict[int, torch.Tensor] = {}
    stream = iter(frames)
    read = 0
    image_hw: tuple[int, int] | None = None
    batch: list[torch.Tensor] = []
    batch_starts: list[int] = []
    for index, start in enumerate(starts):
        needed = clip_frames(start, clip_len, num_frames, context).tolist()
        while read < max(needed):
            try:
                frame = next(stream)
            except StopIteration:
                raise ConfigError(
                    f"the source ended after {read} frames but announced {num_frames}"
                ) from None
            read += 1
            if image_hw is None:
                image_hw = (int(frame.shape[0]), int(frame.shape[1]))
            elif frame.shape[:2] != image_hw:
                raise ConfigError(f"frame {read} is {frame.shape[1]}x{frame.shape[0]} but the "
                                  f"video started at {image_hw[1]}x{image_hw[0]}")
            cache[read] = runner_preprocess(frame[None])[0]
        batch.append(torch.stack([cache[f] for f in needed]))
        batch_starts.append(start)
        if index + 1 < len(starts):
            keep_from = int(clip_frames(starts[index + 1], clip_len, num_frames, context).min())
            for f in [f for f in cache if f < keep_from]:
                del cache[f]
        if len(batch) == batch_size or index + 1 == len(starts):
            assert image_hw is not None
            yield batch_starts, torch.stack(batch), image_hw
            batch, batch_starts = [], []
