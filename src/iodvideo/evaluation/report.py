"""Evaluation reports: terminal/markdown table, metrics.json, metrics.csv, report.md, per-video
CSV and PR curves (PNG + PDF, matplotlib: the optional ``plots`` extra, see
:mod:`iodvideo.plotting`)."""

from __future__ import annotations

import csv
import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from iodvideo.evaluation.metrics import METRIC_NAMES, THRESHOLDS_50_95
from iodvideo.evaluation.scored import ScoredDetections
from iodvideo.plotting import PlotsUnavailableError, new_figure, save_figure

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def metrics_table(
    rows: Mapping[str, Mapping[str, float]], names: Sequence[str] = METRIC_NAMES
) -> str:
    """Markdown table, one row per split (and "avg"), columns in the paper's order."""
    lines = ["| split | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for label, metrics in rows.items():
        cells = [f"{metrics[n]:.2f}" if n in metrics else "–" for n in names]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def group_table(groups: Mapping[str, Mapping[str, float]], title: str) -> str:
    lines = [
        f"| {title} | AP@0.5 | AP@0.5:0.95 | GT boxes | detections |",
        "|---|---|---|---|---|",
    ]
    for name, m in groups.items():
        lines.append(
            f"| {name} | {m['AP@0.5']:.2f} | {m['AP@0.5:0.95']:.2f} | {int(m['gt_boxes'])} | "
            f"{int(m['detections'])} |"
        )
    return "\n".join(lines)


def write_metrics(out_dir: Path, rows: Mapping[str, Mapping[str, float]], extra: dict) -> None:
    """``metrics.json`` (all numbers, with ``extra`` context) and ``metrics.csv`` (the table)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(
        json.dumps({"metrics": rows, **extra}, indent=2, default=float) + "\n"
    )
    with open(out_dir / "metrics.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["split", *METRIC_NAMES])
        for label, metrics in rows.items():
            writer.writerow([label, *(f"{metrics.get(n, float('nan')):.4f}" for n in METRIC_NAMES)])


def write_per_video(path: Path, table: Mapping[str, Mapping[str, float]]) -> None:
    """Per-video CSV sorted by AP@0.5 ascending (worst first)."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["video", "AP@0.5", "AP@0.5:0.95", "gt_boxes", "detections"])
        for video, m in sorted(table.items(), key=lambda kv: kv[1]["AP@0.5"]):
            writer.writerow([video, f"{m['AP@0.5']:.4f}", f"{m['AP@0.5:0.95']:.4f}",
                             int(m["gt_boxes"]), int(m["detections"])])


def pr_curve(scored: ScoredDetections, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(recall, precision) at every TP of the raw PR curve, starting at (0, 1)."""
    ranks = scored.tp_ranks(threshold)
    k = np.arange(1, len(ranks) + 1)
    return np.r_[0.0, k / max(scored.num_gt(), 1)], np.r_[1.0, k / np.maximum(ranks, 1)]


def pr_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], title: str) -> Figure:
    """A matplotlib figure of PR curves, ``{label: (recall, precision)}``, one line each.

    Raises :class:`~iodvideo.plotting.PlotsUnavailableError` without matplotlib."""
    fig = new_figure("PR curves", (5.0, 5.0))
    ax = fig.add_subplot()
    for label, (recall, precision) in curves.items():
        ax.plot(recall, precision, linewidth=1.2, label=label)
    ax.set(xlim=(0.0, 1.0), ylim=(0.0, 1.02), xlabel="recall", ylabel="precision", title=title)
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize="small", ncols=2 if len(curves) > 5 else 1)
    return fig


def write_pr_plots(out_dir: Path, scored: ScoredDetections, prefix: str) -> list[Path]:
    """PR curves of AP@0.5 and AP@0.75 (``<prefix>pr_ap50_ap75``) and of the ten 0.5:0.95
    thresholds (``<prefix>pr_ap50-95``), each as a PNG and a PDF. Without matplotlib: a
    warning that says what to install, nothing written (the metrics do not need it)."""
    written: list[Path] = []
    families = {
        "pr_ap50_ap75": [0.5, 0.75],
        "pr_ap50-95": list(THRESHOLDS_50_95),
    }
    for name, thresholds in families.items():
        curves = {f"IoU {t:g}": pr_curve(scored, t) for t in thresholds if t in scored.tp}
        if not curves:
            continue
        try:
            fig = pr_figure(curves, f"{prefix.rstrip('_')} frame PR, {name[3:]}")
        except PlotsUnavailableError as err:
            warnings.warn(f"PR curves not drawn ({err}; plots=false skips them)", stacklevel=2)
            return written
        written += save_figure(fig, out_dir / f"{prefix}{name}.png")
    return written


def markdown_report(
    rows: Mapping[str, Mapping[str, float]],
    breakdowns: Mapping[str, Mapping[str, Mapping[str, Mapping[str, float]]]],
    tube_ap: Mapping[str, Mapping[str, float]] | None = None,
    notes: Sequence[str] = (),
) -> str:
    """report.md: the five metrics, then the extras, clearly labelled as such."""
    parts = ["# Frame AP (IOD-Video protocol, protocol §9)", "", metrics_table(rows), ""]
    parts += [f"- {n}" for n in notes]
    for split, groups in breakdowns.items():
        parts += ["", f"## Breakdown, {split} (beyond the paper)", ""]
        for key, table in groups.items():
            parts += [group_table(table, key), ""]
    if tube_ap:
        parts += ["", "## Video-level tube AP (extra metric, §9.3 linking; not in the paper)", ""]
        for split, values in tube_ap.items():
            cells = ", ".join(f"{k} {v:.2f}" for k, v in values.items())
            parts.append(f"- {split}: {cells}")
    return "\n".join(parts) + "\n"
