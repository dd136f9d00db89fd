"""Evaluate: ``python -m iodvideo.eval detections=<dir> | ckpt=<file> [overrides]``.

Two modes, one protocol (protocol §8-9), and a baseline beside or instead of them:

* ``detections=<dir>``: score detections already on disk, in our per-video format or the
  original code's per-clip pickles (so runs of the original code can be re-scored);
* ``ckpt=<file>``: rebuild the model from the training checkpoint's own config
  (:func:`iodvideo.checkpointing.load_detector`), run it over every test clip of each split
  (``test_dataloader``, clips as long as the model asks: TDN's context frames included),
  decode (MOV or STA mode) and scale to image pixels like validation does
  (:func:`iodvideo.detections.batch.decode_batch`), merge clips per frame, then score the
  same way;
* ``baseline=copied_box`` (:mod:`iodvideo.evaluation.baselines`): the mean labelled box of the
  training frames on every test frame; alone it is the scored source, beside ``ckpt=`` or
  ``detections=`` its rows are printed under the model's.

``data.videos.test`` / ``data.frames.test`` pick the test videos and the frames scored
(:mod:`iodvideo.evaluation.sources`; the ckpt mode through the datamodule).

Prints the five paper metrics per split (and their mean over several splits) and writes
``metrics.json``, ``metrics.csv``, ``report.md``, per-video CSVs and PR plots to the run
directory. Returns the mean AP@0.5:0.95 for sweepers.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from iodvideo.config import CONFIG_DIR
from iodvideo.detections.merge import clips_to_frame_detections
from iodvideo.errors import ConfigError, IODVideoError, exit_on_user_error
from iodvideo.evaluation.box_errors import box_error_table, summarise_box_errors
from iodvideo.evaluation.breakdown import breakdown, per_video, size_terciles
from iodvideo.evaluation.classes import class_metric_name, paper_metrics_by_class
from iodvideo.evaluation.detections_io import save_detections
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
from iodvideo.evaluation.sources import (
    SplitDetections,
    baseline_mode,
    detections_mode,
    split_list,
    tube_ap,
)

log = logging.getLogger(__name__)


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
            # the GT of the test range (data.frames.test; every frame by default)
            gt_boxes = datamodule.ground_truth("test", index)[1]
            gt_tubes = datamodule.gt_tubes("test", index) if cfg.tube_ap else {}
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
    baseline = cfg.get("baseline")
    if cfg.ckpt is not None and cfg.detections is not None or (
            cfg.ckpt is None and cfg.detections is None and baseline is None):
        raise ConfigError("give exactly one of ckpt=<checkpoint> or detections=<directory> "
                          "(or baseline=copied_box alone)")
    out_dir = Path(str(cfg.output_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    splits = split_list(cfg)
    if cfg.detections is not None:
        labels, per_split, source = (*detections_mode(cfg, splits), {})
    elif cfg.ckpt is not None:
        labels, per_split, source = _ckpt_mode(cfg, splits, out_dir)
    else:
        labels, per_split, source = (*baseline_mode(cfg, splits), {})
    beside = baseline if baseline is not None and (cfg.ckpt or cfg.detections) else None
    rows: dict[str, dict[str, float]] = {}
    tube_rows: dict[str, dict[str, float]] = {}
    breakdowns: dict[str, Any] = {}
    extra: dict[str, Any] = {"splits": splits, "labels": labels,
                             "source": str(cfg.ckpt or cfg.detections or f"baseline={baseline}")}
    frames = OmegaConf.select(cfg, "data.frames", default=None)
    if frames is not None and any(v is not None for v in frames.values()):
        extra["frames"] = OmegaConf.to_container(frames)
        extra["videos"] = OmegaConf.to_container(cfg.data.videos)
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
            extra.setdefault("box_errors", {})[label] = summarise_box_errors(
                split_dets.detections, gt_boxes)
            write_per_video(out_dir / f"per_video_split{split}.csv", per_video(result.scored))
        if cfg.plots:
            write_pr_plots(out_dir, result.scored, f"split{split}_")
        if cfg.tube_ap:
            values = tube_ap(split_dets)
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
    if beside is not None:  # the trivial baseline's rows, same splits, frames and protocol
        extra["baseline"] = {"name": str(beside), "metrics": _baseline_rows(cfg, splits, workers)}
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
    for split_label, summary in extra.get("box_errors", {}).items():
        report += (f"\n\n## Box errors, {split_label} (beyond the paper: the top-scoring "
                   "detection of each GT frame, before rescoring; "
                   "iodvideo/evaluation/box_errors.py)\n\n" + box_error_table(summary) + "\n")
    if len(labels) > 1:
        report += "\n\n## Per class\n\n" + "\n\n".join(
            f"{name}:\n\n{table}" for name, table in zip(("AP@0.5", "AP@0.5:0.95"), tables[1:],
                                                          strict=True)) + "\n"
    if published:  # last: the per-class code above reads tables[1:]
        tables.append("published (readme/Evaluation.md):\n" + metrics_table(published))
        report += f"\n\n## Published (readme/Evaluation.md)\n\n{tables[-1]}\n"
    if beside is not None:
        table = metrics_table(extra["baseline"]["metrics"])
        tables.append(f"baseline={beside} (same frames; docs/own-data.md):\n{table}")
        report += f"\n\n## Baseline {beside} (same frames and protocol)\n\n{table}\n"
    (out_dir / "report.md").write_text(report)
    print("\n\n".join(tables))
    print(f"reports: {out_dir}")
    return rows


def _baseline_rows(cfg: DictConfig, splits: list[int], workers: int
                   ) -> dict[str, dict[str, float]]:
    """``baseline=`` beside a model: its paper metrics per split (and their mean)."""
    labels, per_split = baseline_mode(cfg, splits)
    rows = {f"split {split}": paper_metrics_by_class(
        [c.detections for c in classes], [c.gt_boxes for c in classes], labels,
        bool(cfg.rescore), workers).metrics for split, classes in per_split.items()}
    if len(rows) > 1:
        rows["avg"] = mean_over_splits(list(rows.values()))
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
            values = tube_ap(class_dets)
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
