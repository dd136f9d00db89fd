"""The real IOD-Video clip in ../shared (a split-3 test video): predict finds its ground truth
from the bare file name and scores it. Skipped, with the reason, where ../shared is absent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_support import REPO, run_module

SHARED = REPO.parent / "shared" / "data"
CLIP = SHARED / "real-clips" / "001_wild_static_vague.avi"
PICKLE = SHARED / "iodvideo-annotations" / "TrueLeakedGas.pkl"


@pytest.mark.skipif(not (CLIP.exists() and PICKLE.exists()),
                    reason=f"the real clip {CLIP} or {PICKLE} is not on this machine")
def test_real_clip_is_scored_against_its_own_ground_truth(resnet_ckpt: Path, work: Path):
    out = work / "real_clip"
    proc = run_module("iodvideo.predict", f"ckpt={resnet_ckpt}", f"input={CLIP}", f"gt={PICKLE}",
                      "progress=false", "render.mp4=false", "render.gif=false",
                      f"hydra.run.dir={out}", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["video"] == "TrueLeakedGas/001_wild_static_vague"
    assert 0.0 <= metrics["AP@0.5"] <= 100.0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 311
