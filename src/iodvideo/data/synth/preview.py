"""Pictures for people: contact sheets and GIFs per difficulty, frames beside their differences.

Numbers (``stats``) say whether the gas is hidden; a person still has to look at it to judge
whether it looks like gas. Each sheet shows a few frames with the box and, beside each, the
amplified absolute difference to the previous frame, where the gas should stand out.
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
    return written
