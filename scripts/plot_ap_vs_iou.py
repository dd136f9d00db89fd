"""AP against IoU threshold (0.5 … 0.95) of one or more evaluations, one figure.

    .venv/bin/python scripts/plot_ap_vs_iou.py OUT.png LABEL=EVAL_DIR [LABEL=EVAL_DIR ...]
        [--subset all|clear|vague] [--split "split 1"] [--title "..."] [--vector .pdf|.svg]

Each EVAL_DIR is a ``python -m iodvideo.eval`` output directory (or its ``metrics.json``),
whose ``ap_per_threshold`` holds AP at every threshold of the AP@0.5:0.95 mean. Why a curve
rather than the two numbers: a detector that finds the object but draws a loose box keeps
AP@0.5 and loses everything above 0.7; where the curves part says which one a change helped.
Writes OUT and the same figure in a vector format beside it, and prints the curves as a
markdown table. Drawn with matplotlib (``pip install 'iodvideo[plots]'``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from iodvideo.errors import ConfigError, exit_on_user_error
from iodvideo.plotting import new_figure, save_figure


def read_ap_curve(source: Path, split: str, subset: str) -> dict[float, float]:
    """threshold → AP (percent) of ``subset`` (all | clear | vague) for ``split`` from an eval
    directory or its metrics.json; one clear error when the file lacks them."""
    path = source / "metrics.json" if source.is_dir() else source
    if not path.is_file():
        raise ConfigError(f"{path}: no metrics.json (run python -m iodvideo.eval first)")
    per = json.loads(path.read_text()).get("ap_per_threshold", {})
    if split not in per:
        raise ConfigError(f"{path}: no ap_per_threshold for {split!r} (has {sorted(per)})")
    if subset not in per[split]:
        raise ConfigError(f"{path}: no {subset!r} subset for {split!r} "
                          f"(has {sorted(per[split])})")
    return {float(t): float(v) for t, v in per[split][subset].items()}


def markdown_table(curves: dict[str, dict[float, float]]) -> str:
    """One row per curve, one column per threshold."""
    thresholds = sorted({t for curve in curves.values() for t in curve})
    lines = ["| run | " + " | ".join(f"{t:g}" for t in thresholds) + " |",
             "|---|" + "---|" * len(thresholds)]
    for label, curve in curves.items():
        cells = [f"{curve[t]:.1f}" if t in curve else "" for t in thresholds]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(out: Path, curves: dict[str, dict[float, float]], title: str, vector: str) -> list[Path]:
    fig = new_figure("the AP-against-IoU plot", (5.5, 3.8))
    axis = fig.add_subplot(1, 1, 1)
    for label, curve in curves.items():
        thresholds = sorted(curve)
        axis.plot(thresholds, [curve[t] for t in thresholds], marker="o", label=label)
    axis.set_xlabel("IoU threshold")
    axis.set_ylabel("frame AP (%)")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend()
    return save_figure(fig, out, vector)


def parse_runs(items: list[str]) -> dict[str, Path]:
    runs = {}
    for item in items:
        label, sep, path = item.partition("=")
        if not sep or not label or not path:
            raise ConfigError(f"{item!r}: give each evaluation as LABEL=EVAL_DIR")
        runs[label] = Path(path)
    return runs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("runs", nargs="+", help="LABEL=EVAL_DIR")
    parser.add_argument("--subset", default="all", choices=("all", "clear", "vague"))
    parser.add_argument("--split", default="split 1")
    parser.add_argument("--title", default="AP against IoU threshold")
    parser.add_argument("--vector", default=".pdf")
    args = parser.parse_args(argv)
    with exit_on_user_error():
        curves = {label: read_ap_curve(path, args.split, args.subset)
                  for label, path in parse_runs(args.runs).items()}
        written = plot(args.out, curves, args.title, args.vector)
    print(markdown_table(curves))
    print("wrote " + ", ".join(str(p) for p in written))


if __name__ == "__main__":
    main()
