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
from iodvideo.evaluation.classes import class_metric_name, paper_metrics_by_class
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
)
from iodvideo.evaluation.published import published_rows
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
    labels = list(annotations.labels)
    out: dict[int, list[SplitDetections]] = {}
    for split, directory in zip(splits, dirs, strict=True):
        root = Path(directory)
        if not root.is_dir():
            raise DetectionError(f"{root}: detections directory not found")
        present = detections_on_disk(root)
        if len(labels) > 1:  # <root>/<label>/<video>.npy: strip the class directory
            present = {k.split("/", 1)[1] if k.split("/", 1)[0] in labels else k
                       for k in present}
        unknown = sorted(present - known)
        if unknown:
            raise DetectionError(
                f"{root}: detections for {len(unknown)} video(s) not in "
                f"{annotations.path}: {', '.join(unknown[:3])}"
            )
        elsewhere = present - set(annotations.videos(split, "test"))
        if elsewhere:
            warnings.warn(
                f"{root}: ignoring detections of {len(elsewhere)} video(s) outside the test set "
                f"of split {split}", stacklevel=1,
            )
        several = len(labels) > 1
        classes = labels if several else labels[:1]
        out[split] = [_read_split(cfg, annotations, root, split, clip_len,
                                  (c, name) if several else None)
                      for c, name in enumerate(classes)]
    return classes, out


def _read_split(cfg: DictConfig, annotations: Any, root: Path, split: int, clip_len: int,
                label: tuple[int, str] | None) -> SplitDetections:
    """One split's detections in ``root`` (``label``: one class's of several) and its GT."""
    videos = annotations.videos(split, "test")
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
    index = None if label is None else label[0]
    clips = {
        v: read_clip_tubelets(root / v, annotations.nframes[v], clip_len, index)
        for v in videos if (root / v).is_dir()
    } if cfg.tube_ap else {}
    gt_boxes = {v: annotations.frame_boxes(v, index) for v in videos}
    gt_tubes = {v: annotations.tubes(v, index) for v in videos} if cfg.tube_ap else {}
    return SplitDetections(dets, videos, gt_boxes, clips, clip_len, gt_tubes)


def _tube_ap(split: SplitDetections) -> dict[str, float] | None:
    """Video-level tube AP (§9.3 linking) of a split, None without per-clip tubelets."""
    if not split.clips:
        return None
    linked = {v: build_tubes(c, split.clip_len) for v, c in split.clips.items()
              if v in split.gt_boxes}
    aps = video_ap(linked, {v: split.gt_tubes[v] for v in split.videos},
                   thresholds=(0.2, 0.5, 0.75))
    return {f"videoAP@{t:g}": 100 * ap for t, ap in aps.items()}


def _ckpt_mode(cfg: DictConfig, splits: list[int], out_dir: Path
               ) -> tuple[list[str], dict[int, list[SplitDetections]], dict[str, Any]]:
    from hydra.utils import instantiate

    # imported here: scoring detections on disk needs neither torch models nor Lightning
    from iodvideo.allocator import keep_freed_memory
    from iodvideo.checkpointing import checkpoint_decode, config_value, load_detector
    from iodvideo.inference.device import resolve_device
    from iodvideo.inference.loader import infer_clips
    from iodvideo.models.memory_format import to_channels_last
    from iodvideo.models.original import ORIGINAL_KEY

    if cfg.keep_freed_memory:
        keep_freed_memory()  # before the first big tensor, inherited by the loader's workers
    detector, config = load_detector(cfg.ckpt)
    if cfg.channels_last:
        detector = to_channels_last(detector)
    decode = checkpoint_decode(cfg.decode, config)
    device = resolve_device(str(cfg.device))
    clip_len = int(detector.clip_len)
    num_classes = int(getattr(detector.heads, "num_classes", 1))
    out: dict[int, list[SplitDetections]] = {}
    labels: list[str] = []
    for split in splits:
        data_cfg = OmegaConf.to_container(cfg.data, resolve=True)
        if data_cfg.get("clip_len") != clip_len:
            log.info("data.clip_len set to the checkpoint's %d", clip_len)
        data_cfg.update(split=split, clip_len=clip_len, eval_visibility=None)
        for key in ("input_size", "down_ratio"):  # the model's preprocessing, not the data's
            trained = config_value(config, f"data.{key}")
            if trained is not None and data_cfg.get(key) != trained:
                log.info("data.%s set to the checkpoint's %s", key, trained)
                data_cfg[key] = int(trained)
        datamodule = instantiate(data_cfg)
        datamodule.set_context(detector.context_frames)  # the model says how long clips are
        datamodule.prepare_data()
        datamodule.setup("validate")
        labels = checkpoint_labels(config, datamodule.annotations, num_classes, cfg.ckpt)
        videos, _ = datamodule.eval_ground_truth()
        per_class = infer_clips(detector, datamodule.test_dataloader(), videos, decode,
                                      device, num_classes)
        out[split] = []
        for c, clips in enumerate(per_class):
            index = c if num_classes > 1 else None
            dets = {v: clips_to_frame_detections(c_, clip_len) for v, c_ in clips.items()}
            if cfg.save_detections:
                where = out_dir / "detections" / f"split{split}"
                save_detections(where / labels[c] if index is not None else where, dets)
            annotations = datamodule.annotations
            gt_boxes = {v: annotations.frame_boxes(v, index) for v in videos}
            gt_tubes = ({v: annotations.tubes(v, index) for v in videos} if cfg.tube_ap else {})
            out[split].append(SplitDetections(dets, list(videos), gt_boxes,
                                              clips if cfg.tube_ap else {}, clip_len, gt_tubes))
    source = {"original": config.get(ORIGINAL_KEY), "mode": decode.mode}
    return labels, out, source


