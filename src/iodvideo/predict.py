"""Predict: ``python -m iodvideo.predict ckpt=<checkpoint> input=<video | folder | glob>``.

Rebuilds the detector from the checkpoint (any backbone: the training config travels inside
it), reads the input once with decord (or the frame images), runs every clip (stride 1 by
default; frames resized as in training, boxes mapped back to the original size), merges clips
per frame exactly as evaluation does, links tubes (§9.3) and writes per-frame detections
(CSV + JSON lines, one track id per linked tube; optionally COCO results JSON: by default
every box the evaluator scores, so pycocotools' COCOeval scores what ``gt=``'s frameAP scores),
``tracks.csv``, an annotated ``.mp4`` and a ``.gif`` preview with an optional
frame-difference panel. With ``gt=<annotation pickle>`` it also prints this video's frameAP
against all of the video's GT boxes. Videos shorter than K are padded by edge replication.
Every box and track names its class (``label``); a model of several classes is merged,
linked and scored class by class (its frameAP is the mean over classes, as in ``eval``).
With ``adapt.frames=N`` (or ``adapt.seconds``) the detector's BatchNorm statistics are first
re-estimated on the video's own first N frames, without labels (test-time adaptation,
:mod:`iodvideo.inference.adapt`); every frame is then detected with them. Each input video
starts again from the checkpoint's statistics.
"""

from __future__ import annotations

import csv
import glob
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf

from iodvideo.config import CONFIG_DIR
from iodvideo.errors import ConfigError, exit_on_user_error
from iodvideo.inference.adapt import (
    AdaptOptions,
    adapt_runner,
    restore_statistics,
    statistics_snapshot,
)
from iodvideo.inference.stream.coco import write_coco_results
from iodvideo.inference.stream.offline import LinkConfig, VideoPrediction, predict_video
from iodvideo.inference.stream.options import check_options
from iodvideo.inference.stream.render import PreviewWriter, draw_detections, gif_stride
from iodvideo.inference.stream.runner import ClipRunner
from iodvideo.inference.stream.sources import (
    IMAGE_EXTS,
    VIDEO_EXTS,
    FrameSource,
    is_glob,
    natural_key,
    open_source,
)

log = logging.getLogger(__name__)


def expand_inputs(spec: str) -> list[str]:
    """One entry per video: a glob or folder of video files gives each file; a video file, a
    frame folder or a glob of frame images is one video."""
    path = Path(spec).expanduser()
    if is_glob(spec) and not path.exists():
        matches = sorted(glob.glob(str(path)), key=natural_key)
        videos = [m for m in matches if Path(m).suffix.lower() in VIDEO_EXTS]
        if videos and len(videos) == len(matches):
            return videos
        return [spec]
    if path.is_dir():
        files = [p for p in path.iterdir() if p.is_file()]
        if not any(p.suffix.lower() in IMAGE_EXTS for p in files):
            videos = sorted((str(p) for p in files if p.suffix.lower() in VIDEO_EXTS),
                            key=natural_key)
            if videos:
                return videos
    return [spec]


def _progress(total: int, enabled: bool, label: str):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("frames"), TimeElapsedColumn(), TimeRemainingColumn(),
                   disable=not enabled, transient=False)
    task = bar.add_task(label, total=total)
    return bar, (lambda done: bar.update(task, completed=done))


def _frame_time(frame: int, fps: float) -> float:
    return round((frame - 1) / fps, 4)


