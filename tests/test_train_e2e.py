"""The real entry point, end to end, on a tiny SynthIOD set (seconds, CPU)."""

import csv
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # every test runs the training CLI in a subprocess


def _run(*overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"}
    return subprocess.run(
        [sys.executable, "-m", "iodvideo.train", *overrides],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )


def test_train_generates_synthiod_trains_and_reports_frame_ap(tmp_path):
    run_dir = tmp_path / "run"
    result = _run(
        "experiment=smoke", f"data.root={tmp_path / 'synth'}", f"hydra.run.dir={run_dir}",
        "trainer.limit_train_batches=2",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "synth" / "TrueLeakedGas.pkl").exists()
    match = re.search(
        r"val/frameAP@0\.5 on split 1 validation videos \(1 held-out training videos\): "
        r"([-\d.]+|nan)", result.stdout)
    assert match, result.stdout[-2000:]
    ap = float(match.group(1))
    assert math.isfinite(ap) and 0.0 <= ap <= 100.0
    # the test videos are scored once, with the checkpoint chosen on validation
    test = re.search(r"test on split 1 \(1 videos, epoch000\.ckpt chosen on validation\): "
                     r"AP@0\.5 ([-\d.]+)", result.stdout)
    assert test, result.stdout[-2000:]
    assert 0.0 <= float(test.group(1)) <= 100.0
    assert "precision: " in result.stdout and "memory format: " in result.stdout
    checkpoints = list((run_dir / "checkpoints").glob("*.ckpt"))
    assert any(c.name == "last.ckpt" for c in checkpoints) and len(checkpoints) >= 2
    rows = list(csv.DictReader(open(run_dir / "csv" / "metrics.csv")))
    logged = [float(r["val/frameAP@0.5"]) for r in rows if r.get("val/frameAP@0.5")]
    assert logged and math.isclose(logged[-1], ap, abs_tol=0.01)
    assert any(r.get("train/loss") for r in rows)


def test_resume_from_last_checkpoint(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    common = (
        "experiment=smoke", f"data.root={tmp_path / 'synth'}", "trainer.limit_train_batches=1"
    )
    assert _run(*common, f"hydra.run.dir={first}").returncode == 0
    last = first / "checkpoints" / "last.ckpt"
    result = _run(*common, "trainer.max_epochs=2", f"ckpt_path={last}", f"hydra.run.dir={second}")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = list(csv.DictReader(open(second / "csv" / "metrics.csv")))
    epochs = {int(float(r["epoch"])) for r in rows if r.get("epoch") and r.get("val/frameAP@0.5")}
    assert epochs == {1}  # epoch 0 came from the checkpoint, only epoch 1 ran


def test_missing_data_root_is_one_clear_line(tmp_path):
    missing = tmp_path / "nowhere"
    result = _run("data=iodvideo", f"data.root={missing}", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 2
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert str(missing) in lines[0] and "python -m iodvideo.synth" in lines[0]
    assert "Traceback" not in result.stderr
