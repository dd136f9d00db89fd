"""Turn a Hydra multirun directory into paper-style result tables.

    python scripts/collect.py multirun/train/<time> [--out DIR] [--metrics val/frameAP@0.5 ...]

Reads every ``metrics.json`` that ``python -m iodvideo.train`` wrote into its job directories,
groups the runs by their settings (backbone, loss, K, ζ², ... — everything but the split and
the seed), and averages each metric over the splits, like the paper's "avg" rows; where a
group has several splits the markdown cell also gives their min–max spread
(``52.83 [51.18–55.50]``) and results.csv has ``<metric> min`` / ``<metric> max`` columns. Writes
``results.md`` (markdown table), ``results.csv`` (same rows) and ``runs.csv`` (one row per
job) into ``--out`` (default: the multirun directory) and prints the markdown table. Runs
whose metric is missing (no validation) are listed but not averaged. A line under the table
gives the number of jobs and their summed wall time (``wall_s``), and one line names each job
that diverged (a non-finite loss; ``diverged`` in its metrics.json). Exit status 2 with one
``error:`` line when the directory holds no metrics file.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

METRICS_FILE = "metrics.json"
# settings a table row is keyed by, in column order; split/seed are averaged over
GROUP_KEYS = ("experiment", "backbone", "backbone_model", "sta", "motion_input", "legacy_layout",
              "clip_len", "zeta_sq", "input_size")
AVERAGED_KEYS = ("split", "seed")


def load_runs(root: Path) -> list[dict[str, Any]]:
    """Every job's metrics.json below ``root``, with its directory, sorted by path."""
    runs = []
    for path in sorted(root.rglob(METRICS_FILE)):
        record = json.loads(path.read_text())
        record["run_dir"] = str(path.parent.relative_to(root))
        runs.append(record)
    return runs


def metric_names(runs: list[dict[str, Any]], wanted: list[str] | None) -> list[str]:
    if wanted:
        return wanted
    names = {
        k for run in runs for k in run.get("metrics", {})
        if k.startswith(("val/", "test/")) and not k.endswith("/num_clips")
    }
    return sorted(names)


def varying(runs: list[dict[str, Any]], keys: tuple[str, ...]) -> list[str]:
    """The keys whose value differs between runs (plus backbone and sta, always shown)."""
    shown = []
    for key in keys:
        values = {json.dumps(run["config"].get(key)) for run in runs}
        if len(values) > 1 or key in ("backbone", "sta"):
            shown.append(key)
    return shown


def _mean(values: list[float | None]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite or len(finite) != len(values):
        return None
    return sum(finite) / len(finite)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _label(key: str, value: Any) -> str:
    if value is None:  # e.g. a metrics.json written before the key existed
        return "-"
    if key == "sta":
        return "STAloss" if value else "MOV"
    if key == "motion_input":
        return "motion" if value else "plain"
    if key == "legacy_layout":
        return "legacy" if value else "clean"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def summarise(
    runs: list[dict[str, Any]], metrics: list[str]
) -> tuple[list[str], list[list[str]], list[list[str]]]:
    """Header, markdown rows and CSV rows: one row per settings group, each metric averaged
    over the group's splits; with several splits the markdown cell adds the min–max spread
    and the CSV row has min and max columns after the means."""
    keys = varying(runs, GROUP_KEYS)
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        groups[tuple(json.dumps(run["config"].get(k)) for k in keys)].append(run)
    header = [*keys, "splits", *metrics]
    table_rows, csv_rows = [], []
    for _, members in sorted(groups.items()):
        config = members[0]["config"]
        splits = sorted({m["config"].get("split") for m in members})
        if len(splits) < len(members):  # e.g. a rerun into the same folder under a new name
            print(f"warning: {' '.join(_label(k, config.get(k)) for k in keys)}: "
                  f"{len(members)} runs over {len(splits)} split(s); all are averaged",
                  file=sys.stderr)
        row = [_label(k, config.get(k)) for k in keys]
        row.append(",".join(str(s) for s in splits))
        cells, means, spreads = [], [], []
        for name in metrics:
            values = [m.get("metrics", {}).get(name) for m in members]
            mean = _mean(values)
            low, high = (None, None) if mean is None else (min(values), max(values))
            text = _number(mean)
            if mean is not None and len(values) > 1:
                text += f" [{low:.2f}–{high:.2f}]"
            cells.append(text)
            means.append(_number(mean))
            spreads += [_number(low), _number(high)]
        table_rows.append(row + cells)
        csv_rows.append(row + means + spreads)
    return header, table_rows, csv_rows


def csv_header(header: list[str], metrics: list[str]) -> list[str]:
    """results.csv's columns: the table's, then ``<metric> min`` and ``<metric> max``."""
    return header + [f"{name} {end}" for name in metrics for end in ("min", "max")]


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def wall_note(runs: list[dict[str, Any]]) -> str:
    """One line under the table: how many jobs, and their wall time (``wall_s`` in
    metrics.json: data, fitting and test of each job; jobs that ran at the same time overlap,
    so the sum is machine time, not the sweep's duration)."""
    walls = [run["wall_s"] for run in runs if isinstance(run.get("wall_s"), int | float)]
    if not walls:
        return ""
    unknown = len(runs) - len(walls)
    return (f"\n{len(runs)} runs; job wall time {sum(walls) / 60:.1f} min in all"
            + (f" ({unknown} without wall_s)" if unknown else "")
            + f", {min(walls) / 60:.1f}–{max(walls) / 60:.1f} min per job.\n")


def diverged_note(runs: list[dict[str, Any]]) -> str:
    """One line per job that stopped on a non-finite loss (its row shows "-": a mean over the
    splits that finished would hide the failure)."""
    lines = [f"diverged: {run['run_dir']}: {run['diverged']}" for run in runs
             if run.get("diverged")]
    return "".join(f"\n{line}\n" for line in lines)


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("multirun_dir", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: input)")
    parser.add_argument("--metrics", nargs="*", default=None,
                        help="metric names (default: every val/* metric found)")
    args = parser.parse_args(argv)
    root = args.multirun_dir
    runs = load_runs(root) if root.is_dir() else []
    if not runs:
        print(f"error: {root}: no {METRICS_FILE} found (is it a `python -m iodvideo.train -m` "
              "output directory?)", file=sys.stderr)
        return 2
    metrics = metric_names(runs, args.metrics)
    header, table_rows, csv_rows = summarise(runs, metrics)
    out = args.out or root
    out.mkdir(parents=True, exist_ok=True)
    table = markdown(header, table_rows) + wall_note(runs) + diverged_note(runs)
    (out / "results.md").write_text(table)
    write_csv(out / "results.csv", csv_header(header, metrics), csv_rows)
    per_run_header = ["run_dir", *GROUP_KEYS, *AVERAGED_KEYS, "wall_s", *metrics]
    per_run = [
        [run["run_dir"], *(run["config"].get(k) for k in (*GROUP_KEYS, *AVERAGED_KEYS)),
         run.get("wall_s"), *(run.get("metrics", {}).get(m) for m in metrics)]
        for run in runs
    ]
    write_csv(out / "runs.csv", per_run_header, per_run)
    print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
