"""What ``python -m iodvideo.eval`` scores, split by split, when no model runs: detections on
disk (``detections=<dir>``) or a trivial baseline (``baseline=copied_box``). The ``ckpt=`` mode
runs a model and lives in :mod:`iodvideo.eval` (evaluation never imports inference).

Every source honours ``data.videos.test`` (the test videos instead of the split's list) and
``data.frames.test`` (a range of frames of each, :mod:`iodvideo.data.selection`): GT boxes
and detections outside the range are dropped, so exactly the range's frames are scored.
Detections read from disk are cut frame by frame (they may come from clips that reach past
the range's border: ``eval ckpt=`` and training run only clips inside it); per-clip tubelets
for tube AP are kept only for clips entirely inside the range.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, ListConfig, OmegaConf

from iodvideo.data.annotations import Annotations, load_annotations
from iodvideo.data.selection import Range, Selection, rows_in_range, tubes_in_range
from iodvideo.detections.linking import build_tubes
from iodvideo.errors import ConfigError
from iodvideo.evaluation.baselines import BASELINES, copied_box_detections
from iodvideo.evaluation.detections_io import (
    DetectionError,
    detections_on_disk,
    load_detections,
    read_clip_tubelets,
)
from iodvideo.evaluation.tubes import video_ap


@dataclass
class SplitDetections:
    """What one split is scored on: frame detections per test video, the test videos in
    order, their GT boxes (``gt_boxes``: every tube's rows of a video, ``(n, 5)``, see
    ``Annotations.frame_boxes``), and — when tube AP is asked for and the source has them —
    the per-clip tubelets ``{video: {start: (N, 4K+1)}}`` with their clip length K and the
    GT tubes themselves (``gt_tubes``: video → list of tubes)."""

    detections: dict[str, np.ndarray]
    videos: list[str]
    gt_boxes: dict[str, np.ndarray]
    clips: dict[str, dict[int, np.ndarray]] = field(default_factory=dict)
    clip_len: int = 8
    gt_tubes: dict[str, list[np.ndarray]] = field(default_factory=dict)


def split_list(cfg: DictConfig) -> list[int]:
    """``split`` (an integer or a list), else ``data.split``."""
    split = cfg.split if cfg.split is not None else OmegaConf.select(cfg, "data.split", default=1)
    splits = list(split) if isinstance(split, (list, ListConfig)) else [split]
    if not splits or not all(isinstance(s, int) for s in splits):
        raise ConfigError(f"split must be an integer or a list of integers, got {split!r}")
    return splits


def annotations_path(cfg: DictConfig) -> Path:
    """``data.annotations`` as given if it is a file path, else under ``data.root``."""
    name = OmegaConf.select(cfg, "data.annotations", default=None)
    if name is None:
        raise ConfigError("data.annotations is not set (path of the annotation pickle)")
    path = Path(str(name))
    root = OmegaConf.select(cfg, "data.root", default=None, throw_on_missing=False)
    if path.is_file() or path.is_absolute() or root is None:
        return path
    return Path(str(root)) / path


def selection(cfg: DictConfig) -> Selection:
    """``data.videos`` / ``data.frames`` of the eval config (absent: nothing selected)."""
    return Selection.from_config(OmegaConf.select(cfg, "data.videos", default=None),
                                 OmegaConf.select(cfg, "data.frames", default=None))


def stage_ranges(chosen: Selection, annotations: Annotations, split: int, stage: str,
                 clip_len: int) -> dict[str, Range]:
    """``video → (first, last)`` of the ``train`` or ``test`` videos of ``split`` (or those
    named in ``data.videos.<stage>``; the split's whole training list, nothing held out), cut
    to ``data.frames.<stage>``."""
    videos = chosen.named(stage, annotations) or annotations.videos(split, stage)
    return chosen.ranges(chosen.frames[stage], annotations, videos, clip_len)


def _clip_len(cfg: DictConfig) -> int:
    return int(cfg.clip_len or OmegaConf.select(cfg, "data.clip_len", default=8))


def detections_mode(cfg: DictConfig, splits: list[int]
                    ) -> tuple[list[str], dict[int, list[SplitDetections]]]:
    """``detections=<dir>`` (or one per split): the class names and, per split, one
    :class:`SplitDetections` per class (one for a single-class pickle)."""
    annotations = load_annotations(annotations_path(cfg))
    dirs = cfg.detections
    dirs = [str(d) for d in dirs] if isinstance(dirs, (list, ListConfig)) else [str(dirs)]
    if len(dirs) == 1:
        dirs = dirs * len(splits)
    if len(dirs) != len(splits):
        raise ConfigError(
            f"detections lists {len(dirs)} directories for {len(splits)} splits; give one per "
            "split or a single directory holding all of them"
        )
    clip_len = _clip_len(cfg)
    chosen = selection(cfg)
    known = set(annotations.nframes)
    labels = list(annotations.labels)
    several = len(labels) > 1
    classes = labels if several else labels[:1]
    out: dict[int, list[SplitDetections]] = {}
    for split, directory in zip(splits, dirs, strict=True):
        root = Path(directory)
        if not root.is_dir():
            raise DetectionError(f"{root}: detections directory not found")
        present = detections_on_disk(root)
        if several:  # <root>/<label>/<video>.npy: strip the class directory
            present = {k.split("/", 1)[1] if k.split("/", 1)[0] in labels else k
                       for k in present}
        unknown = sorted(present - known)
        if unknown:
            raise DetectionError(
                f"{root}: detections for {len(unknown)} video(s) not in "
                f"{annotations.path}: {', '.join(unknown[:3])}"
            )
        frames = stage_ranges(chosen, annotations, split, "test", clip_len)
        elsewhere = present - set(frames)
        if elsewhere:
            warnings.warn(
                f"{root}: ignoring detections of {len(elsewhere)} video(s) outside the test set "
                f"of split {split}", stacklevel=1,
            )
        out[split] = [_read_split(cfg, annotations, root, split, clip_len, frames,
                                  (c, name) if several else None)
                      for c, name in enumerate(classes)]
    return classes, out


def _read_split(cfg: DictConfig, annotations: Any, root: Path, split: int, clip_len: int,
                frames: dict[str, Range], label: tuple[int, str] | None) -> SplitDetections:
    """One split's detections in ``root`` (``label``: one class's of several) and its GT, on
    the frames of each test video's range."""
    videos = list(frames)
    where = f"{root} ({label[1]})" if label else str(root)
    dets, missing = load_detections(
        root, videos, annotations.nframes, clip_len, allow_missing=bool(cfg.allow_missing),
        label=label,
    )
    if missing:
        warnings.warn(
            f"{where}: {len(missing)} test video(s) of split {split} have no detections; "
            "their GT boxes count as misses", stacklevel=1,
        )
    dets = {v: rows_in_range(d, frames[v]) for v, d in dets.items()}
    index = None if label is None else label[0]
    clips = {
        v: {s: t for s, t in read_clip_tubelets(root / v, annotations.nframes[v], clip_len,
                                                index).items()
            if frames[v][0] <= s and s + clip_len - 1 <= frames[v][1]}
        for v in videos if (root / v).is_dir()
    } if cfg.tube_ap else {}
    gt_boxes = {v: rows_in_range(annotations.frame_boxes(v, index), frames[v]) for v in videos}
    gt_tubes = ({v: tubes_in_range(annotations.tubes(v, index), frames[v]) for v in videos}
                if cfg.tube_ap else {})
    return SplitDetections(dets, videos, gt_boxes, clips, clip_len, gt_tubes)


