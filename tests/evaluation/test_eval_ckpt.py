"""``python -m iodvideo.eval ckpt=...``: rebuild the model from the checkpoint's config, run
the test clips, decode, merge, score; then re-score the saved detections (same numbers)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from iodvideo.config import CONFIG_DIR
from iodvideo.lightning_module import CONFIG_KEY

from .helpers import run_eval

SYNTH = "{num_videos: 4, min_frames: 16, max_frames: 16, height: 64, width: 64, seed: 0}"


def _run(*args: str):
    return run_eval(*args, timeout=300)


def test_ckpt_mode_end_to_end(tmp_path: Path) -> None:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["experiment=smoke", f"data.root={tmp_path / 'synth'}"])
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    torch.manual_seed(0)
    detector = instantiate(OmegaConf.create(model_cfg))
    ckpt = tmp_path / "model.ckpt"
    torch.save({
        "state_dict": {f"detector.{k}": v for k, v in detector.state_dict().items()},
        CONFIG_KEY: {"model": model_cfg},
    }, ckpt)
    data = [f"data.root={tmp_path / 'synth'}", "data.input_size=64", "data.num_workers=0",
            "data.eval_batch_size=8", f"data.synth={SYNTH}"]
    out = tmp_path / "eval"
    proc = _run(f"ckpt={ckpt}", "data=synth", *data, f"output_dir={out}", "plots=false")
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    counts = metrics["counts"]["split 1"]
    assert counts["detections"] > 0 and counts["gt_boxes"] > 0
    saved = out / "detections" / "split1"
    assert any(saved.rglob("*.npy"))

    again = tmp_path / "again"
    proc = _run(f"detections={saved}", "data=synth", *data, f"output_dir={again}",
                "plots=false", "breakdown=false")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((again / "metrics.json").read_text())["metrics"] == metrics["metrics"]

    bad = tmp_path / "bad.ckpt"
    torch.save({"state_dict": {}}, bad)
    proc = _run(f"ckpt={bad}", "data=synth", *data, f"output_dir={out}")
    assert proc.returncode == 2 and "no training config" in proc.stderr
