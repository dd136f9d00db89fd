"""Learning curves of training runs: train loss and validation AP per epoch, one PNG.

    .venv/bin/python scripts/plot_learning.py OUT.png LABEL=RUN_DIR [LABEL=RUN_DIR ...]
        [--metric val/frameAP@0.5] [--title "..."] [--wall]

Each RUN_DIR is a ``python -m iodvideo.train`` run directory (it reads ``csv/metrics.csv``):
the left panel is the mean of the logged ``train/loss`` values of each epoch, the right one
the validation metric at the end of each epoch. ``--wall`` puts wall-clock minutes since the
run started on the x axis instead of epochs: the start is the time ``.hydra/config.yaml`` was
written, an epoch's end the time its checkpoint ``checkpoints/epochNNN.ckpt`` was written (so
the run needs ``callbacks.checkpoint.save_top_k=-1``). Drawn with OpenCV (matplotlib is not a
dependency). Also prints the curves as a markdown table.
"""

from __future__ import annotations

import argparse
import csv
import math
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

COLOURS = [(180, 119, 31), (14, 127, 255), (44, 160, 44), (40, 39, 214), (189, 103, 148),
           (75, 86, 140), (194, 119, 227), (127, 127, 127)]


def read_curves(run: Path, metric: str) -> tuple[dict[int, float], dict[int, float]]:
    """(epoch → mean train/loss, epoch → metric) from ``run/csv/metrics.csv``."""
    losses: dict[int, list[float]] = defaultdict(list)
    values: dict[int, float] = {}
    with open(run / "csv" / "metrics.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if not row.get("epoch"):
                continue
            epoch = int(float(row["epoch"]))
            if row.get("train/loss"):
                losses[epoch].append(float(row["train/loss"]))
            if row.get(metric):
                values[epoch] = float(row[metric])
    return {e: float(np.mean(v)) for e, v in losses.items()}, values


def epoch_end_minutes(run: Path) -> dict[int, float]:
    """epoch → wall minutes from the run's start to the write of its epoch checkpoint."""
    start = (run / ".hydra" / "config.yaml").stat().st_mtime
    ends = {}
    for ckpt in (run / "checkpoints").glob("epoch*.ckpt"):
        ends[int(ckpt.stem[len("epoch"):])] = (ckpt.stat().st_mtime - start) / 60
    return ends


def panel(curves: dict[str, dict[float, float]], title: str, size: tuple[int, int],
          x_label: str = "epoch") -> np.ndarray:
    """One line chart of ``{label: {x: y}}``, a legend in the upper left."""
    width, height = size
    margin = 55
    image = np.full((height, width, 3), 255, np.uint8)
    points = [(x, v) for c in curves.values() for x, v in c.items() if math.isfinite(v)]
    if not points:
        return image
    x_lo = 1.0 if x_label == "epoch" else 0.0
    x_hi = max(max(x for x, _ in points), x_lo + 1)
    y_lo, y_hi = min(0.0, min(v for _, v in points)), max(v for _, v in points) * 1.05 or 1.0

    def to_px(x_value: float, value: float) -> tuple[int, int]:
        x = margin + (x_value - x_lo) / (x_hi - x_lo) * (width - 2 * margin)
        y = height - margin - (value - y_lo) / (y_hi - y_lo) * (height - 2 * margin)
        return int(round(x)), int(round(y))

    for tick in np.linspace(y_lo, y_hi, 6):
        y = to_px(x_lo, tick)[1]
        cv2.line(image, (margin, y), (width - margin, y), (230, 230, 230), 1)
        cv2.putText(image, f"{tick:.2f}", (5, y + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1)
    step = 1 if x_label == "epoch" else 10 if x_hi > 20 else 5
    for tick in np.arange(x_lo, x_hi + 1e-9, step):
        x = to_px(tick, y_lo)[0]
        cv2.putText(image, f"{tick:g}", (x - 4, height - margin + 18),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1)
    cv2.rectangle(image, (margin, margin), (width - margin, height - margin), (0, 0, 0), 1)
    for i, (label, curve) in enumerate(curves.items()):
        colour = COLOURS[i % len(COLOURS)]
        pts = np.array([to_px(x, v) for x, v in sorted(curve.items()) if math.isfinite(v)])
        if len(pts):
            cv2.polylines(image, [pts.reshape(-1, 1, 2)], False, colour, 2, cv2.LINE_AA)
            for p in pts:
                cv2.circle(image, tuple(int(c) for c in p), 3, colour, -1, cv2.LINE_AA)
        cv2.putText(image, label, (margin + 8, margin + 18 + 17 * i), cv2.FONT_HERSHEY_SIMPLEX,
                    0.42, colour, 1, cv2.LINE_AA)
    cv2.putText(image, title, (margin, margin - 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    cv2.putText(image, x_label, (width // 2 - 20, height - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                (0, 0, 0), 1)
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("runs", nargs="+", help="LABEL=RUN_DIR")
    parser.add_argument("--metric", default="val/frameAP@0.5")
    parser.add_argument("--title", default="")
    parser.add_argument("--wall", action="store_true",
                        help="x = wall minutes since the run started (needs every epoch's ckpt)")
    args = parser.parse_args()
    losses, metrics, minutes = {}, {}, {}
    for spec in args.runs:
        label, run = spec.rsplit("=", 1)  # labels may hold "=", paths do not
        loss, metric = read_curves(Path(run), args.metric)
        # epochs cut short (a killed run, a time cap) have no validation: leave them out
        losses[label] = {e: v for e, v in loss.items() if e in metric or not metric}
        metrics[label] = metric
        minutes[label] = epoch_end_minutes(Path(run)) if args.wall else {}

    def x_of(label: str, curve: dict[int, float]) -> dict[float, float]:
        if not args.wall:
            return {e + 1.0: v for e, v in curve.items()}
        return {minutes[label][e]: v for e, v in curve.items() if e in minutes[label]}

    x_label = "wall minutes" if args.wall else "epoch"
    left = panel({k: x_of(k, c) for k, c in losses.items()},
                 f"{args.title} train loss (epoch mean)".strip(), (560, 420), x_label)
    right = panel({k: x_of(k, c) for k, c in metrics.items()}, f"{args.metric} (percent)",
                  (560, 420), x_label)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), np.hstack((left, right)))
    print(f"| run | epoch | wall min | train loss | {args.metric} |\n|---|---|---|---|---|")
    for label in losses:
        for epoch in sorted(set(losses[label]) | set(metrics[label])):
            loss, value = losses[label].get(epoch, math.nan), metrics[label].get(epoch, math.nan)
            wall = minutes[label].get(epoch, math.nan)
            print(f"| {label} | {epoch + 1} | {wall:.1f} | {loss:.3f} | {value:.2f} |")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