def write_detections(out_dir: Path, pred: VideoPrediction) -> None:
    """``detections.csv`` (one row per written box) and ``detections.jsonl`` (one line per
    frame, frames without a box get an empty list), plus ``tracks.csv``."""
    rows, ids = pred.shown, pred.track_ids
    names = _names(pred)
    labels = [names[c] for c in pred.labels_of_shown()]
    with open(out_dir / "detections.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["frame", "time", "x1", "y1", "x2", "y2", "score", "track", "label"])
        for row, track, label in zip(rows, ids, labels, strict=True):
            frame = int(row[0])
            writer.writerow([frame, _frame_time(frame, pred.fps),
                             *(f"{v:.2f}" for v in row[1:5]), f"{row[5]:.6f}", int(track),
                             label])
    by_frame: dict[int, list[dict[str, Any]]] = {f: [] for f in range(1, pred.num_frames + 1)}
    for row, track, label in zip(rows, ids, labels, strict=True):
        by_frame[int(row[0])].append({
            "box": [round(float(v), 2) for v in row[1:5]], "score": round(float(row[5]), 6),
            "track": int(track), "label": label,
        })
    with open(out_dir / "detections.jsonl", "w") as handle:
        for frame, dets in by_frame.items():
            handle.write(json.dumps({"frame": frame, "time": _frame_time(frame, pred.fps),
                                     "detections": dets}) + "\n")
    with open(out_dir / "tracks.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["track", "frame", "x1", "y1", "x2", "y2", "tube_score", "label"])
        tube_labels = pred.tube_labels or [0] * len(pred.tubes)
        for number, (tube, c) in enumerate(zip(pred.tubes, tube_labels, strict=True), start=1):
            for box in tube.boxes:
                writer.writerow([number, int(box[0]), *(f"{v:.2f}" for v in box[1:5]),
                                 f"{tube.score:.6f}", names[c]])


def _names(pred: VideoPrediction) -> list[str]:
    return pred.class_names or ["gas"]


def render_video(source: FrameSource, pred: VideoPrediction, out_dir: Path,
                 render: DictConfig, progress: bool = False) -> list[Path]:
    """Second pass over the frames: annotated ``<video>.mp4`` and ``<video>.gif`` (with a
    progress bar of its own when ``progress``: decoding and encoding again takes a while)."""
    mp4 = out_dir / f"{pred.name}.mp4" if render.mp4 else None
    gif = out_dir / f"{pred.name}.gif" if render.gif else None
    if mp4 is None and gif is None:
        return []
    every = gif_stride(pred.num_frames, int(render.gif_max_frames))
    writer = PreviewWriter(mp4, gif, pred.fps, bool(render.side_panel), float(render.diff_gain),
                           every, int(render.gif_width), int(render.gif_max_frames))
    shown = pred.shown[:, 5] >= float(render.min_score)
    rows, ids = pred.shown[shown], pred.track_ids[shown]
    names = _names(pred)
    classes = pred.labels_of_shown()[shown]
    frames = rows[:, 0].astype(np.int64)
    bar, update = _progress(pred.num_frames, progress, f"{source.name} preview")
    try:
        with bar:
            for number, frame in enumerate(source, start=1):
                sel = frames == number
                label = f"{pred.name}  frame {number}  t={_frame_time(number, pred.fps):.2f}s"
                # class names on the boxes only when there is more than one class to tell apart
                box_names = [names[c] for c in classes[sel]] if len(names) > 1 else None
                writer.write(frame, draw_detections(frame, rows[sel, 1:5],
                                                    rows[sel, 5].tolist(), ids[sel].tolist(),
                                                    label, names=box_names))
                update(number)
    finally:
        writer.close()
    return [p for p in (mp4, gif) if p is not None]


def video_key(spec: str, keys: set[str], explicit: str | None) -> str | None:
    """The annotation key of an input: ``explicit``, else the path's trailing parts, else the
    one key whose last part is the file or folder name (None if none or several are)."""
    if explicit:
        return explicit if explicit in keys else None
    path = Path(spec)
    stem = path.with_suffix("") if path.suffix.lower() in VIDEO_EXTS else path
    if is_glob(spec):
        stem = Path(spec).parent
    parts = stem.parts
    for n in range(1, min(4, len(parts)) + 1):
        candidate = "/".join(parts[-n:])
        if candidate in keys:
            return candidate
    # a bare file name (001_wild_static_vague.avi) names the key whose last part it is, if
    # exactly one key ends that way (IOD-Video's keys are TrueLeakedGas/<name>)
    if parts:
        matches = [key for key in keys if key.rsplit("/", 1)[-1] == parts[-1]]
        if len(matches) == 1:
            return matches[0]
    return None


def gt_video(cfg: DictConfig, spec: str, pred: VideoPrediction) -> tuple[Any, str] | None:
    """The ``gt=`` annotations and this input's key in them (None, with a warning, when the
    video is not in them); its frame count must match the input's."""
    from iodvideo.data.annotations import load_annotations

    annotations = load_annotations(Path(str(cfg.gt)))
    key = video_key(spec, set(annotations.nframes), cfg.video)
    if key is None:
        warnings.warn(f"{spec}: video not found in {cfg.gt} (set video=<key>); no metrics",
                      stacklevel=1)
        return None
    if annotations.nframes[key] != pred.num_frames:
        raise ConfigError(f"{spec}: has {pred.num_frames} frames but {cfg.gt} says video "
                          f"{key} has {annotations.nframes[key]}")
    return annotations, key


def gt_metrics(annotations: Any, key: str, pred: VideoPrediction) -> dict[str, Any]:
    """This video's frameAP metrics against every GT box of it (all its tubes); a model of
    several classes is scored per class against that class's boxes, and the mean."""
    from iodvideo.evaluation.classes import paper_metrics_by_class

    assert pred.merged is not None
    names = _names(pred)
    if len(names) > 1 and list(annotations.labels) != names:
        raise ConfigError(f"the model detects {names} but {annotations.path} has labels "
                          f"{list(annotations.labels)}")
    classes = range(len(names)) if len(names) > 1 else [None]
    result = paper_metrics_by_class(
        [{key: pred.merged_of(c or 0)} for c in classes],
        [{key: annotations.frame_boxes(key, c)} for c in classes], names, workers=1)
    metrics = {k: v for k, v in result.metrics.items() if np.isfinite(v)}
    return {"video": key, **metrics}


def adapt_to_video(runner: ClipRunner, source: FrameSource, adapt: AdaptOptions,
                   checkpoint_stats: dict[str, Any]) -> dict[str, Any]:
    """Re-estimate the detector's BatchNorm statistics on the first frames of ``source``
    (from the checkpoint's own each time); what was used, for ``summary.json``."""
    restore_statistics(runner.detector, checkpoint_stats)
    wanted = adapt.frame_count(source.fps)
    need, total = runner.frames_per_clip, source.num_frames or 0
    if wanted < need:
        raise ConfigError(f"adapt: {wanted} frame(s) are fewer than one clip ({need} frames); "
                          f"calibrate on at least {need} (or adapt.frames=0: off)")
    if total < need:
        raise ConfigError(f"{source.describe()}: {total} frame(s), fewer than one clip "
                          f"({need}); adapt needs at least one clip (set adapt.frames=0)")
    if wanted > total:
        warnings.warn(f"adapt: {source.describe()} has {total} frames, fewer than the "
                      f"{wanted} asked for; calibrating on all of them", stacklevel=1)
    result = adapt_runner(runner, source, min(wanted, total), adapt.stride, adapt.prior)
    log.info("adapt: BatchNorm statistics of %d layers re-estimated on frames 1-%d "
             "(%d clips, prior %g) in %.1f s", result.layers, result.frames, result.clips,
             result.prior, result.seconds)
    return {"requested_frames": wanted, "stride": adapt.stride, **result.as_dict()}


def predict_one(cfg: DictConfig, runner: ClipRunner, spec: str, out_dir: Path,
                adapt: AdaptOptions | None = None,
                checkpoint_stats: dict[str, Any] | None = None) -> dict[str, Any]:
    source = open_source(spec, cfg.fps)
    calibration = None
    if adapt is not None and adapt.enabled:
        calibration = adapt_to_video(runner, source, adapt, checkpoint_stats or
                                     statistics_snapshot(runner.detector))
    num_frames = source.num_frames or 0
    if num_frames < runner.clip_len:
        warnings.warn(
            f"{source.describe()}: {num_frames} frame(s), shorter than the clip length "
            f"K={runner.clip_len}; the clip is padded by repeating the last frame",
            stacklevel=1,
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    link = LinkConfig(**OmegaConf.to_container(cfg.link, resolve=True))
    coco_boxes = str(cfg.get("coco_boxes", "scored")) if cfg.get("coco_results") else None
    bar, update = _progress(num_frames, bool(cfg.progress), source.name)
    try:
        with bar:
            pred = predict_video(
                runner, source, int(cfg.stride), int(cfg.batch_size), int(cfg.keep_per_frame),
                float(cfg.score_threshold),
                keep_all=bool(cfg.save_merged or cfg.gt or coco_boxes == "scored"),
                link=link, progress=update,
            )
    except ConfigError as err:  # "the source ended after ...", "frame N is WxH ..." name no file
        if source.describe() not in str(err):
            err.args = (f"{source.describe()}: {err}",)
        raise
    write_detections(out_dir, pred)
    gt = gt_video(cfg, spec, pred) if cfg.gt else None
    numbering = (write_coco_results(out_dir, pred, gt, coco_boxes,
                                    int(cfg.get("coco_max_per_frame", 100)))
                 if coco_boxes is not None else None)
    if cfg.save_merged and pred.merged is not None:
        np.save(out_dir / "detections_merged.npy", pred.merged)
    previews = render_video(source, pred, out_dir, cfg.render, bool(cfg.progress))
    summary: dict[str, Any] = {
        "input": spec, "video": pred.name, "frames": pred.num_frames,
        "height": pred.image_hw[0], "width": pred.image_hw[1], "fps": pred.fps,
        "backbone": runner.backbone, "clip_len": runner.clip_len, "stride": int(cfg.stride),
        "decode": runner.mode, "padded": pred.padded, "tracks": len(pred.tubes),
        "inference_seconds": round(pred.seconds, 3),
        "frames_per_second": round(pred.num_frames / max(pred.seconds, 1e-9), 2),
        "outputs": sorted(p.name for p in out_dir.iterdir()) + [p.name for p in previews
                                                                 if not p.exists()],
    }
    if numbering is not None:
        summary["coco_image_ids"] = numbering
        summary["coco_boxes"] = coco_boxes
    if calibration is not None:
        summary["adapt"] = calibration
    if gt is not None:
        from iodvideo.evaluation.report import metrics_table

        metrics = gt_metrics(*gt, pred)
        (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
        print(metrics_table({metrics["video"]: metrics}, [n for n in metrics if n != "video"]))
        summary["metrics"] = metrics
    summary["outputs"] = sorted(p.name for p in out_dir.iterdir())
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"{pred.name}: {pred.num_frames} frames, {len(pred.tubes)} track(s), "
          f"{summary['frames_per_second']} frames/s -> {out_dir}")
    return summary


def predict(cfg: DictConfig) -> list[dict[str, Any]]:
    for key in ("ckpt", "input"):
        if OmegaConf.is_missing(cfg, key) or cfg[key] in (None, ""):
            raise ConfigError(f"{key}=... is required (see --help)")
    check_options(cfg)
    adapt = AdaptOptions.from_mapping(OmegaConf.to_container(cfg.adapt, resolve=True)
                                      if cfg.get("adapt") is not None else None)
    specs = expand_inputs(str(cfg.input))
    runner = ClipRunner.from_checkpoint(
        str(cfg.ckpt), str(cfg.device), cfg.decode.mode, int(cfg.decode.top_n),
        cfg.decode.offset_scale, cfg.decode.get("sizes"),
    )
    log.info("checkpoint: %s backbone, K=%d, input %d, decode %s", runner.backbone,
             runner.clip_len, runner.input_size, runner.mode)
    out_dir = Path(str(cfg.output_dir))
    stats = statistics_snapshot(runner.detector) if adapt.enabled else None
    return [predict_one(cfg, runner, spec,
                        out_dir / Path(spec).stem if len(specs) > 1 else out_dir, adapt, stats)
            for spec in specs]


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="predict")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        predict(cfg)


if __name__ == "__main__":
    main()