def baseline_mode(cfg: DictConfig, splits: list[int]
                  ) -> tuple[list[str], dict[int, list[SplitDetections]]]:
    """``baseline=copied_box``: per split and class, the baseline's detections on the test
    range (:mod:`iodvideo.evaluation.baselines`) from the boxes of the training range."""
    name = str(cfg.baseline)
    if name not in BASELINES:
        raise ConfigError(f"baseline={name}: unknown baseline; choose one of {list(BASELINES)}")
    annotations = load_annotations(annotations_path(cfg))
    chosen = selection(cfg)
    clip_len = _clip_len(cfg)
    labels = list(annotations.labels)
    indices = list(range(len(labels))) if len(labels) > 1 else [None]
    out: dict[int, list[SplitDetections]] = {}
    for split in splits:
        train = stage_ranges(chosen, annotations, split, "train", clip_len)
        test = stage_ranges(chosen, annotations, split, "test", clip_len)
        out[split] = [
            SplitDetections(copied_box_detections(annotations, train, test, index), list(test),
                            {v: rows_in_range(annotations.frame_boxes(v, index), test[v])
                             for v in test}, clip_len=clip_len)
            for index in indices]
    return labels if len(labels) > 1 else labels[:1], out


def tube_ap(split: SplitDetections) -> dict[str, float] | None:
    """Video-level tube AP (§9.3 linking) of a split, None without per-clip tubelets."""
    if not split.clips:
        return None
    linked = {v: build_tubes(c, split.clip_len) for v, c in split.clips.items()
              if v in split.gt_boxes}
    aps = video_ap(linked, {v: split.gt_tubes[v] for v in split.videos},
                   thresholds=(0.2, 0.5, 0.75))
    return {f"videoAP@{t:g}": 100 * ap for t, ap in aps.items()}
