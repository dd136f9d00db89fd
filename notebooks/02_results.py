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
# # Results: tables, learning curves, PR curves and predictions
#
# * the test metrics of the training runs in `results/learning/` (`*_summary.json`),
# * the paper's comparisons on SynthIOD, `results/tables/` (backbones, clip length, ζ,
#   layout),
# * their learning curves (train loss and validation AP per epoch, `*_metrics.csv`),
# * precision/recall curves from the evaluator (`iodvideo.evaluation`) on a tiny synthetic
#   set of detections,
# * a detector's predictions on a SynthIOD clip: a checkpoint given by `IODVIDEO_CKPT`, or
#   else a small detector with random weights (nothing is trained here).
#
# The charts are matplotlib figures (the `plots` extra, also in `dev`), the same ones the
# commands save as PNG and PDF: `pr_figure` of `iodvideo.evaluation.report` (eval's PR curves)
# and `learning_figure` of `scripts/plot_learning.py`. Each is a `matplotlib.figure.Figure`:
# restyle it (`fig.axes[0].set_title(...)`) or save it (`fig.savefig("pr.pdf")`) in a cell.
# Frames and predictions are pictures, drawn on the frames with OpenCV.

# %% tags=["parameters"]
import os

# Tiny inputs (the tests set IODVIDEO_NOTEBOOK_TINY=1) or full size.
TINY = os.environ.get("IODVIDEO_NOTEBOOK_TINY", "0") == "1"
MAX_CURVES = 3 if TINY else None        # runs in the learning-curve plot (None: all)
CKPT = os.environ.get("IODVIDEO_CKPT", "")  # a training checkpoint, or "" for random init
CLIP_FRAMES = 12 if TINY else 48        # frames of the SynthIOD clip predicted on
CLIP_SIZE = (60, 80) if TINY else (240, 320)
INPUT_SIZE = 64 if TINY else 96         # detector input (random-init detector only)
SEED = 0

# %%
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np
from IPython.display import Image, Markdown, display

import iodvideo

# the helpers both notebooks share, notebooks/notebook_support.py: found from the notebook's
# own folder (Jupyter's working directory) or an editable install's checkout
sys.path.append(str(Path(iodvideo.__file__).resolve().parents[2] / "notebooks"))
from notebook_support import (  # noqa: E402
    FIGURES,
    REPO,
    WORK,
    describe,
    enlarge,
    markdown_table,
    show,
)

describe()

# %%
import io

from iodvideo.plotting import new_figure, require_matplotlib

require_matplotlib("this notebook's charts")  # else one line: pip install 'iodvideo[plots]'
sys.path.insert(0, str(REPO / "scripts"))
import plot_learning  # scripts/plot_learning.py: reads metrics.csv, draws the learning curves

RESULTS = REPO / "results" / "learning"


