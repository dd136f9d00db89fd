"""Diagnose: ``python -m iodvideo.diagnose ckpt=<checkpoint> input=<video> gt=<pickle>``.

Why a checkpoint fails on one video: its top-k boxes of every frame against the GT (IoU,
centre inside, rates), its heatmap over the frames, the sizes and aspects of its boxes against
the GT's, and what its high-scoring false positives sit on (letterbox bars, burnt-in text,
sky, static edges, swaying vegetation, moving warm objects — simple rules, see
:mod:`iodvideo.inference.diagnose_scene`). The work is done by
:mod:`iodvideo.inference.diagnose`; this module reads the config and the annotations, scores
the video's frameAP (as ``predict gt=`` does, classes pooled) and prints the summary.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf

from iodvideo.config import CONFIG_DIR
from iodvideo.errors import ConfigError, exit_on_user_error
from iodvideo.inference.diagnose import (
    DiagnoseSettings,
    Diagnosis,
    GroundTruth,
    diagnose_video,
    write_summary,
)
from iodvideo.inference.diagnose_scene import SceneRules
from iodvideo.inference.stream.runner import ClipRunner
from iodvideo.inference.stream.sources import VIDEO_EXTS, is_glob

log = logging.getLogger(__name__)


def find_key(spec: str, keys: set[str], explicit: str | None, where: str) -> str:
    """``explicit`` if the annotations hold it, else the one key whose last part is the
    input's file (without extension) or folder name."""
    if explicit:
        if explicit not in keys:
            raise ConfigError(f"video={explicit} is not in {where}")
        return explicit
    path = Path(spec).parent if is_glob(spec) else Path(spec)
    name = path.stem if path.suffix.lower() in VIDEO_EXTS else path.name
    matches = sorted(k for k in keys if k.rsplit("/", 1)[-1] == name)
    if len(matches) != 1:
        found = "no video" if not matches else f"{len(matches)} videos"
        raise ConfigError(f"{where} has {found} named {name!r}; set video=<key>")
    return matches[0]


def ground_truth(cfg: DictConfig, spec: str) -> GroundTruth | None:
    if not cfg.gt:
        return None
    from iodvideo.data.annotations import load_annotations

    annotations = load_annotations(Path(str(cfg.gt)))
    key = find_key(spec, set(annotations.nframes), cfg.video, str(cfg.gt))
    return GroundTruth(key, annotations.frame_boxes(key), annotations.nframes[key])


def reference_sizes(path: str, limit: int = 3000) -> np.ndarray:
    """``(n, 2)`` width, height of the boxes of an annotation pickle as fractions of their
    video's width and height; at most ``limit`` of them (a seeded sample)."""
    from iodvideo.data.annotations import load_annotations

    annotations = load_annotations(Path(path))
    sizes = [np.zeros((0, 2))]
    for video in annotations.nframes:
        rows = annotations.frame_boxes(video)
        height, width = annotations.image_hw(video)
        sizes.append(np.column_stack([(rows[:, 3] - rows[:, 1]) / width,
                                      (rows[:, 4] - rows[:, 2]) / height]))
    wh = np.concatenate(sizes)
    if len(wh) > limit:
        wh = wh[np.random.default_rng(0).choice(len(wh), limit, replace=False)]
    return wh


def frame_ap(d: Diagnosis, gt: GroundTruth) -> dict[str, Any]:
    """The video's frameAP metrics (every kept merged box, classes pooled)."""
    from iodvideo.evaluation.classes import paper_metrics_by_class

    result = paper_metrics_by_class([{gt.video: d.merged}], [{gt.video: gt.rows}], ["gas"],
                                    workers=1)
    return {k: round(float(v), 4) for k, v in result.metrics.items() if np.isfinite(v)}


def settings_of(cfg: DictConfig) -> DiagnoseSettings:
    scene = OmegaConf.to_container(cfg.scene, resolve=True)
    assert isinstance(scene, dict)
    unknown = sorted(set(scene) - set(SceneRules.__dataclass_fields__))
    if unknown:
        raise ConfigError(f"unknown scene.* keys {unknown} (see conf/diagnose.yaml)")
    frames = [int(f) for f in (cfg.overlays.frames or [])]
    return DiagnoseSettings(int(cfg.top_k), int(cfg.batch_size), float(cfg.iou_threshold),
                            tuple(frames), int(cfg.overlays.count), int(cfg.overlays.scale),
                            SceneRules(**scene))


