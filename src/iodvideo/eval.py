"""Evaluate: ``python -m iodvideo.eval detections=<dir> | ckpt=<file> [overrides]``.

Two modes, one protocol (protocol §8-9):

* ``detections=<dir>``: score detections already on disk, in our per-video format or the
  original code's per-clip pickles (so runs of the original code can be re-scored);
* ``ckpt=<file>``: rebuild the model from the training checkpoint's own config, run it over
  every test clip of each split (``test_dataloader``), decode (MOV or STA mode), scale to image
  pixels, merge clips per frame, then score the same way.

Prints the five paper metrics per split (and their mean over several splits) and writes
``metrics.json``, ``metrics.csv``, ``report.md``, per-video CSVs and PR plots to the run
directory. Returns the mean AP@0.5:0.95 for sweepers.
"""

from __future__ import annotations

import logging
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from omegaconf import DictConfig, ListConfig, OmegaConf

from iodvideo.config import CONFIG_DIR
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
from iodvideo.inference.device import resolve_device
from iodvideo.inference.merge import clips_to_frame_detections

log = logging.getLogger(__name__)


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
    detections: dict[str, np.ndarray], videos: list[str], tubes: dict[str, np.ndarray],
    rescore: bool = True, workers: int | None = None,
) -> SplitMetrics:
    return paper_metrics(detections, {v: tubes[v] for v in videos}, rescore, workers)


def _detections_mode(cfg: DictConfig, splits: list[int]) -> dict[int, tuple[dict, list, dict]]:
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
        tubes = {v: annotations.tube(v) for v in videos}
        out[split] = (dets, videos, tubes)
        if cfg.tube_ap:
            clips = {
                v: read_clip_tubelets(root / v, annotations.nframes[v], clip_len)
                for v in videos if (root / v).is_dir()
            }
            if clips:
                _CLIPS[split] = (clips, clip_len)
    return out


def load_detector(path: str | Path):
    """Rebuild the ``ClipDetector`` of a training checkpoint (its resolved config travels in
    the checkpoint under ``CONFIG_KEY``) and load its weights. Returns (detector, config)."""
    import torch
    from hydra.utils import instantiate

    from iodvideo.lightning_module import CONFIG_KEY

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - corrupt or unsafe file
        raise ConfigError(f"{path}: cannot load checkpoint safely ({err})") from None
    config = ckpt.get(CONFIG_KEY) if isinstance(ckpt, dict) else None
    if not isinstance(config, dict) or "model" not in config:
        raise ConfigError(
            f"{path}: no training config in the checkpoint (key {CONFIG_KEY!r}); only "
            "checkpoints written by `python -m iodvideo.train` can be evaluated with ckpt="
        )
    detector = instantiate(OmegaConf.create(config["model"]))
    prefix = "detector."
    state = {k[len(prefix):]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}
    try:
        detector.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).strip().splitlines()
        raise ConfigError(
            f"{path}: weights do not fit the model its config builds (a checkpoint from another "
            f"version of iodvideo?): {' '.join(first[1:2]) or first[0]}"
        ) from None
    return detector.eval(), config


def infer_detections(detector, datamodule, decode: DictConfig | dict, device) -> dict:
    """Run ``detector`` over ``datamodule.test_dataloader()``; frame detections per video."""
    from iodvideo.inference.merge import clips_to_frame_detections

    clips = infer_clips(detector, datamodule, decode, device)
    return {v: clips_to_frame_detections(c, detector.clip_len) for v, c in clips.items()}


def infer_clips(detector, datamodule, decode: DictConfig | dict, device) -> dict:
    """Decoded tubelets in image pixels, ``{video: {start: (N, 4K+1)}}``, of every test clip."""
    import torch

    from iodvideo.inference.decode import boxes_to_image, decode_clips

    videos, _ = datamodule.eval_ground_truth()
    clips: dict[int, dict[int, np.ndarray]] = defaultdict(dict)
    detector = detector.to(device)
    with torch.inference_mode():
        for batch in datamodule.test_dataloader():
            out = detector(batch["video"].to(device))
            dets = decode_clips(
                out, str(decode["mode"]), int(decode["top_n"]), float(decode["offset_scale"])
            ).cpu()
            grid_hw = tuple(out["hm"].shape[-2:])
            for det, vi, start, hw in zip(
                dets, batch["video_idx"].tolist(), batch["start"].tolist(),
                batch["image_hw"].tolist(), strict=True,
            ):  # each clip's own resolution (the reference used the batch's first, §11.18)
                clips[vi][start] = boxes_to_image(det, grid_hw, tuple(hw)).double().numpy()
    return {videos[vi]: c for vi, c in clips.items()}


