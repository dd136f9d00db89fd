"""Up-front checks of ``predict``'s numeric options (``conf/predict.yaml``).

An impossible value (``stride=0``, ``fps=-1``, ``render.gif_width=-1``, an IoU above 1, ...)
is refused with one ConfigError line naming the key, before the checkpoint is loaded or a
frame is read (a bad render option used to surface as a ZeroDivisionError after the whole
video was run). The CLI stays thin; the rules live here, in the inference layer that uses
the values.
"""

from __future__ import annotations

import numpy as np
from omegaconf import DictConfig, OmegaConf

from iodvideo.errors import ConfigError
from iodvideo.inference.stream.coco import COCO_BOXES
from iodvideo.inference.stream.render import check_render_options


def _whole(cfg: DictConfig, key: str, low: int) -> int:
    value = OmegaConf.select(cfg, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{key} must be an integer >= {low}, got {value!r}")
    return value


def _number(cfg: DictConfig, key: str, low: float | None = None, high: float | None = None,
            above: bool = False) -> float:
    value = OmegaConf.select(cfg, key)
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and np.isfinite(value)
    if ok and low is not None:
        ok = value > low if above else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        bounds = " and ".join(b for b in (
            f"{'>' if above else '>='} {low:g}" if low is not None else "",
            f"<= {high:g}" if high is not None else "") if b)
        raise ConfigError(f"{key} must be a number{' ' + bounds if bounds else ''}, "
                          f"got {value!r}")
    return float(value)


def check_options(cfg: DictConfig) -> None:
    """Refuse impossible numeric options with one ConfigError line before any work (a bad
    render option used to surface as a ZeroDivisionError after the whole video was run)."""
    if cfg.get("fps") is not None:
        _number(cfg, "fps", 0.0, above=True)
    for key in ("stride", "batch_size", "keep_per_frame", "decode.top_n", "link.top_k"):
        _whole(cfg, key, 1)
    _whole(cfg, "link.min_length", 0)
    if cfg.get("coco_max_per_frame") is not None:
        _whole(cfg, "coco_max_per_frame", 0)
    _number(cfg, "score_threshold")
    for key in ("link.link_iou", "link.nms_iou", "link.assign_iou"):
        _number(cfg, key, 0.0, 1.0)
    _number(cfg, "link.min_score")
    render = cfg.render
    check_render_options(render.gif_max_frames, render.gif_width, render.diff_gain,
                         render.min_score)
    if cfg.get("coco_boxes", "scored") not in COCO_BOXES:
        raise ConfigError(f"coco_boxes must be one of {', '.join(COCO_BOXES)}, "
                          f"got {cfg.coco_boxes!r}")
