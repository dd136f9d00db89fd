"""LightningDataModule for IOD-Video-layout data (the real dataset or SynthIOD).

Training iterates every training clip of one split (shuffled each epoch) except those of a
seeded, held-out part of its training videos (``val_fraction``): validation iterates every
inference clip of those held-out videos (every ``val_clip_stride``-th start: cheaper, still every
frame), test every inference clip of the split's test videos,
in order, so the module can merge them into per-frame detections and score frameAP exactly as
the paper does. Model selection (the best checkpoint) therefore never looks at the test videos;
``val_fraction: 0`` restores the reference's practice of validating on the test split. With
``online`` (SynthIOD only) training clips are instead rendered on the fly, each from a new video.

``videos`` and ``frames`` (``data.videos.<stage>``, ``data.frames.<stage>``, stages ``train``,
``val``, ``test``; :mod:`iodvideo.data.selection`) name the videos of a stage instead of the
split's lists and keep a range of frames of each: clips lie entirely inside the range, and
validation and test score exactly its frames (GT outside it is dropped, and no clip reaches
past it). Named training videos are all fitted on (nothing is held out): validation then runs
on them, on the training range (selection never sees the test frames), unless
``videos.val`` names others or ``val_fraction`` is 0 (the test videos and range). An unset
``frames.val`` follows ``frames.test`` when validation runs on the test videos, else
``frames.train``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
from torch.utils.data import DataLoader, Dataset

from iodvideo.data.annotations import Annotations, Visibility, load_annotations
from iodvideo.data.augment import MOCAugment
from iodvideo.data.camera_augment import CameraEffects
from iodvideo.data.clips import inference_clips, training_clips
from iodvideo.data.dataset import ClipDataset
from iodvideo.data.readers import FrameFolderReader, FrameReader
from iodvideo.data.selection import (
    FrameSpec,
    Range,
    Selection,
    overlapping,
    rows_in_range,
    tubes_in_range,
)
from iodvideo.data.synth_root import generate_synth, resolve_synth_root
from iodvideo.data.transforms import ResizeNormalize
from iodvideo.data.workers import worker_start_method
from iodvideo.errors import ConfigError


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
        camera_augment: CameraEffects | None = None,
        synth: Mapping[str, Any] | None = None,
        val_fraction: float = 0.2,
        val_seed: int = 0,
        online: Mapping[str, Any] | None = None,
        val_clip_stride: int = 1,
        videos: Mapping[str, Any] | None = None,
        frames: Mapping[str, Any] | None = None,
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
        if not 0.0 <= val_fraction < 1.0:
            raise ConfigError(f"data.val_fraction must be in [0, 1), got {val_fraction}")
        self.val_fraction = float(val_fraction)
        self.val_seed = int(val_seed)
        if val_clip_stride < 1:
            raise ConfigError(f"data.val_clip_stride must be >= 1, got {val_clip_stride}")
        # at most K, so that every frame stays covered by a clip (any clip_len works with the
        # synth default of 8)
        self.val_clip_stride = min(int(val_clip_stride), clip_len)
        self.synth = dict(synth) if synth is not None else None
        self.online = dict(online) if online is not None else None
        if self.online is not None and self.synth is None:
            raise ConfigError(
                "data.online renders SynthIOD training clips and needs data.synth (the "
                "generator settings); it cannot be used with real data"
            )
        self.selection = Selection.from_config(videos, frames)
        if self.online is not None and (self.selection.videos["train"] is not None
                                        or self.selection.frames["train"] is not None):
            raise ConfigError(
                "data.videos.train / data.frames.train pick on-disk training clips, but "
                "data.online renders new videos instead; set data.online=null")
        self._selection_checked = False
        self._synth_checked = False
        self.reader = reader if reader is not None else FrameFolderReader(self.root / "Frames")
        self.augment, self.camera_augment = augment, camera_augment  # training clips only
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
        """Generate SynthIOD if configured and absent (or another set sits in ``root``: see
        :meth:`_use_configured_synth`); otherwise insist the data exists."""
        generating_line = self._use_configured_synth()
        if not self.annotations_path.is_file():
            generate_synth(self.root, self.annotations_path, self.synth, generating_line)
        self.check_selection()

    def _use_configured_synth(self) -> str | None:
        """Make ``root`` hold the SynthIOD set ``data.synth`` describes, never touching a set
        already on disk (once; :mod:`iodvideo.data.synth_root`: reused, or a sibling folder
        ``<root>-<num_videos>v-<digest>`` read instead, frames and pickle alike). Returns the
        line to print before generating (None: the usual one)."""
        if self._synth_checked:
            return None
        self._synth_checked = True
        if self.synth is None:
            return None
        chosen = resolve_synth_root(self.root, self.annotations_path, self.reader, self.synth,
                                    lambda: len(self.annotations.nframes))
        if chosen.root != self.root:
            self.root, self.annotations_path = chosen.root, chosen.annotations_path
            self.reader, self._annotations = chosen.reader, None
        return chosen.generating_line

    @property
    def annotations(self) -> Annotations:
        if self._annotations is None:
            self._annotations = load_annotations(self.annotations_path)
        return self._annotations

    @property
    def labels(self) -> list[str]:
        """Class names, in heatmap-channel order (the annotation pickle's ``labels``)."""
        return list(self.annotations.labels)

    @property
    def num_classes(self) -> int:
        """Heatmap channels the detector needs for this data (``model.heads.num_classes``).
        On-the-fly SynthIOD clips are single-class, as is the SynthIOD pickle beside them."""
        return self.annotations.num_classes

    def setup(self, stage: str | None = None) -> None:
        if not self._synth_checked or not self.annotations_path.is_file():
            self.prepare_data()
        self.annotations.videos(self.split, "test")  # fails early on a bad split
        self.check_selection()

    def check_selection(self) -> None:
        """Resolve ``data.videos`` / ``data.frames`` for every stage now, so that a bad name or
        range fails before any fit (one ConfigError line); warn once when a video's training
        and test ranges share frames."""
        if self._selection_checked or not self.selection.active:
            return
        test = self.frame_ranges("test")
        self.frame_ranges("val")
        if self.online is None:
            shared = overlapping(self.frame_ranges("train"), test)
            if shared:
                warnings.warn(
                    f"data.frames: {len(shared)} video(s) are trained on and tested on the same "
                    f"frames ({shared[0]}: train {self.frame_ranges('train')[shared[0]]}, test "
                    f"{test[shared[0]]}); set data.frames.train / data.frames.test apart",
                    stacklevel=2)
        self._selection_checked = True

    # -- videos and clips ---------------------------------------------------------------
    def _split_training_videos(self) -> tuple[list[str], list[str]]:
        """(fitting videos, held-out validation videos) of the split's training list: a seeded
        draw of ``round(val_fraction · n)`` videos (at least one when the fraction is > 0), so
        every clip of a video lands on one side. Videos named in ``data.videos.train`` are all
        fitted on: (named, [])."""
        named = self.selection.named("train", self.annotations)
        if named is not None:
            return named, []
        videos = self.annotations.videos(self.split, "train")
        count = round(self.val_fraction * len(videos))
        if self.val_fraction > 0:
            count = min(max(count, 1), len(videos) - 1)
        rng = np.random.default_rng(self.val_seed)
        held = set(rng.choice(len(videos), size=count, replace=False).tolist()) if count else set()
        fit = [v for i, v in enumerate(videos) if i not in held]
        return fit, [v for i, v in enumerate(videos) if i in held]

    def train_videos(self) -> list[str]:
        """The training videos the model is fitted on (the held-out ones excluded)."""
        return self._split_training_videos()[0]

    def _validation_source(self) -> str:
        """Where validation videos come from: ``named`` (data.videos.val), ``test`` (val_fraction
        0, the reference's practice), ``train`` (the named training videos: nothing to hold out)
        or ``held`` (the seeded held-out part of the split's training videos)."""
        if self.selection.videos["val"] is not None:
            return "named"
        if self.val_fraction == 0:
            return "test"
        return "train" if self.selection.videos["train"] is not None else "held"

    def val_videos(self) -> list[str]:
        """Held-out training videos for model selection; the test videos if ``val_fraction``
        is 0 (the reference's practice); ``data.videos.val`` if given, else the named
        ``data.videos.train`` (see the module doc)."""
        source = self._validation_source()
        if source == "named":
            return self.selection.named("val", self.annotations) or []
        if source == "test":
            return self.test_videos()
        return self._split_training_videos()[0 if source == "train" else 1]

    def test_videos(self) -> list[str]:
        named = self.selection.named("test", self.annotations)
        if named is None:
            return self.annotations.videos(self.split, "test", self.eval_visibility)
        if self.eval_visibility is None:
            return named
        if self.eval_visibility not in ("clear", "vague"):
            raise ValueError(f"visibility must be 'clear' or 'vague', got {self.eval_visibility!r}")
        return [v for v in named if v.endswith(f"_{self.eval_visibility}")]

    def frame_spec(self, stage: str) -> FrameSpec | None:
        """The ``data.frames`` range of ``stage`` (an unset ``val`` follows ``test`` when it
        validates on the test videos, else ``train``); None: every frame."""
        spec = self.selection.frames[stage]
        if stage != "val" or spec is not None:
            return spec
        return self.selection.frames["test" if self._validation_source() == "test" else "train"]

    def frame_ranges(self, stage: str) -> dict[str, Range]:
        """``video → (first, last)``: the 1-based frames of each video ``stage`` (``train``,
        ``val``, ``test``) uses; a ConfigError if a range holds less than one clip."""
        videos = {"train": self.train_videos, "val": self.val_videos,
                  "test": self.test_videos}[stage]()
        return self.selection.ranges(self.frame_spec(stage), self.annotations, videos,
                                     self.clip_len)

    def _dataset(self, clips: list, augment: MOCAugment | None = None,
                 frames: dict[str, Range] | None = None,
                 camera: CameraEffects | None = None) -> ClipDataset:
        return ClipDataset(
            self.annotations, clips, self.reader, self.transform, self.clip_len,
            self.context or 0, self.max_objects, augment, frames, camera,
        )

    def online_dataset(self) -> Dataset:
        """Training clips rendered on the fly (``data.online``; see data/synth/online.py)."""
        from iodvideo.data.synth.online import LABELS_BY, OnlineSynthClips, online_config

        settings = dict(self.online or {})
        clips = int(settings.pop("clips_per_epoch", 400))
        max_warmup = int(settings.pop("max_warmup", 8))
        label_by = settings.pop("label_by", None)
        expected = LABELS_BY.get(label_by)
        if label_by is not None and self.labels != expected:
            raise ConfigError(
                f"data.online.label_by={label_by} renders classes {expected} but "
                f"{self.annotations.path} has labels {self.labels} (make a matching root with "
                "scripts/relabel_by_visibility.py)")
        config = online_config(self.synth or {}, **settings)
        return OnlineSynthClips(
            config, clips, self.transform, self.clip_len, self.context or 0, self.max_objects,
            self.augment, max_warmup, label_by, self.camera_augment,
        )

    def train_dataloader(self) -> DataLoader:
        if self.online is not None:
            return DataLoader(
                self.online_dataset(), batch_size=self.batch_size, shuffle=False,
                drop_last=True, num_workers=self.num_workers,
                persistent_workers=self.num_workers > 0,
                multiprocessing_context=worker_start_method(self.num_workers),
            )
        frames = self.frame_ranges("train")
        clips = training_clips(self.annotations, self.train_videos(), self.clip_len, frames)
        if not clips:
            spec = self.frame_spec("train")
            raise ConfigError(
                f"{self.annotations_path}: split {self.split} has no training clip of "
                f"{self.clip_len} frames" + (f" inside {spec}" if spec else "")
                + " (a training clip needs every frame of a tube or none, and one tube)"
            )
        return DataLoader(
            self._dataset(clips, self.augment, frames, self.camera_augment),
            batch_size=self.batch_size, shuffle=True,
            drop_last=True,
            num_workers=self.num_workers, persistent_workers=self.num_workers > 0,
            multiprocessing_context=worker_start_method(self.num_workers),
        )

    def _inference_loader(self, stage: str, stride: int = 1) -> DataLoader:
        """Every clip (every ``stride``-th start) inside the frame range of each ``stage``
        video, in order (``video_idx`` indexes ``ground_truth(stage)``'s videos)."""
        frames = self.frame_ranges(stage)
        clips = inference_clips(self.annotations, list(frames), self.clip_len, stride, frames)
        return DataLoader(
            self._dataset(clips, frames=frames), batch_size=self.eval_batch_size, shuffle=False,
            num_workers=self.num_workers, persistent_workers=self.num_workers > 0,
            multiprocessing_context=worker_start_method(self.num_workers),
        )

    def val_dataloader(self) -> DataLoader:
        return self._inference_loader("val", self.val_clip_stride)

    def test_dataloader(self) -> DataLoader:
        return self._inference_loader("test")

    def calibration_dataloader(self, num_batches: int, seed: int = 0) -> DataLoader:
        """``num_batches`` batches of training clips without augmentation, drawn with ``seed``
        (no global RNG touched): what BatchNorm recalibration runs on (bn_calibration)."""
        frames = self.frame_ranges("train")
        clips = training_clips(self.annotations, self.train_videos(), self.clip_len, frames)
        rng = np.random.default_rng([self.val_seed, seed])
        count = min(len(clips), num_batches * self.batch_size)
        chosen = [clips[i] for i in rng.choice(len(clips), size=count, replace=False)]
        return DataLoader(
            self._dataset(chosen, frames=frames), batch_size=self.batch_size, shuffle=False,
            num_workers=min(self.num_workers, 2),
            multiprocessing_context=worker_start_method(min(self.num_workers, 2)),
        )

    def ground_truth(
        self, stage: str = "test", label: int | None = None
    ) -> tuple[list[str], dict[str, np.ndarray]]:
        """Videos of the ``val`` or ``test`` loader (index order of ``video_idx``) and their
        ground truth for frameAP: every GT box, ``(n, 5)`` rows ``frame, x1, y1, x2, y2`` of all
        the video's tubes (:meth:`Annotations.frame_boxes`; several rows or none per frame)
        on the frames of the stage's range (``data.frames``), the frames its clips cover.
        ``label``: only the boxes of that class (frameAP is scored one class at a time); a
        video without that class gets ``(0, 5)``, so the video index order stays the same."""
        if stage not in ("val", "test"):
            raise ValueError(f"stage must be 'val' or 'test', got {stage!r}")
        if label is not None and not 0 <= label < self.num_classes:
            raise ValueError(f"label {label} out of range: the data has classes "
                             f"0..{self.num_classes - 1} ({self.labels})")
        frames = self.frame_ranges(stage)
        return list(frames), {video: rows_in_range(self.annotations.frame_boxes(video, label),
                                                   frames[video]) for video in frames}

    def gt_tubes(self, stage: str = "test", label: int | None = None) -> dict[str, list]:
        """The GT tubes of the ``stage`` videos cut to its frame range (tube AP)."""
        frames = self.frame_ranges(stage)
        return {video: tubes_in_range(self.annotations.tubes(video, label), frames[video])
                for video in frames}

    def eval_ground_truth(self) -> tuple[list[str], dict[str, np.ndarray]]:
        """The test videos and their GT boxes (``ground_truth("test")``)."""
        return self.ground_truth("test")

