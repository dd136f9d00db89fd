# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # SynthIOD next to IOD-Video
#
# How close is the synthetic generator (`iodvideo.data.synth`) to the real dataset?
# This notebook puts the generator's statistics beside the real annotation pickle
# (`TrueLeakedGas.pkl`): box sizes, frame counts, centre motion, clear/vague and
# static/dynamic mix, with the package's own measurements
# (`iodvideo.data.synth.stats`, what `python -m iodvideo.synth stats` prints). Then it
# renders a few SynthIOD videos and shows frames and frame differences for each kind,
# beside frames of a real IOD-Video clip.
#
# The real data lives in `../shared` beside the repository (override with
# `IODVIDEO_SHARED=/path/to/shared`); without it the notebook still runs and compares
# with the published percentiles only.

# %% tags=["parameters"]
import os

# Tiny inputs (the tests set IODVIDEO_NOTEBOOK_TINY=1) or the generator's defaults.
TINY = os.environ.get("IODVIDEO_NOTEBOOK_TINY", "0") == "1"
SEED = 0
NUM_VIDEOS = 12 if TINY else 24         # SynthIOD videos rendered and measured
FRAMES = (12, 16) if TINY else (40, 64)  # min / max frames per video
SIZE = (60, 80) if TINY else (240, 320)  # height, width of the frames
BOX_SAMPLE = 60 if TINY else 240         # videos whose tubes (no pixels) give box stats
REAL_FRAMES = 16 if TINY else 120        # frames of the real clip read
SHOWN_FRAMES = 3                         # frames per video in the pictures

# %%
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np

import iodvideo

# the helpers both notebooks share, notebooks/notebook_support.py: found from the notebook's
# own folder (Jupyter's working directory) or an editable install's checkout
sys.path.append(str(Path(iodvideo.__file__).resolve().parents[2] / "notebooks"))
from notebook_support import (  # noqa: E402
    ANNOTATIONS,
    FIGURES,
    REAL_CLIP,
    REAL_KEY,
    WORK,
    describe,
    enlarge,
    markdown_table,
    show,
)

describe()

# %% [markdown]
# ## The real annotations
#
# Loaded with the project's safe loader (`iodvideo.data.annotations.load_annotations`).

# %%
from iodvideo.data.annotations import load_annotations

if ANNOTATIONS.is_file():
    real = load_annotations(ANNOTATIONS)
    real_tubes = {name: real.tube(name) for name in real.nframes}
    real_hw = next(iter(real.resolution.values()))
    print(f"real annotations: {len(real_tubes)} videos, "
          f"{sum(real.nframes.values())} frames, {real_hw[1]}x{real_hw[0]} ({ANNOTATIONS})")
else:
    real, real_tubes, real_hw = None, {}, (240, 320)
    print(f"real data absent: {ANNOTATIONS} not found (set IODVIDEO_SHARED); "
          "comparing with the published percentiles (protocol §1.4) only")
SUMMARY = {"real_annotations": real is not None}

# %% [markdown]
# ## Saliency and motion of SynthIOD
#
# Rendered in memory, nothing written. CCR = |mean(box) − mean(ring)| / std(ring) on one
# frame, on the frame difference and on the std over 8 frames; motion = mean |frame
# difference| inside the box / outside. Low single-frame CCR with a high motion ratio is
# what makes the data need a temporal detector (real clip: CCR ≈ 0.08, motion ≈ 1.4).

# %%
from iodvideo.data.synth import SynthConfig, plan_dataset, stats

config = SynthConfig(num_videos=NUM_VIDEOS, min_frames=FRAMES[0], max_frames=FRAMES[1],
                     height=SIZE[0], width=SIZE[1], seed=SEED)
measured, synth_tubes = stats.measure_with_tubes(config)
summary = stats.summarise(measured)
saliency_table = markdown_table(
    ["group", "videos", "CCR frame", "CCR diff", "CCR std8", "motion"],
    [[g, int(r["videos"]), f"{r['ccr_frame']:.2f}", f"{r['ccr_temporal']:.2f}",
      f"{r['ccr_std']:.2f}", f"{r['motion_ratio']:.2f}"] for g, r in summary.items()])
