"""Why a detector fails on a video: its top boxes against the GT, its heatmap, its box sizes,
and what its false positives sit on.

:func:`diagnose_video` reads the video twice. Pass 1 runs every clip (stride 1, as
evaluation), merges and rescores them per frame exactly as ``predict`` does
(:class:`~iodvideo.inference.stream.offline.FrameMerger`), keeps the top ``top_k`` boxes of
every frame, each clip's key-frame heatmap (sigmoid, max over classes) and the per-pixel
scene statistics (:mod:`iodvideo.inference.diagnose_scene`). Pass 2 labels what every kept
box sits on (the per-frame ``moving_warm`` rule needs the frames) and draws the overlays.
Classes are pooled: a model of several classes is diagnosed as one detector.

A box is a true positive when its IoU (+1 pixel convention, protocol §9.1) with a GT box of
its frame reaches ``iou_threshold``; every other kept box is a false positive (FP). An FP
whose centre lies inside a GT box is ``gt_box`` (the model found the gas but got its place or
size wrong); the others take the scene label under their centre. Rates are over the frames
that have a GT box.
"""

from __future__ import annotations

import csv
import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from iodvideo.data.clips import key_index
from iodvideo.errors import ConfigError
from iodvideo.inference import diagnose_draw as draw
from iodvideo.inference.diagnose_scene import (
    SceneMaps,
    SceneRules,
    SceneStats,
    box_label,
    frame_labels,
    moving_warm,
)
from iodvideo.inference.diagnose_stats import (
    CATEGORIES,
    fp_statistics,
    heat_of_frame,
    heat_statistics,
    localisation,
    match,
    median_size,
    oracles,
    size_statistics,
)
from iodvideo.inference.stream.offline import FrameMerger
from iodvideo.inference.stream.runner import ClipRunner, clip_starts, iter_clip_batches
from iodvideo.inference.stream.sources import FrameSource, open_source


@dataclass(frozen=True)
class GroundTruth:
    """A video's GT: ``rows (n, 5)`` frame, x1, y1, x2, y2 (several or none per frame)."""

    video: str
    rows: np.ndarray
    nframes: int

    def by_frame(self) -> dict[int, np.ndarray]:
        frames = self.rows[:, 0].astype(np.int64)
        return {int(f): self.rows[frames == f, 1:5].astype(np.float64) for f in np.unique(frames)}


@dataclass
class DiagnoseSettings:
    top_k: int = 5
    batch_size: int = 8
    iou_threshold: float = 0.5
    overlay_frames: tuple[int, ...] = ()  # explicit frames; () = automatic
    overlay_count: int = 4  # evenly spaced frames, plus the worst FP's and the best top-1's
    scale: int = 1  # pictures at this multiple of the video's size
    rules: SceneRules = field(default_factory=SceneRules)

    def __post_init__(self) -> None:
        if self.top_k < 1 or self.batch_size < 1 or self.scale < 1:
            raise ConfigError("top_k, batch_size and overlays.scale must be >= 1")
        if not 0.0 < self.iou_threshold <= 1.0:
            raise ConfigError(f"iou_threshold must be in (0, 1], got {self.iou_threshold}")


@dataclass
class Diagnosis:
    """Everything :func:`diagnose_video` found; ``rows (n, 7)``: frame, rank, x1, y1, x2, y2,
    score (top-k per frame, rank 1 first)."""

    name: str
    num_frames: int
    image_hw: tuple[int, int]
    rows: np.ndarray
    iou: np.ndarray
    inside: np.ndarray
    category: list[str]
    scene: list[str]
    merged: np.ndarray  # every merged row, the evaluator's input
    heat: np.ndarray  # (clips, h, w) key-frame heatmaps
    heat_frames: np.ndarray  # key frame of each heatmap
    maps: SceneMaps
    summary: dict[str, Any]


def _tap(source: Iterable[np.ndarray], stats: SceneStats) -> Iterator[np.ndarray]:
    for frame in source:
        stats.add(frame)
        yield frame