def show_figure(fig, title):
    """A matplotlib figure as a PNG output, counted in FIGURES."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    display(Image(data=buffer.getvalue()))
    FIGURES.append(title)


# %% [markdown]
# ## Test metrics per run
#
# AP in percent on the test videos, with the checkpoint chosen on validation
# (`results/learning/README.md` says how each run was made).

# %%
runs = {}
for path in sorted(RESULTS.glob("*_summary.json")):
    data = json.loads(path.read_text())
    runs[path.name[: -len("_summary.json")]] = data
rows = []
for name, data in sorted(runs.items(), key=lambda kv: -kv[1]["metrics"]["test/AP@0.5"]):
    m, cfg = data["metrics"], data.get("config", {})
    rows.append([name, data.get("epochs", ""), cfg.get("backbone", ""),
                 cfg.get("input_size", ""),
                 *(f"{m[k]:.2f}" if k in m else "–" for k in
                   ("test/AP@0.5", "test/AP@0.5_clear", "test/AP@0.5_vague",
                    "test/AP@0.5:0.95"))])
results_table = markdown_table(
    ["run", "epochs", "backbone", "input", "AP@0.5", "AP@0.5 clear", "AP@0.5 vague",
     "AP@0.5:0.95"], rows)
SUMMARY = {"result_rows": len(rows), "summary_files": len(runs)}

# %% [markdown]
# ## The paper's tables on SynthIOD
#
# Each folder of `results/tables/` is one comparison run as Hydra multiruns over the three
# splits (`results/tables/README.md`: the commands, the machine, the wall time) and
# summarised by `scripts/collect.py`: test AP in percent, mean over the splits with the
# min–max spread. The chart shows AP@0.5 on clear and on vague test videos per row (bar:
# mean, whisker: min–max over the splits).

# %%
import csv

TABLES = REPO / "results" / "tables"
BAR_METRICS = ("test/AP@0.5_clear", "test/AP@0.5_vague")


def table_rows(path):
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return [], []
    columns = list(rows[0])
    settings = columns[: columns.index("splits")]
    shown = [k for k in settings if k not in ("experiment", "input_size")
             and len({r[k] for r in rows}) > 1] or settings[:1]
    return rows, shown


tables = sorted(TABLES.glob("*/results.csv"))
SUMMARY["table_charts"] = 0
for path in tables:
    display(Markdown(f"### {path.parent.name}\n\n" +
                     (path.parent / "results.md").read_text()))
    rows, shown = table_rows(path)
    rows = [r for r in rows if all(r.get(m, "-") != "-" for m in BAR_METRICS)]  # diverged
    if not rows or not all(m in rows[0] for m in BAR_METRICS):
        continue
    labels = [" ".join(r[k] for k in shown) for r in rows]
    fig = new_figure("the tables' charts", (8, 0.35 * len(rows) + 1.2))
    ax = fig.add_subplot()
    y = np.arange(len(rows))
    for offset, metric in zip((-0.2, 0.2), BAR_METRICS, strict=True):
        mean = np.array([float(r[metric]) for r in rows])
        low = mean - np.array([float(r[f"{metric} min"]) for r in rows])
        high = np.array([float(r[f"{metric} max"]) for r in rows]) - mean
        ax.barh(y + offset, mean, height=0.4, xerr=[low, high], capsize=2,
                label=metric.split("_")[-1])
    ax.set_yticks(y, labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("test AP@0.5 (%), mean and min–max over splits")
    ax.set_title(path.parent.name)
    ax.legend(fontsize=7)
    show_figure(fig, path.parent.name)
    SUMMARY["table_charts"] += 1
SUMMARY["tables"] = len(tables)

# %% [markdown]
# ## Learning curves
#
# Mean of the logged `train/loss` values of each epoch, and `val/frameAP@0.5` at the end
# of each epoch: the figure of `scripts/plot_learning.py`, which reads the runs' CSVs the
# same way.

# %%
METRIC = "val/frameAP@0.5"
metric_files = sorted(RESULTS.glob("*_metrics.csv"))
chosen = [p for p in metric_files if p.name[: -len("_metrics.csv")] in runs]
chosen = chosen[:MAX_CURVES] if MAX_CURVES else chosen
loss_curves, ap_curves = {}, {}
for path in chosen:
    label = path.name[: -len("_metrics.csv")]
    loss, values = plot_learning.read_curves(path, METRIC)  # epochs from 0, as logged
    loss_curves[label] = {e + 1: v for e, v in loss.items()}
    ap_curves[label] = {e + 1: v for e, v in values.items()}
learning_fig = plot_learning.learning_figure(loss_curves, ap_curves, METRIC)
show_figure(learning_fig, "learning curves")
markdown_table(["run", "epochs", "last train loss", "best val AP@0.5 (epoch)"],
               [[k, len(ap_curves[k]), f"{loss_curves[k][max(loss_curves[k])]:.3f}",
                 f"{max(ap_curves[k].values()):.2f} "
                 f"({max(ap_curves[k], key=ap_curves[k].get)})"]
                for k in loss_curves if ap_curves[k] and loss_curves[k]])
SUMMARY["curves"] = len(loss_curves)

# %% [markdown]
# ## Precision / recall from the evaluator
#
# Two videos with hand-made ground-truth tubes and detections: one jittered true box per
# frame plus two false alarms, scored exactly as evaluation does (per-frame rescoring,
# greedy matching, raw PR curve). The AP from the PR curve's ranks equals the trapezoid of
# `average_precision` on the ranked TP flags.

# %%
from iodvideo.evaluation import average_precision, paper_metrics, score_detections
from iodvideo.evaluation.report import metrics_table, pr_curve, pr_figure

rng = np.random.default_rng(SEED)
gt, dets = {}, {}
for name in ("TrueLeakedGas/001_valve_static_clear",
             "TrueLeakedGas/002_wild_dynamic_vague"):
    frames = np.arange(1, 21, dtype=np.float64)
    x1 = 40 + 2 * frames
    y1 = 60 + frames
    boxes = np.stack([frames, x1, y1, x1 + 60, y1 + 50], axis=1)
    gt[name] = boxes.astype(np.float32)
    jitter = rng.normal(0, 6, (len(frames), 4))
    true = np.c_[boxes[:, :1], boxes[:, 1:] + jitter, rng.uniform(0.3, 1.0, len(frames))]
    fx = rng.uniform(0, 250, (2 * len(frames), 1))
    fy = rng.uniform(0, 180, (2 * len(frames), 1))
    false = np.c_[np.repeat(frames, 2), fx, fy, fx + 50, fy + 40,
                  rng.uniform(0.0, 0.8, 2 * len(frames))]
    dets[name] = np.vstack([true, false])

scored = score_detections(dets, gt, [0.5, 0.75])
curves = {f"IoU {t:g}": pr_curve(scored, t) for t in (0.5, 0.75)}
for t in (0.5, 0.75):
    tp = np.zeros(len(scored.score), dtype=bool)
    tp[scored.tp[t]] = True
    direct = average_precision(tp[scored.order()], scored.num_gt())
    assert abs(direct - scored.ap(t)) < 1e-12
    print(f"AP@{t:g}: {100 * scored.ap(t):.2f} % ({len(scored.tp[t])} TP of "
          f"{len(scored.score)} detections, {scored.num_gt()} GT boxes)")
pr_fig = pr_figure(curves, "synthetic detections, frame PR")
show_figure(pr_fig, "PR curves (iodvideo.evaluation.report)")
paper = paper_metrics(dets, gt, workers=1)
display(Markdown(metrics_table({"synthetic": paper.metrics})))
SUMMARY["pr_points"] = {k: len(r) for k, (r, _) in curves.items()}

# %% [markdown]
# ## Predictions on a SynthIOD clip
#
# `ClipRunner` (`iodvideo.inference.stream`) preprocesses frames as training does and
# `predict_video` merges clips per frame and links tubes, exactly as
# `python -m iodvideo.predict` does. Without `IODVIDEO_CKPT` the detector is the training
# config's model with random weights (its boxes are noise); green: ground truth, red: the
# top prediction per frame.

# %%
import torch

from iodvideo.data.synth import SynthConfig, plan_dataset
from iodvideo.data.synth.stats import render_in_memory
from iodvideo.inference.stream import ClipRunner, predict_video
from iodvideo.inference.stream.render import draw_detections

torch.set_num_threads(min(2, torch.get_num_threads()))
if CKPT:
    runner = ClipRunner.from_checkpoint(CKPT, device="cpu")
    origin = f"checkpoint {CKPT}"
else:
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from iodvideo.config import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        train_cfg = compose("train", overrides=["data.root=unused",
                                                f"data.input_size={INPUT_SIZE}"])
    torch.manual_seed(SEED)
    model_cfg = OmegaConf.create(OmegaConf.to_container(train_cfg.model, resolve=True))
    runner = ClipRunner(instantiate(model_cfg), input_size=INPUT_SIZE)
    origin = "random weights (training config's model)"
print(f"detector: {runner.backbone}, K={runner.clip_len}, input {runner.input_size} px, "
      f"{origin}")

clip_config = SynthConfig(num_videos=4, min_frames=CLIP_FRAMES, max_frames=CLIP_FRAMES,
                          height=CLIP_SIZE[0], width=CLIP_SIZE[1], seed=SEED)
plan = plan_dataset(clip_config).videos[0]
grey, gt_tube = render_in_memory(plan, clip_config)
bgr = np.repeat(grey[..., None], 3, axis=3)


class ClipSource:
    """The frames of one rendered clip as a prediction source."""

    def __init__(self, frames, name):
        self.frames, self.name = frames, name
        self.num_frames, self.fps = len(frames), 25.0

    def __iter__(self):
        return iter(self.frames)

    def describe(self):
        return f"SynthIOD {self.name}"


prediction = predict_video(runner, ClipSource(bgr, plan.stem), keep_all=True)
print(f"{plan.name}: {prediction.num_frames} frames, {len(prediction.shown)} boxes shown, "
      f"{len(prediction.tubes)} linked tube(s), {prediction.seconds:.2f} s")
panels = []
for t in np.linspace(0, len(bgr) - 1, 3).astype(int):
    rows = prediction.shown[prediction.shown[:, 0] == t + 1]
    image = enlarge(bgr[t], 240)
    scale = image.shape[0] / bgr.shape[1]  # bgr: (T, H, W, 3)
    x1, y1, x2, y2 = (int(round(v * scale)) for v in gt_tube[t, 1:5])
    cv2.rectangle(image, (x1, y1), (x2, y2), (0, 200, 0), 1)
    panels.append(draw_detections(image, rows[:, 1:5] * scale, rows[:, 5].tolist(),
                                  label=f"frame {t + 1}"))
show(panels, f"{plan.stem}: {origin}")
frame_metrics = paper_metrics({plan.name: prediction.merged}, {plan.name: gt_tube},
                              workers=1)
display(Markdown(metrics_table({plan.stem: frame_metrics.metrics})))
SUMMARY["predicted_frames"] = int(prediction.num_frames)
SUMMARY["shown_boxes"] = int(len(prediction.shown))
SUMMARY["checkpoint"] = bool(CKPT)

# %%
import shutil

shutil.rmtree(WORK, ignore_errors=True)  # the temporary files of this run
SUMMARY["figures"] = len(FIGURES)
SUMMARY["python"] = sys.executable
print("NOTEBOOK_SUMMARY " + json.dumps(SUMMARY, sort_keys=True))
