"""``python -m iodvideo.eval ckpt=...``: rebuild the model from the checkpoint's config, run
the test clips, decode, merge, score; then re-score the saved detections (same numbers). The
clips are as long as the model asks (TDN: K + 4 frames), and the decoder follows the loss."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from iodvideo.checkpointing import CONFIG_KEY, checkpoint_decode
from iodvideo.config import CONFIG_DIR
from iodvideo.detections.batch import DecodeSettings
from iodvideo.errors import ConfigError

from .helpers import run_eval

SYNTH = "{num_videos: 4, min_frames: 16, max_frames: 16, height: 64, width: 64, seed: 0}"


def _run(*args: str):
    return run_eval(*args, timeout=300)


def _tiny_checkpoint(path: Path, *overrides: str) -> Path:
    """A random-weight detector of the smoke config saved the way training saves it."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["experiment=smoke", "data.root=unused", *overrides])
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    torch.manual_seed(0)
    detector = instantiate(OmegaConf.create(model_cfg))
    torch.save({
        "state_dict": {f"detector.{k}": v for k, v in detector.state_dict().items()},
        CONFIG_KEY: {"model": model_cfg},
    }, path)
    return path


def _data(tmp_path: Path) -> list[str]:
    return [f"data.root={tmp_path / 'synth'}", "data.input_size=64", "data.num_workers=0",
            "data.eval_batch_size=8", f"data.synth={SYNTH}"]


def test_ckpt_mode_end_to_end(tmp_path: Path) -> None:
    ckpt = _tiny_checkpoint(tmp_path / "model.ckpt")
    data = _data(tmp_path)
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


def test_a_tdn_checkpoint_evaluates_with_its_context_frames(tmp_path: Path) -> None:
    """Regression: TDN reads K + 4 frames; eval used to build K-frame clips and fail deep in
    the detector with "expected clips of 8 frames, got 4"."""
    from iodvideo.eval import evaluate

    ckpt = _tiny_checkpoint(tmp_path / "tdn.ckpt", "backbone=tdn")
    out = tmp_path / "eval"
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("eval", overrides=[f"ckpt={ckpt}", "data=synth", *_data(tmp_path),
                                         f"output_dir={out}", "plots=false",
                                         "breakdown=false", "save_detections=false",
                                         "workers=1", "tube_ap=true"])
    rows = evaluate(cfg)
    assert 0.0 <= rows["split 1"]["AP@0.5"] <= 100.0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["counts"]["split 1"]["detections"] > 0
    assert set(metrics["video_tube_ap_extra"]["split 1"]) == {
        "videoAP@0.2", "videoAP@0.5", "videoAP@0.75"}


def test_checkpoint_decoder_follows_the_training_loss() -> None:
    unset = {"mode": None, "top_n": 100, "offset_scale": None}
    sta = checkpoint_decode(unset, {"loss": {"sta": True, "offset_scale": 12.0}})
    assert sta == DecodeSettings("sta", 100, 12.0)
    assert checkpoint_decode(unset, {"loss": {"sta": False}}).mode == "mov"
    validated = {"evaluation": {"sta": False, "offset_scale": 9.0}, "loss": {"sta": True}}
    assert checkpoint_decode(unset, validated) == DecodeSettings("mov", 100, 9.0)
    chosen = {"mode": "mov", "top_n": 5, "offset_scale": 3.0}
    assert checkpoint_decode(chosen, {"loss": {"sta": True}}) == DecodeSettings("mov", 5, 3.0)


def test_checkpoint_decoder_sizes_follow_the_checkpoint_else_frame() -> None:
    unset = {"mode": None, "top_n": 100, "offset_scale": None, "sizes": None}
    assert checkpoint_decode(unset, {"loss": {"sta": False}}).sizes == "frame"  # older/original
    clip = {"evaluation": {"sta": False, "sizes": "clip"}}
    assert checkpoint_decode(unset, clip).sizes == "clip"
    assert checkpoint_decode({**unset, "sizes": "frame"}, clip).sizes == "frame"
    with pytest.raises(ConfigError, match="decode.sizes must be 'frame' or 'clip'"):
        checkpoint_decode({**unset, "sizes": "median"}, clip)