def run_model(runner: ClipRunner, source: FrameSource, stats: SceneStats, top_k: int,
              batch_size: int, progress: Callable[[int], None] | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    """Pass 1: ``(top-k rows (n, 7), merged rows, heatmaps, their key frames, image_hw)``."""
    num_frames = int(source.num_frames or 0)
    clip_len = runner.clip_len
    merger = FrameMerger(clip_len, num_frames, keep_per_frame=top_k, keep_all=True)
    starts = clip_starts(num_frames, clip_len)
    heat: list[np.ndarray] = []
    image_hw = (0, 0)
    for batch_starts, clips, image_hw in iter_clip_batches(
        _tap(source, stats), num_frames, runner.preprocess, clip_len, runner.context, 1,
        batch_size,
    ):
        out = runner.forward(clips)
        heat.append(torch.sigmoid(out["hm"].float()).amax(dim=1).cpu().numpy().astype(np.float16))
        for start, tubelets in zip(batch_starts, runner.decode(out, image_hw), strict=True):
            merger.add(start, tubelets)
        later = [s for s in starts if s > batch_starts[-1]]
        merger.release(later[0] - 1 if later else num_frames)
        if progress:
            progress(later[0] - 1 if later else num_frames)
    shown = merger.shown()
    frames = shown[:, 0].astype(np.int64)
    rank = np.arange(len(shown)) - np.searchsorted(frames, frames, side="left") + 1
    rows = np.column_stack([shown[:, 0], rank, shown[:, 1:6]])
    key_frames = np.minimum(np.asarray(starts) + key_index(clip_len), num_frames)
    return rows, merger.merged(), np.concatenate(heat), key_frames, image_hw


def choose_frames(settings: DiagnoseSettings, num_frames: int, rows: np.ndarray,
                  fp: np.ndarray, iou: np.ndarray) -> list[int]:
    """The explicit ``overlay_frames``, else evenly spaced ones plus the frame of the
    highest-scoring FP and the frame of the best top-1 IoU."""
    if settings.overlay_frames:
        return sorted(set(settings.overlay_frames))
    count = min(settings.overlay_count, num_frames)
    chosen = {int(round(x)) for x in np.linspace(1, num_frames, count + 2)[1:-1]}
    if fp.any():
        chosen.add(int(rows[fp][np.argmax(rows[fp, 6]), 0]))
    top1 = rows[:, 1] == 1
    if top1.any() and iou[top1].max() > 0:
        chosen.add(int(rows[top1][np.argmax(iou[top1]), 0]))
    return sorted(chosen)


def diagnose_video(runner: ClipRunner, spec: str, gt: GroundTruth | None, out_dir: Path,
                   settings: DiagnoseSettings | None = None, fps: float | None = None,
                   progress: Callable[[int], None] | None = None,
                   reference: np.ndarray | None = None) -> Diagnosis:
    """Diagnose ``runner`` on the video ``spec`` against ``gt`` (None: every box is an FP);
    write the CSVs and pictures into ``out_dir`` (see :func:`write_tables`). ``reference``:
    box (width, height) as fractions of their frame (e.g. the training set's), drawn and
    summarised beside the video's own."""
    settings = settings or DiagnoseSettings()
    source = open_source(spec, fps)
    if source.num_frames is None:
        raise ConfigError(f"{source.describe()}: diagnose needs a video file or frame folder")
    n = int(source.num_frames)
    if gt is not None and gt.nframes != n:
        raise ConfigError(f"{spec}: has {n} frames but the annotations say video {gt.video} "
                          f"has {gt.nframes}")
    bad = [f for f in settings.overlay_frames if not 1 <= f <= n]
    if bad:
        raise ConfigError(f"overlays.frames {bad} outside the video's frames 1..{n}")
    stats = SceneStats()
    rows, merged, heat, key_frames, image_hw = run_model(
        runner, source, stats, settings.top_k, settings.batch_size, progress)
    maps = stats.finish(settings.rules)
    gt_frames = gt.by_frame() if gt is not None else {}
    iou, inside = match(rows, gt_frames)
    fp = iou < settings.iou_threshold
    overlays = choose_frames(settings, n, rows, fp, iou)
    out_dir.mkdir(parents=True, exist_ok=True)
    scene = second_pass(open_source(spec, fps), rows, maps, heat, key_frames, gt_frames,
                        overlays, settings, out_dir / "overlays")
    category = [("gt_box" if hit else s) if f else "tp"
                for s, hit, f in zip(scene, inside, fp, strict=True)]
    sizes, pred_wh, gt_wh = size_statistics(rows, gt_frames, image_hw, runner.input_size)
    reference_wh = None
    if reference is not None:
        reference_wh = np.asarray(reference, np.float64).reshape(-1, 2) * image_hw[::-1]
        sizes["reference"] = median_size(reference_wh)
    summary: dict[str, Any] = {
        "input": spec, "video": gt.video if gt is not None else source.name, "frames": n,
        "height": image_hw[0], "width": image_hw[1],
        "model": {"backbone": runner.backbone, "clip_len": runner.clip_len,
                  "input_size": runner.input_size, "decode": runner.mode},
        "top_k": settings.top_k, "iou_threshold": settings.iou_threshold,
        "localisation": {**localisation(rows, iou, inside, sorted(gt_frames),
                                        settings.iou_threshold),
                         **oracles(rows, gt_frames, settings.iou_threshold)},
        "heatmap": heat_statistics(heat, key_frames, gt_frames, image_hw),
        "sizes": sizes,
        "false_positives": fp_statistics(rows, fp, category),
        "scene": {"noise": round(maps.noise, 3), "motion_level": maps.motion_level,
                  "label_shares_pct": {k: round(100 * v, 2) for k, v in maps.shares().items()}},
        "overlay_frames": overlays,
    }
    diagnosis = Diagnosis(source.name, n, image_hw, rows, iou, inside, category, scene, merged,
                          heat, key_frames, maps, summary)
    write_tables(out_dir, diagnosis, gt_frames)
    write_pictures(out_dir, diagnosis, gt_frames, fp, pred_wh, gt_wh, runner.input_size,
                   settings.scale, reference_wh)
    return diagnosis


def second_pass(source: FrameSource, rows: np.ndarray, maps: SceneMaps, heat: np.ndarray,
                key_frames: np.ndarray, gt: dict[int, np.ndarray], overlays: list[int],
                settings: DiagnoseSettings, folder: Path) -> list[str]:
    """Pass 2: the scene label under every kept box (moving_warm needs its frame and the one
    two frames earlier) and the overlay pictures of the chosen frames."""
    scene = ["other"] * len(rows)
    frames = rows[:, 0].astype(np.int64)
    recent: deque[np.ndarray] = deque(maxlen=2)
    for number, frame in enumerate(source, start=1):
        earlier = recent[0] if len(recent) == 2 else None
        labels = frame_labels(maps, moving_warm(frame, earlier, maps, settings.rules))
        mine = np.flatnonzero(frames == number)
        for i in mine:
            scene[i] = box_label(labels, rows[i, 2:6], settings.rules)
        if number in overlays:
            hm = draw.heat_to_image(heat[heat_of_frame(number, key_frames)].astype(np.float32),
                                    frame.shape[:2])
            panel = draw.frame_panel(frame, hm, gt.get(number, np.zeros((0, 4))),
                                     rows[mine, 2:6], rows[mine, 6].tolist(),
                                     f"frame {number}", settings.scale)
            draw.write_png(folder / f"frame_{number:05d}.png", panel)
        recent.append(frame)
    return scene


def write_tables(out_dir: Path, d: Diagnosis, gt: dict[int, np.ndarray]) -> None:
    """``topk.csv`` (one row per kept box) and ``frames.csv`` (one row per frame: GT box,
    top-1 box, IoU, centre inside, best top-k IoU, heatmap peak and max)."""
    with open(out_dir / "topk.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["frame", "rank", "x1", "y1", "x2", "y2", "w", "h", "score", "iou",
                         "centre_in_gt", "category", "scene"])
        for row, iou, hit, cat, scene in zip(d.rows, d.iou, d.inside, d.category, d.scene,
                                             strict=True):
            writer.writerow([int(row[0]), int(row[1]), *(f"{v:.1f}" for v in row[2:6]),
                             f"{row[4] - row[2]:.1f}", f"{row[5] - row[3]:.1f}",
                             f"{row[6]:.5f}", f"{iou:.4f}", int(hit), cat, scene])
    with open(out_dir / "frames.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["frame", "gt_x1", "gt_y1", "gt_x2", "gt_y2", "top1_x1", "top1_y1",
                         "top1_x2", "top1_y2", "top1_score", "top1_iou", "top1_centre_in_gt",
                         "best_topk_iou", "heat_max"])
        for f in range(1, d.num_frames + 1):
            sel = d.rows[:, 0] == f
            boxes = gt.get(f)
            g = [f"{v:.1f}" for v in boxes[0]] if boxes is not None and len(boxes) else [""] * 4
            top = np.flatnonzero(sel & (d.rows[:, 1] == 1))
            t = ([f"{v:.1f}" for v in d.rows[top[0], 2:6]] + [f"{d.rows[top[0], 6]:.5f}",
                 f"{d.iou[top[0]]:.4f}", int(d.inside[top[0]])]) if len(top) else [""] * 7
            best = f"{d.iou[sel].max():.4f}" if sel.any() else ""
            hm = d.heat[heat_of_frame(f, d.heat_frames)]
            writer.writerow([f, *g, *t, best, f"{float(hm.max()):.4f}"])


