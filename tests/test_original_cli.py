"""The four CLIs take the authors' original checkpoint files as they take ours: predict and
export in a subprocess, monitor in process, and eval scoring a small IOD-Video-layout tree
with the published figures of a released model beside ours (the commands of
docs/original-checkpoints.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_support import COMMON, VIDEO, base_config, run_module
from original_support import manifest, reference_state, save_original

pytestmark = pytest.mark.slow


FRAMES = 10  # a ResNet-50 at 288 px is slow on a CPU: 3 clips of K = 8 per video


@pytest.fixture(scope="module")
def short_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small IOD-Video-layout tree (SynthIOD writes the real dataset's layout)."""
    from iodvideo.data.synth import SynthConfig, generate_synthiod

    root = tmp_path_factory.mktemp("short") / "TLGDM"
    generate_synthiod(root, SynthConfig(**{**COMMON, "min_frames": FRAMES,
                                           "max_frames": FRAMES}))
    return root


@pytest.fixture(scope="module")
def short_video(short_root: Path) -> Path:
    return short_root / "Videos" / f"{VIDEO}.avi"


@pytest.fixture(scope="module")
def tsm_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("original")
    return save_original(where / "TSM_MOV_K8S1_model_last.pth", reference_state("tsm"),
                         module_prefix=True, optimizer=True)


def test_predict_runs_an_original_file(tsm_file: Path, short_video: Path, tmp_path: Path) -> None:
    out = tmp_path / "predict"
    proc = run_module("iodvideo.predict", f"ckpt={tsm_file}", f"input={short_video}",
                      "progress=false", "render.gif=false", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    total = len(manifest("tsm")["keys"])
    assert f"{total}/{total} tensors mapped, 0 missing, 0 unexpected" in proc.stdout + proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["backbone"] == "tsm" and summary["frames"] == FRAMES
    assert len((out / "detections.csv").read_text().splitlines()) == FRAMES + 1


def test_monitor_runs_an_original_file(tsm_file: Path, short_video: Path, tmp_path: Path) -> None:
    from iodvideo.monitor import monitor

    cfg = base_config("monitor", tmp_path, ckpt=str(tsm_file), source=str(short_video),
                      max_frames=FRAMES)
    summary = monitor(cfg)
    assert summary["frames"] == FRAMES
    lines = (tmp_path / "detections.jsonl").read_text().splitlines()
    assert [json.loads(x)["frame"] for x in lines] == list(range(1, FRAMES + 1))


def test_export_records_the_original(tsm_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    proc = run_module("iodvideo.export", f"ckpt={tsm_file}", "format=torchscript",
                      f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads((out / "export.json").read_text())
    assert record["ok"] and record["input"]["shape"][-1] == 288
    assert record["original"]["arch"] == "tsm"
    assert record["decoding"] == {"mode": "mov", "offset_scale": 18.0, "sizes": "frame"}


def test_eval_scores_a_released_model_beside_the_published_figures(
        short_root: Path, tmp_path: Path) -> None:
    tea = save_original(tmp_path / "TEA_STA_K8S1_model_last.pth", reference_state("tea"),
                        module_prefix=True)
    out = tmp_path / "eval"
    proc = run_module("iodvideo.eval", f"ckpt={tea}", "data=iodvideo",
                      f"data.root={short_root}", "split=1", "data.num_workers=0",
                      "plots=false", "breakdown=false", f"output_dir={out}", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| split 1 |" in proc.stdout
    assert "| published split 1 | 45.69 | 9.15 | 23.08 | 11.92 | 16.89 |" in proc.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["published"]["published split 1"]["AP@0.5"] == 45.69
    assert metrics["counts"]["split 1"]["detections"] > 0
