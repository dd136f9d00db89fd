"""Fixture of the monitor page tests: a tiny checkpoint that alarms on cue (the HTTP helpers
are in tests/serve_support.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cli_support import built_checkpoint


@pytest.fixture(scope="session")
def fixed_box_ckpt(work: Path) -> Path:
    """A random-init TSM checkpoint (smoke scale) whose output convolutions are switched off:
    the heatmap is a constant 0.88 and the boxes a constant size, so the best box stays in
    one place and, with ``max_boxes=1``, the monitor raises exactly one alarm once
    ``alarm.on_seconds`` have passed and clears it at the end of the stream — whatever the
    video. (An untrained checkpoint's boxes jump about and raise an alarm per frame or none.)
    """
    path = built_checkpoint(work / "fixed_box.ckpt", "tsm")
    checkpoint = torch.load(path, weights_only=True)
    weights = checkpoint["state_dict"]
    for head, bias in (("hm", 2.0), ("wh", 6.0), ("mov", 0.0), ("sta", 0.0)):
        weights[f"detector.heads.{head}.2.weight"].zero_()
        weights[f"detector.heads.{head}.2.bias"].fill_(bias)
    torch.save(checkpoint, path)
    return path
