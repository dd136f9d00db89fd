"""What the CLI and stream tests share: the repository, tiny SynthIOD settings, running an
entry point in a subprocess, and checkpoints built from a composed config with random weights
(in the format training writes: config inside, ``detector.`` weights — all ``load_detector``
reads). The session fixtures built from these live in tests/conftest.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
VIDEO = "TrueLeakedGas/001_factory_static_clear"
# clean scenes: a static camera, no distractors and none of the recording effects that move
# pixels between frames (gain control, shake, compression, workers beside the source)
COMMON = dict(num_videos=3, min_frames=40, max_frames=40, height=64, width=80,
              clear_fraction=1.0, distractors=0.0, text_overlay=0.0, dynamic_fraction=0.0,
              camera_shift=0.0, workers=0.0, agc=0.0, shake=0.0, compression=0.0,
              video_format="avi", seed=3)


def run_module(module: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def built_checkpoint(path: Path, backbone: str, *overrides: str) -> Path:
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from iodvideo.checkpointing import CONFIG_KEY
    from iodvideo.config import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["experiment=smoke", f"backbone={backbone}",
                                          "data.root=unused", *overrides])
    config = {k: OmegaConf.to_container(cfg[k], resolve=True)
              for k in ("model", "data", "evaluation", "loss", "backbone")}
    torch.manual_seed(0)
    detector = instantiate(OmegaConf.create(config["model"]))
    with torch.no_grad():  # BN statistics away from 0/1 so that eval mode is not trivial
        for m in detector.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    torch.save({"state_dict": {f"detector.{k}": v for k, v in detector.state_dict().items()},
                CONFIG_KEY: config}, path)
    return path


def base_config(name: str, out: Path, **values):
    """``conf/<name>.yaml`` with ``output_dir`` and ``values`` set, for in-process calls."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(REPO / "conf" / f"{name}.yaml")
    cfg.pop("hydra", None)
    cfg.pop("defaults", None)
    cfg.output_dir = str(out)
    for key, value in values.items():
        OmegaConf.update(cfg, key, value, merge=False)
    return cfg

