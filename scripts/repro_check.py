"""Is a seeded training run repeatable here? Run the same command twice and compare (not a test).

    .venv/bin/python scripts/repro_check.py [--steps 30] [OVERRIDE ...]

Runs ``python -m iodvideo.train`` twice with the same seed and overrides for ``--steps``
optimizer steps (one epoch of on-the-fly SynthIOD clips; no validation, checkpoint or test),
logging the loss and the learning rate after every step, and prints the first step at which
the two runs differ in either, and by how much. Run it with ``trainer.max_time=null`` and then
with ``data.num_workers=0``, ``trainer.precision=32`` or ``OMP_NUM_THREADS=1`` to find which
part of a run stops it from repeating (docs/training.md, "Reproducibility").
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # however this file is loaded
from bench_train import QUIET as BENCH_QUIET  # noqa: E402  (scripts/bench_train.py)

REPO = Path(__file__).resolve().parents[1]
# everything but the fitting steps off, as for the speed benchmark, except that the time cap
# stays (the schedule follows it); plus a log line every step
QUIET = [*(o for o in BENCH_QUIET if not o.startswith("trainer.max_time=")),
         "trainer.log_every_n_steps=1", "callbacks.lr_monitor.logging_interval=step"]


def per_step(steps: int, overrides: list[str], run_dir: Path) -> dict[str, list[float]]:
    """train/loss and the learning rate of every step of one training command."""
    command = [sys.executable, "-m", "iodvideo.train", *QUIET, "trainer.max_epochs=1",
               f"data.online.clips_per_epoch={steps * 8}", "data.batch_size=8",
               f"hydra.run.dir={run_dir}", *overrides]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "WANDB_MODE": "offline"})
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise SystemExit(f"error: the training command failed ({done.returncode}):\n{tail}")
    series: dict[str, dict[int, float]] = {"train/loss": {}, "lr-Adam": {}}
    with open(run_dir / "csv" / "metrics.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            for key, values in series.items():
                if row.get(key):
                    values[int(row["step"])] = float(row[key])
    return {key: [values[s] for s in sorted(values)] for key, values in series.items()}


def first_difference(a: list[float], b: list[float]) -> tuple[int | None, float]:
    """The first index where ``a`` and ``b`` differ, and the largest relative difference."""
    first, worst = None, 0.0
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        rel = abs(x - y) / max(abs(x), abs(y), 1e-12)
        if rel > 0 and first is None:
            first = i
        worst = max(worst, rel if math.isfinite(rel) else math.inf)
    return first, worst


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="optimizer steps of each run")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of both runs")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="repro_") as tmp:
        runs = [per_step(args.steps, args.overrides, Path(tmp) / f"run{i}") for i in (1, 2)]
    label = " ".join(args.overrides) or "(default recipe)"
    for key in ("lr-Adam", "train/loss"):
        first, worst = first_difference(runs[0][key], runs[1][key])
        where = "identical" if first is None else f"first differs at logged step {first + 1}"
        print(f"{label} | {key}: {len(runs[0][key])} steps, {where}, "
              f"max relative difference {worst:.2e}")


if __name__ == "__main__":
    main()