def _progress(total: int, enabled: bool, label: str):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("frames"), disable=not enabled, transient=False)
    task = bar.add_task(label, total=total)
    return bar, (lambda done: bar.update(task, completed=done))


def report(summary: dict[str, Any]) -> str:
    """A few lines for the terminal."""
    loc, heat, sizes = summary["localisation"], summary["heatmap"], summary["sizes"]
    fps = summary["false_positives"]
    lines = [f"{summary['video']}: {summary['frames']} frames, top-{summary['top_k']} per frame"]
    if "metrics" in summary:
        lines.append(f"  frameAP@0.5 {summary['metrics'].get('AP@0.5', float('nan')):.2f}")
    if loc["frames_with_gt"]:
        lines += [
            f"  top-1 centre inside GT {loc['top1_centre_in_gt_pct']:.1f} %, top-1 IoU>="
            f"{summary['iou_threshold']} {loc['top1_iou_ge_threshold_pct']:.1f} % (mean IoU "
            f"{loc['top1_iou_mean']:.3f}); best of top-{summary['top_k']}: IoU>="
            f"{summary['iou_threshold']} {loc['topk_best_iou_ge_threshold_pct']:.1f} %, mean "
            f"{loc['topk_best_iou_mean']:.3f}",
            f"  top-1 centre with the GT's size: IoU>={summary['iou_threshold']} "
            f"{loc['top1_with_gt_size_iou_ge_threshold_pct']:.1f} %; top-1 size at the GT's "
            f"centre: {loc['top1_at_gt_centre_iou_ge_threshold_pct']:.1f} %; best IoU a "
            f"{loc['top1_aspect_w_h']:.2f}:1 box can reach: "
            f"{loc['top1_aspect_iou_ceiling_mean']:.2f}",
            f"  heatmap peak inside GT {heat['peak_in_gt_pct']:.1f} %, heat inside GT "
            f"{heat['heat_mass_in_gt_pct']:.1f} % for {heat['gt_area_pct']:.1f} % of the "
            f"picture (lift {heat['lift']:.2f})",
        ]
    for name in ("top1", "gt"):
        if sizes.get(name):
            s = sizes[name]
            lines.append(f"  {name} boxes: median {s['w']:.0f} x {s['h']:.0f} px, "
                         f"aspect {s['aspect_w_h']:.2f}")
    shares = ", ".join(f"{c} {100 * v:.1f} %" for c, v in fps["shares"].items() if v)
    lines.append(f"  false positives ({fps['count']}): score mass {shares or '-'}")
    return "\n".join(lines)


def diagnose(cfg: DictConfig) -> dict[str, Any]:
    for key in ("ckpt", "input"):
        if OmegaConf.is_missing(cfg, key) or cfg[key] in (None, ""):
            raise ConfigError(f"{key}=... is required (see --help)")
    spec = str(cfg.input)
    settings = settings_of(cfg)
    if not Path(str(cfg.ckpt)).is_file():
        raise ConfigError(f"{cfg.ckpt}: checkpoint not found")
    gt = ground_truth(cfg, spec)
    runner = ClipRunner.from_checkpoint(str(cfg.ckpt), str(cfg.device), cfg.decode.mode,
                                        int(cfg.decode.top_n), cfg.decode.offset_scale,
                                        cfg.decode.get("sizes"))
    out_dir = Path(str(cfg.output_dir))
    total = gt.nframes if gt is not None else 0
    bar, update = _progress(total, bool(cfg.progress) and total > 0, Path(spec).name)
    reference = reference_sizes(str(cfg.reference_gt)) if cfg.reference_gt else None
    with bar:
        d = diagnose_video(runner, spec, gt, out_dir, settings, cfg.fps, update, reference)
    summary = {**d.summary, "checkpoint": str(cfg.ckpt)}
    if gt is not None:
        summary["metrics"] = frame_ap(d, gt)
        (out_dir / "metrics.json").write_text(
            json.dumps({"video": gt.video, **summary["metrics"]}, indent=2) + "\n")
    write_summary(out_dir, summary)
    print(report(summary))
    print(f"-> {out_dir}")
    return summary


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="diagnose")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        diagnose(cfg)


if __name__ == "__main__":
    main()
