"""LightningDataModule for IOD-Video-layout data (the real dataset or SynthIOD).

Training iterates every training clip of one split (shuffled each epoch); validation and
test iterate every inference clip of the split's test videos, in order, so the module can
merge them into per-frame detections and score frameAP exactly as the paper does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
from torch.utils.data import DataLoader

from iodvideo.data.annotations import Annotations, Visibility, load_annotations
from iodvideo.data.augment import MOCAugment
from iodvideo.data.clips import inference_clips, training_clips
from iodvideo.data.dataset import ClipDataset
from iodvideo.data.readers import FrameFolderReader, FrameReader
from iodvideo.data.transforms import ResizeNormalize
from iodvideo.errors import ConfigError, DatasetNotFoundError


class IODVideoDataModule(pl.LightningDataModule):
    """Clips of split ``split`` from ``<root>/<annotations>``, frames read by ``reader``
    (default: the PNG frame folders ``<root>/Frames``).

    If ``synth`` is given (a dict of :class:`iodvideo.data.synth.SynthConfig` fields) and the
    annotation pickle is absent, SynthIOD is generated into ``root`` first; otherwise a missing
    root is an error that says how to get data.
    """

    def __init__(
        self,
        root: str,
        reader: FrameReader | None = None,
        annotations: str = "TrueLeakedGas.pkl",
        split: int = 1,
        clip_len: int = 8,
        input_size: int = 288,
        down_ratio: int = 4,
        batch_size: int = 16,
        eval_batch_size: int = 32,
        num_workers: int = 4,
        context: int | None = None,
        eval_visibility: Visibility | None = None,
        max_objects: int = 128,
        augment: MOCAugment | None = None,
        synth: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if clip_len < 1:
            raise ConfigError(f"data.clip_len must be >= 1, got {clip_len}")
        if input_size % down_ratio:
            raise ConfigError(
                f"data.input_size={input_size} must be a multiple of down_ratio={down_ratio}"
            )
        self.root = Path(root)
        self.annotations_path = self.root / annotations
        self.split = split
        self.clip_len = clip_len
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.num_workers = num_workers
        self.context = context
        self.eval_visibility = eval_visibility
        self.max_objects = max_objects
        self.synth = dict(synth) if synth is not None else None
        self.reader = reader if reader is not None else FrameFolderReader(self.root / "Frames")
        self.augment = augment
        self.transform = ResizeNormalize(input_size, down_ratio)
        self._annotations: Annotations | None = None

    def set_context(self, frames: int) -> None:
        """Extra frames per clip side that the backbone needs (TDN: 2), unless the config
        fixed ``context`` explicitly; a mismatch with the backbone would fail at forward."""
        if self.context is None:
            self.context = frames
        elif self.context != frames:
            raise ConfigError(
                f"data.context={self.context} but the backbone needs {frames} context frames "
                "per side; set data.context=null"
            )

    # -- data preparation ---------------------------------------------------------------
    def prepare_data(self) -> None:
        """Generate SynthIOD if configured and absent; otherwise insist the data exists."""
        if self.annotations_path.is_file():
            return
        if self.synth is None:
            raise DatasetNotFoundError(
                f"{self.annotations_path} not found: point data.root at an IOD-Video copy, or "
                f"generate synthetic data with `python -m iodvideo.synth root={self.root}` "
                "(or use data=synth)"
            )
        from iodvideo.data.synth import SynthConfig, generate_synthiod

        print(f"SynthIOD: generating {self.root} (first use only) ...", flush=True)
        generate_synthiod(self.root, SynthConfig(**self.synth))

    @property
    def annotations(self) -> Annotations:
        if self._annotations is None:
            self._annotations = load_annotations(self.annotations_path)
        return self._annotations

    def setup(self, stage: str | None = None) -> None:
        if not self.annotations_path.is_file():
            self.prepare_data()
        self.annotations.videos(self.split, "test")  # fails early on a bad split

    # -- videos and clips ---------------------------------------------------------------
    def train_videos(self) -> list[str]:
        return self.annotations.videos(self.split, "train")

    def test_videos(self) -> list[str]:
        return self.annotations.videos(self.split, "test", self.eval_visibility)

    def _dataset(self, clips: list, augment: MOCAugment | None = None) -> ClipDataset:
        return ClipDataset(
            self.annotations, clips, self.reader, self.transform, self.clip_len,
            self.context or 0, self.max_objects, augment,
        )

    def train_dataloader(self) -> DataLoader:
        clips = training_clips(self.annotations, self.train_videos(), self.clip_len)
        if not clips:
            raise ConfigError(
                f"{self.annotations_path}: split {self.split} has no training clip of "
                f"{self.clip_len} frames"
            )
        return DataLoader(
            self._dataset(clips, self.augment), batch_size=self.batch_size, shuffle=True,
            drop_last=True,
            num_workers=self.num_workers, persistent_workers=self.num_workers > 0,
        )

    def val_dataloader(self) -> DataLoader:
        clips = inference_clips(self.annotations, self.test_videos(), self.clip_len)
        return DataLoader(
            self._dataset(clips), batch_size=self.eval_batch_size, shuffle=False,
            num_workers=self.num_workers, persistent_workers=self.num_workers > 0,
        )

    test_dataloader = val_dataloader

    def eval_ground_truth(self) -> tuple[list[str], dict[str, np.ndarray]]:
        """Test videos (index order of ``video_idx``) and their GT tubes, for frameAP."""
        videos = self.test_videos()
        return videos, {video: self.annotations.tube(video) for video in videos}
