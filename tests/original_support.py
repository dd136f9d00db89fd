"""The original code's checkpoints, rebuilt from ``../shared/fixtures/reference-checkpoints``:
the manifest of each backbone's state dict, its weight rule and the original's outputs on one
clip. Files are written the way the original training script writes them."""

from __future__ import annotations

import importlib.util
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get(
    "IODVIDEO_REFERENCE_CHECKPOINTS",
    REPO_ROOT.parent / "shared" / "fixtures" / "reference-checkpoints"))
ARCHS = ("resnet", "tsm", "tin", "tam", "tea", "tdn", "msnet", "i3d", "s3d")
HEADS = ("hm", "wh", "mov", "sta")
TOLERANCE = 1e-4  # relative max difference, float32


def fixtures_dir() -> Path:
    if not (FIXTURES / "README.md").is_file():
        pytest.fail(f"reference-checkpoint fixtures not found in {FIXTURES}; "
                    "set IODVIDEO_REFERENCE_CHECKPOINTS")
    return FIXTURES


@cache
def manifest(arch: str) -> dict[str, Any]:
    return json.loads((fixtures_dir() / f"{arch}.json").read_text())


@cache
def _weight_rule() -> Any:
    spec = importlib.util.spec_from_file_location("reference_weights",
                                                  fixtures_dir() / "weights.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reference_state_dict


def reference_state(arch: str, seed: int | None = None) -> dict[str, torch.Tensor]:
    """The original detector's state dict under the fixtures' weight rule (the manifest's
    seed unless another is given)."""
    info = manifest(arch)
    return _weight_rule()(info["keys"], info["weights_seed"] if seed is None else seed)


def reference_io(arch: str) -> dict[str, torch.Tensor]:
    return torch.load(fixtures_dir() / f"{arch}_io.pt", map_location="cpu", weights_only=True)


def save_original(path: Path, state: dict[str, torch.Tensor], module_prefix: bool = False,
                  optimizer: bool = False, epoch: int = 12) -> Path:
    """``torch.save`` as the original training script does (optionally under DataParallel's
    ``module.`` prefix, and with an Adam state the way it stores one)."""
    if module_prefix:
        state = {f"module.{k}": v for k, v in state.items()}
    ckpt: dict[str, Any] = {"epoch": epoch, "best": 0.0, "state_dict": state}
    if optimizer:
        tensors = [v for v in state.values() if v.is_floating_point()][:3]
        ckpt["optimizer"] = {
            "state": {i: {"step": torch.tensor(5.0), "exp_avg": torch.zeros_like(t),
                          "exp_avg_sq": torch.zeros_like(t)} for i, t in enumerate(tensors)},
            "param_groups": [{"lr": 5e-4, "betas": (0.9, 0.999), "eps": 1e-8,
                              "weight_decay": 0, "amsgrad": False,
                              "params": list(range(len(tensors)))}],
        }
    torch.save(ckpt, path)
    return path


def relative_max_difference(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    return float((ours.float() - theirs.float()).abs().max() / theirs.float().abs().max())
