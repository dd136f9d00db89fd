"""Evaluate: ``python -m iodvideo.eval detections=<dir> | ckpt=<file> [overrides]``.

Two modes, one protocol (protocol §8-9):

* ``detections=<dir>``: score detections already on disk, in our per-video format or the
  original code's per-clip pickles (so runs of the original code can be re-scored);
* ``ckpt=<file>``: rebuild the model from the training checkpoint's own config
  (:func:`iodvideo.checkpointing.load_detector`), run it over every test clip of each split
  (``test_dataloader``, clips as long as the model asks: TDN's context frames included),
  decode (MOV or STA mode) and scale to image pixels like validation does
  (:func:`iodvideo.detections.batch.decode_batch`), merge clips per frame, then score the
  same way.

Prints the five paper metrics per split (and their mean over several splits) and writes
``metrics.json``, ``metrics.csv``, ``report.md``, per-video CSVs and PR plots to the run
directory. Returns the mean AP@0.5:0.95 for sweepers.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from omegaconf import DictConfig, ListConfig, OmegaConf

from iodvideo.config import CONFIG_DIR
from iodvideo.detections.linking import build_tubes
from iodvideo.detections.merge import clips_to_frame_detections
from iodvideo.errors import ConfigError, IODVideoError, exit_on_user_error
from iodvideo.evaluation.breakdown import breakdown, per_video, size_terciles
from iodvideo.evaluation.detections_io import (
    DetectionError,
    detections_on_disk,
    load_detections,
    read_clip_tubelets,
    save_detections,
)
from iodvideo.evaluation.metrics import (
    SplitMetrics,
    default_workers,
    mean_over_splits,
    paper_metrics,
)
from iodvideo.evaluation.report import (
    markdown_report,
    metrics_table,
    write_metrics,
    write_per_video,
    write_pr_plots,
)
from iodvideo.evaluation.tubes import video_ap

log = logging.getLogger(__name__)


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


def _splits(cfg: DictConfig) -> list[int]:
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


def score_split(
    detections: dict[str, np.ndarray], videos: list[str], gt_boxes: dict[str, np.ndarray],
    rescore: bool = True, workers: int | None = None,
) -> SplitMetrics:
    return paper_metrics(detections, {v: gt_boxes[v] for v in videos}, rescore, workers)


def _detections_mode(cfg: DictConfig, splits: list[int]) -> dict[int, SplitDetections]:
    from iodvideo.data.annotations import load_annotations

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
    clip_len = int(cfg.clip_len or OmegaConf.select(cfg, "data.clip_len", default=8))
    known = set(annotations.nframes)
    out = {}
    for split, directory in zip(splits, dirs, strict=True):
        videos = annotations.videos(split, "test")
        root = Path(directory)
        if not root.is_dir():
            raise DetectionError(f"{root}: detections directory not found")
        present = detections_on_disk(root)
        unknown = sorted(present - known)
        if unknown:
            raise DetectionError(
                f"{root}: detections for {len(unknown)} video(s) not in "
                f"{annotations.path}: {', '.join(unknown[:3])}"
            )
        elsewhere = present - set(videos)
        if elsewhere:
            warnings.warn(
                f"{root}: ignoring detections of {len(elsewhere)} video(s) outside the test set "
                f"of split {split}", stacklevel=1,
            )
        dets, missing = load_detections(
            root, videos, annotations.nframes, clip_len, allow_missing=bool(cfg.allow_missing)
        )
        if missing:
            warnings.warn(
                f"{root}: {len(missing)} test video(s) of split {split} have no detections; "
                "their GT boxes count as misses", stacklevel=1,
            )
        clips = {
            v: read_clip_tubelets(root / v, annotations.nframes[v], clip_len)
            for v in videos if (root / v).is_dir()
        } if cfg.tube_ap else {}
        gt_boxes = {v: annotations.frame_boxes(v) for v in videos}
        gt_tubes = {v: annotations.tubes(v) for v in videos} if cfg.tube_ap else {}
        out[split] = SplitDetections(dets, videos, gt_boxes, clips, clip_len, gt_tubes)
    return out


def _tube_ap(split: SplitDetections) -> dict[str, float] | None:
    """Video-level tube AP (§9.3 linking) of a split, None without per-clip tubelets."""
    if not split.clips:
        return None
    linked = {v: build_tubes(c, split.clip_len) for v, c in split.clips.items()
              if v in split.gt_boxes}
    aps = video_ap(linked, {v: split.gt_tubes[v] for v in split.videos},
                   thresholds=(0.2, 0.5, 0.75))
    return {f"videoAP@{t:g}": 100 * ap for t, ap in aps.items()}


def _ckpt_mode(cfg: DictConfig, splits: list[int], out_dir: Path) -> dict[int, SplitDetections]:
    from hydra.utils import instantiate

    # imported here: scoring detections on disk needs neither torch models nor Lightning
    from iodvideo.allocator import keep_freed_memory
    from iodvideo.checkpointing import checkpoint_decode, load_detector
    from iodvideo.inference.device import resolve_device
    from iodvideo.inference.loader import infer_clips
    from iodvideo.models.memory_format import to_channels_last

    if cfg.keep_freed_memory:
        keep_freed_memory()  # before the first big tensor, inherited by the loader's workers
    detector, config = load_detector(cfg.ckpt)
    if cfg.channels_last:
        detector = to_channels_last(detector)
    decode = checkpoint_decode(cfg.decode, config)
    device = resolve_device(str(cfg.device))
    clip_len = int(detector.clip_len)
    out = {}
    for split in splits:
        data_cfg = OmegaConf.to_container(cfg.data, resolve=True)
        if data_cfg.get("clip_len") != clip_len:
            log.info("data.clip_len set to the checkpoint's %d", clip_len)
        data_cfg.update(split=split, clip_len=clip_len, eval_visibility=None)
        datamodule = instantiate(data_cfg)
        datamodule.set_context(detector.context_frames)  # the model says how long clips are
        datamodule.prepare_data()
        datamodule.setup("validate")
        videos, gt_boxes = datamodule.eval_ground_truth()
        clips = infer_clips(detector, datamodule.test_dataloader(), videos, decode, device)
        dets = {v: clips_to_frame_detections(c, clip_len) for v, c in clips.items()}
        if cfg.save_detections:
            save_detections(out_dir / "detections" / f"split{split}", dets)
        gt_tubes = ({v: datamodule.annotations.tubes(v) for v in videos}
                    if cfg.tube_ap else {})
        out[split] = SplitDetections(dets, list(videos), dict(gt_boxes),
                                     clips if cfg.tube_ap else {}, clip_len, gt_tubes)
    return out


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    if (cfg.ckpt is None) == (cfg.detections is None):
        raise ConfigError("give exactly one of ckpt=<checkpoint> or detections=<directory>")
    out_dir = Path(str(cfg.output_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    splits = _splits(cfg)
    per_split = (
        _detections_mode(cfg, splits) if cfg.detections is not None
        else _ckpt_mode(cfg, splits, out_dir)
    )
    rows: dict[str, dict[str, float]] = {}
    tube_rows: dict[str, dict[str, float]] = {}
    breakdowns, extra = {}, {"splits": splits, "source": str(cfg.ckpt or cfg.detections)}
    all_boxes = {}
    for split_dets in per_split.values():
        all_boxes.update(split_dets.gt_boxes)
    terciles = size_terciles(all_boxes.values()) if all_boxes else None
    workers = default_workers() if str(cfg.workers) == "auto" else int(cfg.workers)
    for split, split_dets in per_split.items():
        videos, gt_boxes = split_dets.videos, split_dets.gt_boxes
        result = score_split(split_dets.detections, videos, gt_boxes, bool(cfg.rescore), workers)
        label = f"split {split}"
        rows[label] = result.metrics
        extra.setdefault("ap_per_threshold", {})[label] = {
            subset: {f"{t:g}": v * 100 for t, v in aps.items()} for subset, aps in result.ap.items()
        }
        extra.setdefault("counts", {})[label] = {
            "videos": len(videos), "gt_boxes": result.scored.num_gt(),
            "detections": int(len(result.scored.score)),
        }
        if cfg.breakdown:
            breakdowns[label] = breakdown(result.scored, gt_boxes, terciles)
            write_per_video(out_dir / f"per_video_split{split}.csv", per_video(result.scored))
        if cfg.plots:
            write_pr_plots(out_dir, result.scored, f"split{split}_")
        if cfg.tube_ap:
            values = _tube_ap(split_dets)
            if values is None:
                warnings.warn(f"split {split}: tube AP needs per-clip detections (ckpt mode or "
                              "original-format directories); skipped", stacklevel=1)
            else:
                tube_rows[label] = values
    if len(rows) > 1:
        rows["avg"] = mean_over_splits(list(rows.values()))
    if tube_rows:
        extra["video_tube_ap_extra"] = tube_rows
    write_metrics(out_dir, rows, {**extra, "breakdown": breakdowns})
    notes = [
        "AP@clear / AP@vague are 0.5:0.95 means on the clear / vague test videos (§9.3).",
        "Ties in the global score order are broken by pooled row order (deterministic).",
    ]
    (out_dir / "report.md").write_text(markdown_report(rows, breakdowns, tube_rows or None, notes))
    print(metrics_table(rows))
    print(f"reports: {out_dir}")
    return rows


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def main(cfg: DictConfig) -> float | None:
    with exit_on_user_error():
        rows = evaluate(cfg)
    last = rows.get("avg") or next(iter(rows.values()))
    return float(last["AP@0.5:0.95"])


__all__ = ["IODVideoError", "SplitDetections", "evaluate", "main"]

if __name__ == "__main__":
    main()
