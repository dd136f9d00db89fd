"""Learning curves of training runs: train loss and validation AP per epoch, one figure.

    .venv/bin/python scripts/plot_learning.py OUT.png LABEL=RUN_DIR [LABEL=RUN_DIR ...]
        [--metric val/frameAP@0.5] [--title "..."] [--wall] [--vector .pdf|.svg]

Each RUN_DIR is a ``python -m iodvideo.train`` run directory (it reads ``csv/metrics.csv``):
the left panel is the mean of the logged ``train/loss`` values of each epoch, the right one
the validation metric at the end of each epoch. ``--wall`` puts wall-clock minutes since the
run started on the x axis instead of epochs: the start is the time ``.hydra/config.yaml`` was
written, an epoch's end the time its checkpoint ``checkpoints/epochNNN.ckpt`` was written (so
the run needs ``callbacks.checkpoint.save_top_k=-1``). Writes OUT and, beside it, the same
figure in a vector format (``--vector``, default ``.pdf``; a PNG when OUT itself is a .pdf or
.svg). Drawn with matplotlib (``pip install 'iodvideo[plots]'``). Also prints the curves as
a markdown table.
"""

from __future__ import annotations

import argparse
import csv
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from iodvideo.errors import exit_on_user_error
from iodvideo.plotting import new_figure, save_figure

Curve = dict[float, float]


def read_metrics_csv(path: Path, metric: str) -> tuple[dict[int, float], dict[int, float]]:
    """(epoch → mean train/loss, epoch → metric) from a Lightning ``metrics.csv``; epochs
    count from 0 as logged."""
    losses: dict[int, list[float]] = defaultdict(list)
    values: dict[int, float] = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            if not row.get("epoch"):
                continue
            epoch = int(float(row["epoch"]))
            if row.get("train/loss"):
                losses[epoch].append(float(row["train/loss"]))
            if row.get(metric):
                values[epoch] = float(row[metric])
    return {e: float(np.mean(v)) for e, v in losses.items()}, values


def read_curves(run: Path, metric: str) -> tuple[dict[int, float], dict[int, float]]:
    """:func:`read_metrics_csv` of ``run/csv/metrics.csv`` (or of ``run`` itself, a CSV file
    such as ``results/learning/*_metrics.csv``), with the epochs that were cut short (a killed
    run, a time cap: no validation) left out of the losses."""
    path = run if run.is_file() else run / "csv" / "metrics.csv"
    loss, values = read_metrics_csv(path, metric)
    return {e: v for e, v in loss.items() if e in values or not values}, values


def epoch_end_minutes(run: Path) -> dict[int, float]:
    """epoch → wall minutes from the run's start to the write of its epoch checkpoint."""
    start = (run / ".hydra" / "config.yaml").stat().st_mtime
    ends = {}
    for ckpt in (run / "checkpoints").glob("epoch*.ckpt"):
        ends[int(ckpt.stem[len("epoch"):])] = (ckpt.stat().st_mtime - start) / 60
    return ends


def learning_figure(losses: dict[str, Curve], metrics: dict[str, Curve], metric: str,
                    title: str = "", x_label: str = "epoch"):
    """Two line charts side by side, ``{label: {x: y}}`` each: the train loss (left) and
    ``metric`` (right), one line with markers per run. A matplotlib Figure."""
    fig = new_figure("learning curves", (11.0, 4.2))
    panels = ((f"{title} train loss (epoch mean)".strip(), losses),
              (f"{metric} (percent)", metrics))
    for ax, (panel_title, curves) in zip(fig.subplots(1, 2), panels, strict=True):
        for label, curve in curves.items():
            xs = sorted(x for x, v in curve.items() if math.isfinite(v))
            ax.plot(xs, [curve[x] for x in xs], marker="o", markersize=3, label=label)
        ax.set(title=panel_title, xlabel=x_label)
        ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
        if x_label == "epoch":
            ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        if curves:
            ax.legend(loc="best", fontsize="small")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the figure: .png, .pdf or .svg")
    parser.add_argument("runs", nargs="+", help="LABEL=RUN_DIR")
    parser.add_argument("--metric", default="val/frameAP@0.5")
    parser.add_argument("--title", default="")
    parser.add_argument("--wall", action="store_true",
                        help="x = wall minutes since the run started (needs every epoch's ckpt)")
    parser.add_argument("--vector", default=".pdf", choices=(".pdf", ".svg"),
                        help="vector format written beside a PNG OUT")
    args = parser.parse_args(argv)
    losses, metrics, minutes = {}, {}, {}
    for spec in args.runs:
        label, run = spec.rsplit("=", 1)  # labels may hold "=", paths do not
        losses[label], metrics[label] = read_curves(Path(run), args.metric)
        minutes[label] = epoch_end_minutes(Path(run)) if args.wall else {}

    def x_of(label: str, curve: dict[int, float]) -> Curve:
        if not args.wall:
            return {e + 1.0: v for e, v in curve.items()}
        return {minutes[label][e]: v for e, v in curve.items() if e in minutes[label]}

    fig = learning_figure({k: x_of(k, c) for k, c in losses.items()},
                          {k: x_of(k, c) for k, c in metrics.items()}, args.metric, args.title,
                          "wall minutes" if args.wall else "epoch")
    written = save_figure(fig, args.out, args.vector)
    print(f"| run | epoch | wall min | train loss | {args.metric} |\n|---|---|---|---|---|")
    for label in losses:
        for epoch in sorted(set(losses[label]) | set(metrics[label])):
            loss, value = losses[label].get(epoch, math.nan), metrics[label].get(epoch, math.nan)
            wall = minutes[label].get(epoch, math.nan)
            print(f"| {label} | {epoch + 1} | {wall:.1f} | {loss:.3f} | {value:.2f} |")
    print("wrote " + ", ".join(str(p) for p in written))


if __name__ == "__main__":
    with exit_on_user_error():
        main()