def checkpoint_labels(config: dict, annotations: Any, num_classes: int, ckpt: Any) -> list[str]:
    """The class names of a checkpoint's detector, checked against the data's: a model of
    several classes must be scored on data with the same classes in the same order; a
    single-class model is scored on every GT box, whatever the data calls it."""
    if num_classes == 1:
        return list(annotations.labels[:1])
    trained = list(config.get("labels") or [str(c) for c in range(num_classes)])
    if list(annotations.labels) != trained:
        raise ConfigError(
            f"{ckpt}: the model detects {num_classes} classes {trained} but "
            f"{annotations.path} has labels {list(annotations.labels)}; evaluate it on data "
            "with the same classes in the same order"
        )
    return trained


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    if (cfg.ckpt is None) == (cfg.detections is None):
        raise ConfigError("give exactly one of ckpt=<checkpoint> or detections=<directory>")
    out_dir = Path(str(cfg.output_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    splits = _splits(cfg)
    labels, per_split, source = (
        (*_detections_mode(cfg, splits), {}) if cfg.detections is not None
        else _ckpt_mode(cfg, splits, out_dir)
    )
    rows: dict[str, dict[str, float]] = {}
    tube_rows: dict[str, dict[str, float]] = {}
    breakdowns: dict[str, Any] = {}
    extra: dict[str, Any] = {"splits": splits, "source": str(cfg.ckpt or cfg.detections),
                             "labels": labels}
    all_boxes = {(c, v): boxes for classes in per_split.values()
                 for c, class_dets in enumerate(classes)
                 for v, boxes in class_dets.gt_boxes.items()}
    terciles = size_terciles(all_boxes.values()) if all_boxes else None
    workers = default_workers() if str(cfg.workers) == "auto" else int(cfg.workers)
    for split, classes in per_split.items():
        label = f"split {split}"
        result = paper_metrics_by_class(
            [c.detections for c in classes], [{v: c.gt_boxes[v] for v in c.videos}
                                              for c in classes],
            labels, bool(cfg.rescore), workers)
        rows[label] = result.metrics
        if len(classes) > 1:
            _report_classes(cfg, out_dir, split, labels, classes, result, terciles, breakdowns,
                            tube_rows)
            continue
        split_dets = classes[0]
        videos, gt_boxes = split_dets.videos, split_dets.gt_boxes
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
    published = published_rows(source.get("original"), splits, source.get("mode", "mov"))
    if published:  # a released model: the authors' figures beside ours (protocol §10)
        extra["published"] = published
    write_metrics(out_dir, rows, {**extra, "breakdown": breakdowns})
    notes = [
        "AP@clear / AP@vague are 0.5:0.95 means on the clear / vague test videos (§9.3).",
        "Ties in the global score order are broken by pooled row order (deterministic).",
    ]
    tables = [metrics_table(rows)]
    if len(labels) > 1:
        notes.append("Several classes: each metric is the mean over classes of the class's "
                     "own AP (classes without GT boxes left out); per class below.")
        tables += [metrics_table(_class_rows(rows, labels, name), labels)
                   for name in ("AP@0.5", "AP@0.5:0.95")]
    report = markdown_report(rows, breakdowns, tube_rows or None, notes)
    if len(labels) > 1:
        report += "\n\n## Per class\n\n" + "\n\n".join(
            f"{name}:\n\n{table}" for name, table in zip(("AP@0.5", "AP@0.5:0.95"), tables[1:],
                                                          strict=True)) + "\n"
    if published:  # last: the per-class code above reads tables[1:]
        tables.append("published (readme/Evaluation.md):\n" + metrics_table(published))
        report += f"\n\n## Published (readme/Evaluation.md)\n\n{tables[-1]}\n"
    (out_dir / "report.md").write_text(report)
    print("\n\n".join(tables))
    print(f"reports: {out_dir}")
    return rows


def _class_rows(rows: dict[str, dict[str, float]], labels: list[str],
                metric: str) -> dict[str, dict[str, float]]:
    """``{split: {label: value of metric for that class}}`` for a per-class table."""
    return {split: {label: values[class_metric_name(metric, label)] for label in labels
                    if class_metric_name(metric, label) in values}
            for split, values in rows.items()}


def _report_classes(cfg: DictConfig, out_dir: Path, split: int, labels: list[str],
                    classes: list[SplitDetections], result: SplitMetrics,
                    terciles: Any, breakdowns: dict, tube_rows: dict) -> None:
    """Several classes: each class's breakdown, per-video CSV, PR plots and tube AP, named
    by class; the split's row (the mean over classes) is already in the table."""
    split_label = f"split {split}"
    for name, class_dets in zip(labels, classes, strict=True):
        scored = result.per_class[name].scored
        key = f"{split_label} {name}"
        if scored is None:  # no GT box of this class in the split
            continue
        if cfg.breakdown:
            breakdowns[key] = breakdown(scored, class_dets.gt_boxes, terciles)
            write_per_video(out_dir / f"per_video_split{split}_{name}.csv", per_video(scored))
        if cfg.plots:
            write_pr_plots(out_dir, scored, f"split{split}_{name}_")
        if cfg.tube_ap:
            values = _tube_ap(class_dets)
            if values is not None:
                tube_rows[key] = values


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def main(cfg: DictConfig) -> float | None:
    with exit_on_user_error():
        rows = evaluate(cfg)
    last = rows.get("avg") or next(iter(rows.values()))
    return float(last["AP@0.5:0.95"])


__all__ = ["IODVideoError", "SplitDetections", "evaluate", "main"]

if __name__ == "__main__":
    main()