def write_pictures(out_dir: Path, d: Diagnosis, gt: dict[int, np.ndarray], fp: np.ndarray,
                   pred_wh: np.ndarray, gt_wh: np.ndarray, input_size: int, scale: int,
                   reference_wh: np.ndarray | None) -> None:
    """``heatmap_mean.png``, ``fp_categories.png`` and ``sizes.png``."""
    gt_boxes = np.concatenate(list(gt.values())) if gt else np.zeros((0, 4))
    top1 = d.rows[:, 1] == 1
    centres = np.column_stack([(d.rows[top1, 2] + d.rows[top1, 4]) / 2,
                               (d.rows[top1, 3] + d.rows[top1, 5]) / 2])
    mean_heat = draw.heat_to_image(d.heat.astype(np.float32).mean(0), d.image_hw)
    draw.write_png(out_dir / "heatmap_mean.png", draw.mean_heat_image(
        d.maps.mean, mean_heat, gt_boxes, centres, d.inside[top1], d.name, scale))
    fp_centres = np.column_stack([(d.rows[fp, 2] + d.rows[fp, 4]) / 2,
                                  (d.rows[fp, 3] + d.rows[fp, 5]) / 2])
    shares = d.summary["false_positives"]["shares"]
    draw.write_png(out_dir / "fp_categories.png", draw.category_image(
        d.maps, fp_centres, [c for c, f in zip(d.category, fp, strict=True) if f],
        d.rows[fp, 6], shares, scale))
    draw.write_png(out_dir / "sizes.png", draw.size_chart(gt_wh, pred_wh, d.image_hw,
                                                          input_size, reference_wh))


def write_summary(out_dir: Path, summary: dict[str, Any]) -> None:
    """``fp_categories.csv`` and ``summary.json`` (every number, the files written)."""
    fps = summary["false_positives"]
    with open(out_dir / "fp_categories.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["category", "count", "score_share", "top1_count", "top1_score_share"])
        for c in CATEGORIES:
            writer.writerow([c, fps["counts"][c], fps["shares"][c], fps["top1_counts"][c],
                             fps["top1_shares"][c]])
    summary = {**summary, "outputs": sorted(p.name for p in out_dir.iterdir()
                                            if p.name != "summary.json") + ["summary.json"]}
    (out_dir / "summary.json").write_text(json.dumps(_finite(summary), indent=2) + "\n")


def _finite(value: Any) -> Any:
    """NaN (a rate over no GT frames) → null, so that summary.json is strict JSON."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
