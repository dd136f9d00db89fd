"""Evaluation reports: terminal/markdown table, metrics.json, metrics.csv, report.md, per-video
CSV and PR-curve PNGs (drawn with OpenCV, a dependency already; matplotlib is not)."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from iodvideo.evaluation.metrics import METRIC_NAMES, THRESHOLDS_50_95
from iodvideo.evaluation.scored import ScoredDetections


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


_COLOURS = [(180, 119, 31), (14, 127, 255), (44, 160, 44), (40, 39, 214), (189, 103, 148),
            (75, 86, 140), (194, 119, 227), (127, 127, 127), (34, 189, 188), (207, 190, 23)]


def plot_pr(path: Path, curves: Mapping[str, tuple[np.ndarray, np.ndarray]], title: str) -> bool:
    """Draw PR curves into a PNG with OpenCV; False if OpenCV is unavailable."""
    try:
        import cv2
    except ImportError:  # pragma: no cover - opencv-python-headless is a dependency
        return False
    size, margin = 640, 60
    image = np.full((size, size, 3), 255, dtype=np.uint8)
    inner = size - 2 * margin

    def to_px(r: np.ndarray, p: np.ndarray) -> np.ndarray:
        x = margin + np.clip(r, 0, 1) * inner
        y = size - margin - np.clip(p, 0, 1) * inner
        return np.stack((x, y), axis=1).round().astype(np.int32)

    for tick in np.linspace(0, 1, 6):
        a = to_px(np.array([tick, tick]), np.array([0.0, 1.0]))
        b = to_px(np.array([0.0, 1.0]), np.array([tick, tick]))
        cv2.line(image, tuple(a[0]), tuple(a[1]), (230, 230, 230), 1)
        cv2.line(image, tuple(b[0]), tuple(b[1]), (230, 230, 230), 1)
        cv2.putText(image, f"{tick:.1f}", (int(a[0][0]) - 12, size - margin + 20),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
        cv2.putText(image, f"{tick:.1f}", (margin - 40, int(b[0][1]) + 4),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    cv2.rectangle(image, (margin, margin), (size - margin, size - margin), (0, 0, 0), 1)
    for i, (label, (recall, precision)) in enumerate(curves.items()):
        step = max(1, len(recall) // 4000)
        pts = to_px(recall[::step], precision[::step])
        colour = _COLOURS[i % len(_COLOURS)]
        cv2.polylines(image, [pts.reshape(-1, 1, 2)], False, colour, 1, cv2.LINE_AA)
        cv2.putText(image, label, (size - margin - 150, margin + 18 + 16 * i),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
    cv2.putText(image, title, (margin, margin - 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1)
    cv2.putText(image, "recall", (size // 2 - 20, size - 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                (0, 0, 0), 1)
    cv2.putText(image, "precision", (5, margin - 35), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    return bool(cv2.imwrite(str(path), image))


def write_pr_plots(out_dir: Path, scored: ScoredDetections, prefix: str) -> list[Path]:
    """Two PNGs: AP@0.5 and AP@0.75 curves, and the ten 0.5:0.95 curves."""
    written = []
    families = {
        "pr_ap50_ap75": [0.5, 0.75],
        "pr_ap50-95": list(THRESHOLDS_50_95),
    }
    for name, thresholds in families.items():
        curves = {f"IoU {t:g}": pr_curve(scored, t) for t in thresholds if t in scored.tp}
        path = out_dir / f"{prefix}{name}.png"
        if curves and plot_pr(path, curves, f"{prefix.rstrip('_')} frame PR, {name[3:]}"):
            written.append(path)
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