# Per split: ({video: {start: tubelets}}, K), kept only when tube_ap is asked for.
_CLIPS: dict[int, tuple[dict, int]] = {}


def _tube_ap(split: int, videos: list[str], tubes: dict) -> dict[str, float] | None:
    from iodvideo.evaluation.tubes import video_ap
    from iodvideo.inference.linking import build_tubes

    if split not in _CLIPS:
        return None
    clips, clip_len = _CLIPS[split]
    linked = {v: build_tubes(c, clip_len) for v, c in clips.items() if v in tubes}
    aps = video_ap(linked, {v: [tubes[v]] for v in videos}, thresholds=(0.2, 0.5, 0.75))
    return {f"videoAP@{t:g}": 100 * ap for t, ap in aps.items()}


def checkpoint_decode(decode: DictConfig | dict, config: dict) -> dict:
    """Decoder settings for a checkpoint: ``mode``/``offset_scale`` left null follow the loss
    the checkpoint was trained with (STA head iff ``loss.sta``), so they cannot disagree."""
    out = dict(decode)
    loss = config.get("loss") or {}
    if out.get("mode") is None:
        out["mode"] = "sta" if loss.get("sta") else "mov"
    if out.get("offset_scale") is None:
        out["offset_scale"] = float(loss.get("offset_scale", 18.0))
    return out


def _ckpt_mode(cfg: DictConfig, splits: list[int], out_dir: Path) -> dict[int, tuple]:
    from hydra.utils import instantiate

    detector, config = load_detector(cfg.ckpt)
    decode = checkpoint_decode(cfg.decode, config)
    device = resolve_device(str(cfg.device))
    out = {}
    for split in splits:
        data_cfg = OmegaConf.to_container(cfg.data, resolve=True)
        if data_cfg.get("clip_len") != detector.clip_len:
            log.info("data.clip_len set to the checkpoint's %d", detector.clip_len)
        data_cfg.update(split=split, clip_len=detector.clip_len, eval_visibility=None)
        datamodule = instantiate(data_cfg)
        datamodule.prepare_data()
        datamodule.setup("validate")
        videos, tubes = datamodule.eval_ground_truth()
        clips = infer_clips(detector, datamodule, decode, device)
        dets = {v: clips_to_frame_detections(c, detector.clip_len) for v, c in clips.items()}
        if cfg.save_detections:
            save_detections(out_dir / "detections" / f"split{split}", dets)
        out[split] = (dets, list(videos), dict(tubes))
        if cfg.tube_ap:
            _CLIPS[split] = (clips, detector.clip_len)
    return out


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    if (cfg.ckpt is None) == (cfg.detections is None):
        raise ConfigError("give exactly one of ckpt=<checkpoint> or detections=<directory>")
    out_dir = Path(str(cfg.output_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    splits = _splits(cfg)
    _CLIPS.clear()
    per_split = (
        _detections_mode(cfg, splits) if cfg.detections is not None
        else _ckpt_mode(cfg, splits, out_dir)
    )
    rows: dict[str, dict[str, float]] = {}
    tube_rows: dict[str, dict[str, float]] = {}
    breakdowns, extra = {}, {"splits": splits, "source": str(cfg.ckpt or cfg.detections)}
    all_tubes = {}
    for _, (_, _, tubes) in per_split.items():
        all_tubes.update(tubes)
    terciles = size_terciles(all_tubes.values()) if all_tubes else None
    workers = default_workers() if str(cfg.workers) == "auto" else int(cfg.workers)
    for split, (dets, videos, tubes) in per_split.items():
        result = score_split(dets, videos, tubes, bool(cfg.rescore), workers)
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
            breakdowns[label] = breakdown(result.scored, tubes, terciles)
            write_per_video(out_dir / f"per_video_split{split}.csv", per_video(result.scored))
        if cfg.plots:
            write_pr_plots(out_dir, result.scored, f"split{split}_")
        if cfg.tube_ap:
            values = _tube_ap(split, videos, tubes)
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


__all__ = ["IODVideoError", "evaluate", "infer_detections", "load_detector", "main"]

if __name__ == "__main__":
    main()
