"""Pictures for people: contact sheets and GIFs per difficulty, frames beside their differences.

Numbers (``stats``) say whether the gas is hidden; a person still has to look at it to judge
whether it looks like gas. Each sheet shows a few frames with the box and, beside each, the
amplified absolute difference to the previous frame, where the gas should stand out;
``videos.png`` shows the first videos side by side, captioned with the effects each drew.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from iodvideo.data.synth.config import SynthConfig
from iodvideo.data.synth.generator import plan_dataset
from iodvideo.data.synth.stats import render_in_memory

KINDS = ("static_clear", "static_vague", "dynamic_clear", "dynamic_vague")
DIFF_GAIN = 6.0
BOX_COLOUR = (0, 0, 255)


def _panel(frames: np.ndarray, tube: np.ndarray, t: int) -> np.ndarray:
    """Frame ``t`` (0-based) with its box, beside |f_t - f_{t-1}| x DIFF_GAIN with the box."""
    grey = frames[t]
    prev = frames[max(t - 1, 0)]
    diff = np.clip(np.abs(grey.astype(np.int16) - prev) * DIFF_GAIN, 0, 255).astype(np.uint8)
    x1, y1, x2, y2 = (int(v) for v in tube[t, 1:5])
    out = []
    for image in (grey, diff):
        bgr = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        cv2.rectangle(bgr, (x1, y1), (x2, y2), BOX_COLOUR, 1)
        out.append(bgr)
    return np.hstack(out)


def effect_tags(plan, config: SynthConfig) -> list[str]:
    """What the video ``plan`` was drawn with, in words (for captions)."""
    from iodvideo.data.synth.distractors import Foliage, Worker
    from iodvideo.data.synth.video import build_video

    model = build_video(plan, config, pixels=False)
    effects, display = model.effects, model.effects.display
    tags = ["absorbing" if model.look.contrast < 0 else "emitting"]
    flatness = getattr(getattr(model.plume, "params", None), "flatness", 0.0)
    tags += [f"flat {flatness:.1f}"] if flatness >= 0.3 else []
    tags += ["worker"] * any(isinstance(d, Worker) for d in model.distractors)
    tags += ["foliage"] * any(isinstance(d, Foliage) for d in model.distractors)
    for on, tag in ((effects.shake is not None, "shake"), (effects.agc is not None, "AGC"),
                    (effects.shading is not None, "vignetting"),
                    (display.black_hot, "black-hot"), (display.letterbox is not None, "letterbox"),
                    (display.overlay is not None, "text")):
        tags += [tag] * on
    if display.compression is not None:
        tags.append("H.264" if display.compression.h264 else "MJPEG")
    return tags


def write_sheet(config: SynthConfig, path: Path, videos: int = 8, scale: float = 0.5,
                per_row: int = 2) -> Path:
    """One PNG of the middle frame of the first ``videos`` videos, each beside its frame
    difference, boxes drawn, captioned with the video's name and effects; ``scale`` shrinks
    the panels (a small file for documentation)."""
    from PIL import Image

    tiles = []
    for plan in plan_dataset(config).videos[:videos]:
        frames, tube = render_in_memory(plan, config)
        panel = _panel(frames, tube, plan.nframes // 2)
        panel = cv2.resize(panel, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        caption = np.full((26, panel.shape[1], 3), 255, np.uint8)
        for line, text in enumerate((plan.stem, ", ".join(effect_tags(plan, config)))):
            cv2.putText(caption, text, (3, 10 + 12 * line), cv2.FONT_HERSHEY_SIMPLEX, 0.33,
                        (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(np.vstack([caption, panel]))
    while len(tiles) % per_row:
        tiles.append(np.full_like(tiles[0], 255))
    rows = [np.hstack(tiles[i:i + per_row]) for i in range(0, len(tiles), per_row)]
    sheet = cv2.cvtColor(np.vstack(rows), cv2.COLOR_BGR2RGB)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).quantize(colors=128).save(path, optimize=True)
    return path


def write_previews(config: SynthConfig, out: Path, columns: int = 4) -> list[Path]:
    """One ``<kind>.png`` contact sheet and ``<kind>.gif`` per difficulty present in ``config``."""
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in KINDS:
        plan = next((v for v in plan_dataset(config).videos if v.stem.endswith(kind)), None)
        if plan is None:
            continue
        frames, tube = render_in_memory(plan, config)
        picks = np.linspace(1, plan.nframes - 1, columns).astype(int)
        sheet = np.vstack([_panel(frames, tube, int(t)) for t in picks])
        label = f"{plan.stem}  (left: frame + box, right: |frame difference| x{DIFF_GAIN:g})"
        banner = np.full((18, sheet.shape[1], 3), 255, np.uint8)
        cv2.putText(banner, label, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
        sheet_path = out / f"{kind}.png"
        cv2.imwrite(str(sheet_path), np.vstack([banner, sheet]))
        gif_path = out / f"{kind}.gif"
        images = [
            Image.fromarray(cv2.cvtColor(_panel(frames, tube, t), cv2.COLOR_BGR2RGB))
            for t in range(1, plan.nframes)
        ]
        images[0].save(gif_path, save_all=True, append_images=images[1:],
                       duration=int(1000 / config.fps), loop=0)
        written += [sheet_path, gif_path]
    written.append(write_sheet(config, out / "videos.png"))
    return written
