"""``python -m iodvideo.eval detections=<dir>`` end to end on a tiny hand-built case."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from iodvideo.evaluation.detections_io import save_detections

from .helpers import run_eval, tube, write_annotations

CLEAR, VAGUE = "TrueLeakedGas/001_valve_static_clear", "TrueLeakedGas/002_wild_dynamic_vague"


def _run(*args: str):
    return run_eval(*args, timeout=120)


def test_eval_cli_scores_a_detection_directory(tmp_path: Path) -> None:
    tubes = {CLEAR: tube(5), VAGUE: tube(4, (100.0, 60.0, 170.0, 150.0))}
    pkl = write_annotations(tmp_path / "ann.pkl", tubes, test=[[CLEAR, VAGUE]])
    dets = {  # clear: perfect; vague: every box shifted by 30 px (IoU < 0.5): all FPs
        CLEAR: np.column_stack((tubes[CLEAR], np.full(5, 0.9))),
        VAGUE: np.column_stack((tubes[VAGUE] + [0, 30, 0, 30, 0], np.full(4, 0.95))),
    }
    save_detections(tmp_path / "dets", dets)
    out = tmp_path / "out"
    proc = _run(f"detections={tmp_path / 'dets'}", f"data.annotations={pkl}", "split=1",
                f"output_dir={out}")
    assert proc.returncode == 0, proc.stderr
    assert "AP@0.5:0.95" in proc.stdout
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]["split 1"]
    # Four FPs outrank five TPs: recall 5/9 reached at precision 5/9.
    assert metrics["AP@clear"] == pytest.approx(100.0)
    assert metrics["AP@vague"] == pytest.approx(0.0)
    ranks = np.arange(5, 10)
    k = np.arange(1, 6)
    expected = np.sum((1 / 9) * (k / ranks + (k - 1) / (ranks - 1)) / 2) * 100
    assert metrics["AP@0.5"] == pytest.approx(expected)
    for name in ("metrics.csv", "report.md", "per_video_split1.csv"):
        assert (out / name).is_file()

    bad = tmp_path / "bad"
    save_detections(bad, {"TrueLeakedGas/999_x_static_clear": dets[CLEAR]})
    proc = _run(f"detections={bad}", f"data.annotations={pkl}", "split=1", f"output_dir={out}")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error:") and "999_x_static_clear" in proc.stderr