SUMMARY["saliency_groups"] = len(summary)

# %% [markdown]
# ## Box sizes and centre motion
#
# Relative units (box width / W, height / H, centre step per frame / W), so a tiny
# SynthIOD is comparable with 320×240 IOD-Video; steps are shown in pixels at 320 px.
# SynthIOD's boxes are measured on the tubes of `BOX_SAMPLE` videos (no pixels needed);
# the real ones on every tube of the pickle and, for reference, the percentiles the
# generator was fitted to (`stats.REAL_BOXES`, protocol §1.4).

# %%
synth_boxes = stats.box_statistics(stats.sample_tubes(config, BOX_SAMPLE), *SIZE)
real_boxes = stats.box_statistics(real_tubes, *real_hw) if real_tubes else None
rows = []
for name in ("width", "height", "step"):
    scale = 320.0 if name == "step" else 1.0
    for i, p in enumerate(stats.PERCENTILES):
        rows.append([
            name, f"p{p}", f"{synth_boxes[name][i] * scale:.3f}",
            f"{real_boxes[name][i] * scale:.3f}" if real_boxes else "absent",
            f"{stats.REAL_BOXES[name][i] * scale:.3f}",
        ])
rows.append(["step == 0", "fraction", f"{synth_boxes['zero'][0]:.3f}",
             f"{real_boxes['zero'][0]:.3f}" if real_boxes else "absent",
             f"{stats.REAL_ZERO_STEPS:.3f}"])
box_table = markdown_table(
    ["quantity", "percentile", "SynthIOD", "IOD-Video (pickle)", "IOD-Video (§1.4)"], rows)
SUMMARY["box_rows"] = len(rows)

checks = stats.check_properties(summary, synth_boxes)
for c in checks:
    print(f"{'PASS' if c.ok else 'FAIL'}  {c.name}: {c.measured}  (goal {c.goal})")
print(f"{sum(c.ok for c in checks)}/{len(checks)} properties pass"
      + (" (tiny settings: few videos and frames, not the generator's defaults)"
         if TINY else ""))


# %% [markdown]
# ## Frame counts and the clear/vague, static/dynamic mix

# %%
def kinds(names):
    counts = {}
    for name in names:
        motion, visibility = name.rsplit("_", 2)[-2:]
        for key in (visibility, motion, f"{motion}_{visibility}"):
            counts[key] = counts.get(key, 0) + 1
    return counts


synth_plans = plan_dataset(config).videos
synth_frames = np.array([v.nframes for v in synth_plans])
real_frames = np.array(list(real.nframes.values())) if real else None


def frame_row(label, frames):
    if frames is None:
        return [label, "absent", "", "", "", "", ""]
    q = np.percentile(frames, [0, 25, 50, 75, 100])
    return [label, len(frames), int(frames.sum()), *(f"{v:g}" for v in q)]


markdown_table(["frames per video", "videos", "total", "min", "p25", "median", "p75",
                "max"],
               [frame_row("SynthIOD", synth_frames), frame_row("IOD-Video", real_frames)])

synth_kinds = kinds(v.name for v in synth_plans)
real_kinds = kinds(real.nframes) if real else {}
keys = ["clear", "vague", "static", "dynamic", "static_clear", "static_vague",
        "dynamic_clear", "dynamic_vague"]


def share(counts, key, total):
    return f"{counts.get(key, 0)} ({100 * counts.get(key, 0) / total:.0f} %)"


mix_table = markdown_table(
    ["kind", "SynthIOD videos", "IOD-Video videos"],
    [[k, share(synth_kinds, k, len(synth_plans)),
      share(real_kinds, k, len(real.nframes)) if real else "absent"] for k in keys])
clear, dynamic = config.mix()
print(f"SynthConfig mix: clear fraction {clear:.3f}, dynamic fraction {dynamic:.3f}")
SUMMARY["mix_rows"] = len(keys)

# %% [markdown]
# ## SynthIOD frames and frame differences
#
# A few videos written by the generator itself (`generate_synthiod`, PNG frames in
# IOD-Video's layout) into a temporary folder, one per kind. Left of each pair: the frame
# with its box; right: |frame − previous frame| amplified, where the gas should stand out.

