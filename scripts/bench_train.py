"""Training steps per second of the default recipe, as `make train` runs it (not a test).

    .venv/bin/python scripts/bench_train.py [--steps 40] [--warmup 10] [OVERRIDE ...]

Runs ``python -m iodvideo.train`` in a subprocess with the default config and the given Hydra
overrides for ``--steps`` optimizer steps (one epoch of that many batches of on-the-fly SynthIOD
clips; no validation, no checkpoint, no test), with one extra callback that notes the clock at
the end of every step. The rate is taken over the steps after ``--warmup``, so what every run
pays once (imports, building the model, loading the on-disk set, worker start-up, the first
steps' allocations) stays out: it is the recipe's steady rate — rendering in the data workers,
forward, backward and Adam together, at the precision and thread count the training command
chooses on this machine. A lower figure after a change is a regression of `make train`, which
fits a fixed 12.5 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytorch_lightning as pl

from iodvideo.hardware import bench_header, choose_precision

REPO = Path(__file__).resolve().parents[1]
# what a timing run switches off: everything but the fitting steps
QUIET = [
    "trainer.max_time=null",
    "+trainer.limit_val_batches=0",
    "+trainer.enable_progress_bar=false",
    "test_after_fit=false",
    "callbacks.checkpoint=null",
    "callbacks.last_checkpoint=null",
    "callbacks.bn_calibration=null",
    "callbacks.val_images=null",
    "callbacks.progress_bar=null",
]


class StepTimer(pl.Callback):
    """Writes the monotonic clock at the end of every training step to ``path`` (JSON)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.times: list[float] = []

    def on_train_batch_end(self, *args, **kwargs) -> None:
        self.times.append(time.monotonic())

    def on_train_end(self, *args, **kwargs) -> None:
        Path(self.path).write_text(json.dumps(self.times))


def step_times(steps: int, batch_size: int, overrides: list[str], tmp: Path) -> list[float]:
    """The clock at the end of each of ``steps`` optimizer steps of one training command."""
    times = tmp / "steps.json"
    command = [
        sys.executable, "-m", "iodvideo.train", *QUIET, "trainer.max_epochs=1",
        f"data.online.clips_per_epoch={steps * batch_size}", f"hydra.run.dir={tmp / 'run'}",
        "+callbacks.step_timer._target_=bench_train.StepTimer",
        f"+callbacks.step_timer.path={times}", *overrides,
    ]
    path = os.pathsep.join(filter(None, [str(REPO / "scripts"), os.environ.get("PYTHONPATH")]))
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "WANDB_MODE": "offline", "PYTHONPATH": path})
    if done.returncode != 0 or not times.is_file():
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise SystemExit(f"error: the training command failed ({done.returncode}):\n{tail}")
    return json.loads(times.read_text())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="optimizer steps of the run")
    parser.add_argument("--warmup", type=int, default=10, help="first steps left out of the rate")
    parser.add_argument("--batch-size", type=int, default=8,
                        help="data.batch_size of the recipe (conf/data/synth.yaml: 8)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the training command")
    args = parser.parse_args(argv)
    if not 0 < args.warmup < args.steps - 1:
        parser.error("need 0 < --warmup < --steps - 1")
    print(bench_header(str(choose_precision("cpu"))), flush=True)
    with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
        times = step_times(args.steps, args.batch_size,
                           [*args.overrides, f"data.batch_size={args.batch_size}"], Path(tmp))
    timed = times[args.warmup - 1:]
    rate = (len(timed) - 1) / (timed[-1] - timed[0])
    print(f"default recipe{' + ' + ' '.join(args.overrides) if args.overrides else ''}: "
          f"{rate:.2f} steps/s = {rate * args.batch_size:.1f} clips/s (batch {args.batch_size}; "
          f"steps {args.warmup + 1}-{len(times)} of {len(times)}, data workers included)")


if __name__ == "__main__":
    main()
