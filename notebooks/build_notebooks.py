"""Write notebooks/01_synthiod.ipynb and notebooks/02_results.ipynb, outputs stripped.

    .venv/bin/python notebooks/build_notebooks.py

The cells below are the notebooks' source: edit them here and rerun this script (or edit the
notebooks in Jupyter and strip their outputs before committing: tests/test_notebooks.py refuses
committed outputs). tests/test_notebooks.py executes both notebooks headless with tiny inputs
(``IODVIDEO_NOTEBOOK_TINY=1``).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

# Shared by both notebooks: where the repository is, and pictures without matplotlib.
SETUP = '''
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

import cv2
import numpy as np
from IPython.display import Image, Markdown, display

import iodvideo

# tqdm (imported by dependencies) asks for ipywidgets in a notebook; its text bar is fine
warnings.filterwarnings("ignore", message="IProgress not found")


def find_repo() -> Path:
    """The repository root: the one holding the imported package (an editable install), else
    the first parent of the working directory with a pyproject.toml."""
    here = Path(iodvideo.__file__).resolve().parents[2]
    if (here / "pyproject.toml").is_file():
        return here
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / "pyproject.toml").is_file():
            return folder
    raise FileNotFoundError("run this notebook inside the iodvideo repository")


REPO = find_repo()
# The real IOD-Video annotations and clip live beside the repository (../shared);
# IODVIDEO_SHARED overrides that folder, IODVIDEO_ANNOTATIONS the annotation folder alone.
SHARED = Path(os.environ.get("IODVIDEO_SHARED", REPO.parent / "shared"))
ANNOTATIONS = Path(os.environ.get("IODVIDEO_ANNOTATIONS",
                                  SHARED / "data" / "iodvideo-annotations")) / "TrueLeakedGas.pkl"
REAL_CLIP = SHARED / "data" / "real-clips" / "001_wild_static_vague.avi"
REAL_KEY = "TrueLeakedGas/001_wild_static_vague"
WORK = Path(tempfile.mkdtemp(prefix="iodvideo-notebook-"))  # everything written goes here
FIGURES = []  # titles of the pictures shown, for the summary at the end


def show(images, title=""):
    """Display BGR images side by side (padded to one height) as one PNG."""
    images = [cv2.cvtColor(i, cv2.COLOR_GRAY2BGR) if i.ndim == 2 else i for i in images]
    height = max(i.shape[0] for i in images)
    row = np.hstack([np.pad(i, ((0, height - i.shape[0]), (0, 4), (0, 0)),
                            constant_values=255) for i in images])
    if title:
        banner = np.full((20, row.shape[1], 3), 255, np.uint8)
        cv2.putText(banner, title, (3, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1)
        row = np.vstack([banner, row])
    display(Image(data=cv2.imencode(".png", row)[1].tobytes()))
    FIGURES.append(title or f"figure {len(FIGURES) + 1}")


def enlarge(image, min_height=160):
    """Nearest-neighbour upscale of tiny frames so they stay visible."""
    factor = max(1, int(np.ceil(min_height / image.shape[0])))
    return cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    text = "\\n".join(lines)
    display(Markdown(text))
    return text


print(f"kernel: {sys.executable}")
print(f"repository: {REPO}")
print(f"shared data: {SHARED} ({'present' if SHARED.is_dir() else 'absent'})")
'''

SUMMARY = '''
import shutil

shutil.rmtree(WORK, ignore_errors=True)  # the temporary files of this run
SUMMARY["figures"] = len(FIGURES)
SUMMARY["python"] = sys.executable
print("NOTEBOOK_SUMMARY " + json.dumps(SUMMARY, sort_keys=True))
'''


def code(text: str) -> nbformat.NotebookNode:
    return new_code_cell(textwrap.dedent(text).strip("\n"))


def markdown(text: str) -> nbformat.NotebookNode:
    return new_markdown_cell(textwrap.dedent(text).strip("\n"))


def parameters(text: str) -> nbformat.NotebookNode:
    cell = code(text)
    cell.metadata["tags"] = ["parameters"]  # papermill's convention
    return cell


def synthiod() -> nbformat.NotebookNode:
    cells = [
        markdown("""
        # SynthIOD next to IOD-Video

        How close is the synthetic generator (`iodvideo.data.synth`) to the real dataset?
        This notebook puts the generator's statistics beside the real annotation pickle
        (`TrueLeakedGas.pkl`): box sizes, frame counts, centre motion, clear/vague and
        static/dynamic mix, with the package's own measurements
        (`iodvideo.data.synth.stats`, what `python -m iodvideo.synth stats` prints). Then it
        renders a few SynthIOD videos and shows frames and frame differences for each kind,
        beside frames of a real IOD-Video clip.

        The real data lives in `../shared` beside the repository (override with
        `IODVIDEO_SHARED=/path/to/shared`); without it the notebook still runs and compares
        with the published percentiles only.
        """),
        parameters("""
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
        """),
        code(SETUP),
        markdown("""
        ## The real annotations

        Loaded with the project's safe loader (`iodvideo.data.annotations.load_annotations`).
        """),
        code("""
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
        """),
        markdown("""
        ## Saliency and motion of SynthIOD

        Rendered in memory, nothing written. CCR = |mean(box) − mean(ring)| / std(ring) on one
        frame, on the frame difference and on the std over 8 frames; motion = mean |frame
        difference| inside the box / outside. Low single-frame CCR with a high motion ratio is
        what makes the data need a temporal detector (real clip: CCR ≈ 0.08, motion ≈ 1.4).
        """),
        code("""
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
        """),
        markdown("""
        ## Box sizes and centre motion

        Relative units (box width / W, height / H, centre step per frame / W), so a tiny
        SynthIOD is comparable with 320×240 IOD-Video; steps are shown in pixels at 320 px.
        SynthIOD's boxes are measured on the tubes of `BOX_SAMPLE` videos (no pixels needed);
        the real ones on every tube of the pickle and, for reference, the percentiles the
        generator was fitted to (`stats.REAL_BOXES`, protocol §1.4).
        """),
        code("""
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
        """),
        markdown("## Frame counts and the clear/vague, static/dynamic mix"),
        code("""
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
        """),
        markdown("""
        ## SynthIOD frames and frame differences

        A few videos written by the generator itself (`generate_synthiod`, PNG frames in
        IOD-Video's layout) into a temporary folder, one per kind. Left of each pair: the frame
        with its box; right: |frame − previous frame| amplified, where the gas should stand out.
        """),
        code("""
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
        """),
        markdown("""
        ## The real clip

        `001_wild_static_vague.avi` (320×240, vague gas, static camera), read with OpenCV, with
        its annotated box; then the same saliency / motion statistics as above on those frames.
        """),
        code("""
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
        """),
        code(SUMMARY),
    ]
    return new_notebook(cells=cells, metadata=_metadata())


def results() -> nbformat.NotebookNode:
    cells = [
        markdown("""
        # Results: tables, learning curves, PR curves and predictions

        * the test metrics of the training runs in `results/learning/` (`*_summary.json`),
        * the paper's comparisons on SynthIOD, `results/tables/` (backbones, clip length, ζ,
          layout),
        * their learning curves (train loss and validation AP per epoch, `*_metrics.csv`),
        * precision/recall curves from the evaluator (`iodvideo.evaluation`) on a tiny synthetic
          set of detections,
        * a detector's predictions on a SynthIOD clip: a checkpoint given by `IODVIDEO_CKPT`, or
          else a small detector with random weights (nothing is trained here).

        Plots use matplotlib when it is installed, else OpenCV (as `scripts/plot_learning.py`).
        """),
        parameters("""
        import os

        # Tiny inputs (the tests set IODVIDEO_NOTEBOOK_TINY=1) or full size.
        TINY = os.environ.get("IODVIDEO_NOTEBOOK_TINY", "0") == "1"
        MAX_CURVES = 3 if TINY else None        # runs in the learning-curve plot (None: all)
        CKPT = os.environ.get("IODVIDEO_CKPT", "")  # a training checkpoint, or "" for random init
        CLIP_FRAMES = 12 if TINY else 48        # frames of the SynthIOD clip predicted on
        CLIP_SIZE = (60, 80) if TINY else (240, 320)
        INPUT_SIZE = 64 if TINY else 96         # detector input (random-init detector only)
        SEED = 0
        """),
        code(SETUP),
        code("""
        import io

        RESULTS = REPO / "results" / "learning"
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            plt = None
        sys.path.insert(0, str(REPO / "scripts"))
        import plot_learning  # noqa: E402  (OpenCV line charts, used when matplotlib is absent)

        print(f"plots: {'matplotlib' if plt else 'OpenCV (matplotlib not installed)'}")


        def show_figure(fig, title):
            \"\"\"A matplotlib figure as a PNG output, counted in FIGURES.\"\"\"
            fig.tight_layout()
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=90)
            plt.close(fig)
            display(Image(data=buffer.getvalue()))
            FIGURES.append(title)


        def line_plots(panels, x_label="epoch"):
            \"\"\"One row of line charts: ``[(title, {label: {x: y}}), ...]``.\"\"\"
            if plt is None:
                show([plot_learning.panel(c, t, (520, 380), x_label) for t, c in panels],
                     " / ".join(t for t, _ in panels))
                return
            fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
            for ax, (title, curves) in zip(axes[0], panels, strict=True):
                for label, curve in curves.items():
                    xs = sorted(curve)
                    ax.plot(xs, [curve[x] for x in xs], marker="o", label=label)
                ax.set_title(title)
                ax.set_xlabel(x_label)
                ax.legend(fontsize=7)
            show_figure(fig, " / ".join(t for t, _ in panels))
        """),
        markdown("""
        ## Test metrics per run

        AP in percent on the test videos, with the checkpoint chosen on validation
        (`results/learning/README.md` says how each run was made).
        """),
        code("""
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
        """),
        markdown("""
        ## The paper's tables on SynthIOD

        Each folder of `results/tables/` is one comparison run as Hydra multiruns over the three
        splits (`results/tables/README.md`: the commands, the machine, the wall time) and
        summarised by `scripts/collect.py`: test AP in percent, mean over the splits with the
        min–max spread. The chart shows AP@0.5 on clear and on vague test videos per row (bar:
        mean, whisker: min–max over the splits).
        """),
        code("""
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
        for path in tables:
            display(Markdown(f"### {path.parent.name}\\n\\n" +
                             (path.parent / "results.md").read_text()))
            rows, shown = table_rows(path)
            rows = [r for r in rows if all(r.get(m, "-") != "-" for m in BAR_METRICS)]  # diverged
            if plt is None or not rows or not all(m in rows[0] for m in BAR_METRICS):
                continue
            labels = [" ".join(r[k] for k in shown) for r in rows]
            fig, ax = plt.subplots(figsize=(8, 0.35 * len(rows) + 1.2))
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
        SUMMARY["tables"] = len(tables)
        """),
        markdown("""
        ## Learning curves

        Mean of the logged `train/loss` values of each epoch, and `val/frameAP@0.5` at the end
        of each epoch (the same reading as `scripts/plot_learning.py`).
        """),
        code("""
        from collections import defaultdict


        def read_curves(path, metric="val/frameAP@0.5"):
            losses, values = defaultdict(list), {}
            with open(path, newline="") as handle:
                for row in csv.DictReader(handle):
                    if not row.get("epoch"):
                        continue
                    epoch = int(float(row["epoch"])) + 1
                    if row.get("train/loss"):
                        losses[epoch].append(float(row["train/loss"]))
                    if row.get(metric):
                        values[epoch] = float(row[metric])
            loss = {e: float(np.mean(v)) for e, v in losses.items() if e in values or not values}
            return loss, values


        metric_files = sorted(RESULTS.glob("*_metrics.csv"))
        chosen = [p for p in metric_files if p.name[: -len("_metrics.csv")] in runs]
        chosen = chosen[:MAX_CURVES] if MAX_CURVES else chosen
        loss_curves, ap_curves = {}, {}
        for path in chosen:
            label = path.name[: -len("_metrics.csv")]
            loss_curves[label], ap_curves[label] = read_curves(path)
        line_plots([("train loss (epoch mean)", loss_curves),
                    ("val/frameAP@0.5 (percent)", ap_curves)])
        markdown_table(["run", "epochs", "last train loss", "best val AP@0.5 (epoch)"],
                       [[k, len(ap_curves[k]), f"{loss_curves[k][max(loss_curves[k])]:.3f}",
                         f"{max(ap_curves[k].values()):.2f} "
                         f"({max(ap_curves[k], key=ap_curves[k].get)})"]
                        for k in loss_curves if ap_curves[k] and loss_curves[k]])
        SUMMARY["curves"] = len(loss_curves)
        """),
        markdown("""
        ## Precision / recall from the evaluator

        Two videos with hand-made ground-truth tubes and detections: one jittered true box per
        frame plus two false alarms, scored exactly as evaluation does (per-frame rescoring,
        greedy matching, raw PR curve). The AP from the PR curve's ranks equals the trapezoid of
        `average_precision` on the ranked TP flags.
        """),
        code("""
        from iodvideo.evaluation import average_precision, paper_metrics, score_detections
        from iodvideo.evaluation.report import metrics_table, plot_pr, pr_curve

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
        if plt is None:
            plot_pr(WORK / "pr.png", curves, "synthetic detections, frame PR")
            show([cv2.imread(str(WORK / "pr.png"))], "PR curves (iodvideo.evaluation.report)")
        else:
            line_plots([("frame PR (x: recall, y: precision)",
                         {k: dict(zip(r, p, strict=True)) for k, (r, p) in curves.items()})],
                       "recall")
        paper = paper_metrics(dets, gt, workers=1)
        display(Markdown(metrics_table({"synthetic": paper.metrics})))
        SUMMARY["pr_points"] = {k: len(r) for k, (r, _) in curves.items()}
        """),
        markdown("""
        ## Predictions on a SynthIOD clip

        `ClipRunner` (`iodvideo.inference.stream`) preprocesses frames as training does and
        `predict_video` merges clips per frame and links tubes, exactly as
        `python -m iodvideo.predict` does. Without `IODVIDEO_CKPT` the detector is the training
        config's model with random weights (its boxes are noise); green: ground truth, red: the
        top prediction per frame.
        """),
        code("""
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
            \"\"\"The frames of one rendered clip as a prediction source.\"\"\"

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
        """),
        code(SUMMARY),
    ]
    return new_notebook(cells=cells, metadata=_metadata())


def _metadata() -> dict:
    return {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                       "name": "python3"},
        "language_info": {"name": "python"},
    }


def main() -> None:
    for name, notebook in (("01_synthiod.ipynb", synthiod()), ("02_results.ipynb", results())):
        for number, cell in enumerate(notebook.cells):
            cell.id = f"{Path(name).stem[:2]}-{number:02d}"  # stable ids: no churn in git
        nbformat.validate(notebook)
        nbformat.write(notebook, HERE / name)
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