# %%
from dataclasses import replace

from iodvideo.data.synth import generate_synthiod
from iodvideo.data.synth.preview import DIFF_GAIN, KINDS
from iodvideo.data.synth.writer import FRAMES_DIR

render_config = replace(config, num_videos=8, difficulty="balanced", seed=SEED + 1)
pickle_path = generate_synthiod(WORK / "synth", render_config)
rendered = load_annotations(pickle_path)
print(f"generated {len(rendered.nframes)} videos into {pickle_path.parent}")


def read_frames(folder, count):
    files = sorted(folder.glob("*.png"))[:count]
    return np.stack([cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in files])


def pairs(frames, tube, picks):
    out = []
    for t in picks:
        diff = np.abs(frames[t].astype(np.int16) - frames[t - 1])
        diff = np.clip(diff * DIFF_GAIN, 0, 255).astype(np.uint8)
        for image in (frames[t], diff):
            bgr = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
            if tube is not None:
                x1, y1, x2, y2 = (int(round(v)) for v in tube[t, 1:5])
                cv2.rectangle(bgr, (x1, y1), (x2, y2), (0, 0, 255), 1)
            out.append(enlarge(bgr))
    return out


shown_kinds = []
for kind in KINDS:
    name = next((n for n in rendered.nframes if n.endswith(kind)), None)
    if name is None:
        print(f"{kind}: no such video among the {len(rendered.nframes)} rendered")
        continue
    frames = read_frames(pickle_path.parent / FRAMES_DIR / name, rendered.nframes[name])
    picks = np.linspace(1, len(frames) - 1, SHOWN_FRAMES).astype(int)
    show(pairs(frames, rendered.tube(name), picks), f"SynthIOD {name.split('/')[-1]}")
    shown_kinds.append(kind)
SUMMARY["synth_kinds_shown"] = shown_kinds

# %% [markdown]
# ## The real clip
#
# `001_wild_static_vague.avi` (320×240, vague gas, static camera), read with OpenCV, with
# its annotated box; then the same saliency / motion statistics as above on those frames.

# %%
SUMMARY["real_clip_frames"] = 0
if REAL_CLIP.is_file():
    capture = cv2.VideoCapture(str(REAL_CLIP))
    grey = []
    while len(grey) < REAL_FRAMES:
        ok, frame = capture.read()
        if not ok:
            break
        grey.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    capture.release()
    grey = np.stack(grey)
    tube = real.tube(REAL_KEY)[: len(grey)] if real and REAL_KEY in real.nframes else None
    picks = np.linspace(1, len(grey) - 1, SHOWN_FRAMES).astype(int)
    show(pairs(grey, tube, picks), f"IOD-Video {REAL_KEY.split('/')[-1]} (real)")
    if tube is not None:
        s = stats.measure_frames(REAL_KEY, grey, tube)
        static_vague = summary.get("static-vague", summary["all"])
        markdown_table(
            ["video", "frames", "CCR frame", "CCR diff", "CCR std8", "motion"],
            [[REAL_KEY.split("/")[-1] + " (real)", len(grey), f"{s.ccr_frame:.2f}",
              f"{s.ccr_temporal:.2f}", f"{s.ccr_std:.2f}", f"{s.motion_ratio:.2f}"],
             ["SynthIOD static-vague (median)", "", f"{static_vague['ccr_frame']:.2f}",
              f"{static_vague['ccr_temporal']:.2f}", f"{static_vague['ccr_std']:.2f}",
              f"{static_vague['motion_ratio']:.2f}"]])
    SUMMARY["real_clip_frames"] = len(grey)
else:
    print(f"real data absent: {REAL_CLIP} not found (set IODVIDEO_SHARED); skipped")

# %%
import shutil

shutil.rmtree(WORK, ignore_errors=True)  # the temporary files of this run
SUMMARY["figures"] = len(FIGURES)
SUMMARY["python"] = sys.executable
print("NOTEBOOK_SUMMARY " + json.dumps(SUMMARY, sort_keys=True))
