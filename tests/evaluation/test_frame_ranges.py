"""eval with data.videos / data.frames (a few labelled frames): the copied-box baseline on
hand-built cases of known AP, detections outside the test range dropped, and ckpt mode scoring
exactly the test range's frames with the baseline's table beside the model's."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from cli_support import base_config
from iodvideo.data.annotations import load_annotations
from iodvideo.errors import ConfigError
from iodvideo.eval import evaluate
from iodvideo.evaluation.baselines import copied_box_detections
from iodvideo.evaluation.detections_io import save_detections

STATIC, MOVING, JUMP = ("TrueLeakedGas/001_a_static_clear", "TrueLeakedGas/002_b_dynamic_clear",
                        "TrueLeakedGas/003_c_static_vague")
BOX = np.array([100.0, 80.0, 159.0, 139.0])


def _tube(boxes: np.ndarray) -> np.ndarray:
    return np.column_stack((np.arange(1, len(boxes) + 1), boxes)).astype(np.float32)


def _annotations(path: Path) -> Path:
    """Three 50-frame videos: a box that never moves; one that slides 6 px a frame (frames
    11..50 lie >= 33 px from the mean of frames 1..10, IoU < 0.5); one that stays put on frames
    1..30 and jumps 100 px on 31..50."""
    steps = np.arange(50, dtype=np.float64)[:, None]
    jump = np.where(steps < 30, 0.0, 100.0)
    tubes = {STATIC: np.tile(BOX, (50, 1)), MOVING: BOX + steps * [6, 0, 6, 0],
             JUMP: BOX + jump * [1, 0, 1, 0]}
    raw = {"labels": ["TrueLeakedGas"], "nframes": dict.fromkeys(tubes, 50),
           "resolution": dict.fromkeys(tubes, (240, 400)), "train_videos": [[]],
           "test_videos": [list(tubes)],
           "gttubes": {v: {0: [_tube(b)]} for v, b in tubes.items()}}
    path.write_bytes(pickle.dumps(raw, protocol=4))
    return path


def _eval(tmp_path: Path, video: str, **values) -> dict[str, float]:
    tmp_path.mkdir(exist_ok=True)
    pkl = _annotations(tmp_path / "ann.pkl")
    out = tmp_path / video.rsplit("/", 1)[1]
    data = {"annotations": str(pkl), "root": None, "clip_len": 4,
            "videos": {"train": [video], "val": None, "test": [video]},
            "frames": {"train": [0.0, 0.2], "val": None, "test": [0.2, 1.0]}}
    cfg = base_config("eval", out, workers=1, plots=False, data=data, **values)
    rows = evaluate(cfg)
    return rows["split 1"], json.loads((out / "metrics.json").read_text())


@pytest.mark.parametrize(("video", "ap50", "ap75"), [
    (STATIC, 100.0, 100.0),  # the plume never moves: the copied box is right on every frame
    (MOVING, 0.0, 0.0),      # it slides away: wrong on every test frame
    (JUMP, 50.0, 50.0),      # right on 20 of 40 test frames, which come first (ties: frame order)
])
def test_copied_box_baseline_has_the_known_ap(tmp_path: Path, video, ap50, ap75) -> None:
    row, saved = _eval(tmp_path, video, baseline="copied_box")
    assert (row["AP@0.5"], row["AP@0.75"]) == (pytest.approx(ap50), pytest.approx(ap75))
    # scored on frames 11..50 only: one GT box and one detection (score 1) on each
    assert saved["counts"]["split 1"] == {"videos": 1, "gt_boxes": 40, "detections": 40}
    assert saved["source"] == "baseline=copied_box"
    assert saved["frames"]["test"] == [0.2, 1.0]


def test_copied_box_is_the_mean_of_the_training_frames_or_the_pooled_prior(tmp_path) -> None:
    ann = load_annotations(_annotations(tmp_path / "ann.pkl"))
    dets = copied_box_detections(ann, {MOVING: (1, 10)}, {MOVING: (11, 13), STATIC: (5, 6)})
    mean = BOX + 4.5 * np.array([6, 0, 6, 0])  # mean of frames 1..10 (offsets 0..54)
    np.testing.assert_allclose(dets[MOVING], np.column_stack(
        ([11, 12, 13], np.tile(mean, (3, 1)), np.ones(3))))
    # STATIC has no training frame: MOVING's mean box in relative coordinates, same resolution
    np.testing.assert_allclose(dets[STATIC][:, 1:5], np.tile(mean, (2, 1)))
    assert dets[STATIC][:, 0].tolist() == [5, 6]


def test_detections_outside_the_test_range_are_dropped(tmp_path: Path) -> None:
    """Perfect boxes on 11..50 and confident false positives on 1..10: the 1..10 rows (and GT)
    are not scored with data.frames.test=[0.2,1.0], so AP is 100; scored in full it is not."""
    boxes = np.tile(BOX, (50, 1))
    frames = np.arange(1, 51)
    dets = np.column_stack((frames, boxes + np.where(frames <= 10, 120.0, 0.0)[:, None]
                            * [1, 0, 1, 0], np.where(frames <= 10, 0.99, 0.5)))
    save_detections(tmp_path / "dets", {STATIC: dets})
    row, saved = _eval(tmp_path, STATIC, detections=str(tmp_path / "dets"))
    assert row["AP@0.5"] == pytest.approx(100.0)
    assert saved["counts"]["split 1"]["gt_boxes"] == 40
    row, _ = _eval(tmp_path / "full", STATIC, detections=str(tmp_path / "dets"),
                   **{"data.frames.test": None, "data.frames.train": None})
    assert row["AP@0.5"] < 90.0


def test_eval_rejects_a_bad_range_with_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"data.frames.test=\[0.2,0.21\] gives video "
                                          r".*001_a_static_clear \(50 frames\) no frame, fewer "
                                          r"than one clip of data.clip_len=4") as caught:
        _eval(tmp_path, STATIC, baseline="copied_box", **{"data.frames.test": [0.2, 0.21]})
    assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match="unknown baseline"):
        _eval(tmp_path, STATIC, baseline="mean_box")
    with pytest.raises(ConfigError, match="baseline=copied_box alone"):
        _eval(tmp_path, STATIC)


SYNTH = {"num_videos": 3, "min_frames": 40, "max_frames": 40, "height": 64, "width": 80,
         "seed": 3}
SYNTH_VIDEO = "TrueLeakedGas/002_pipeline_static_vague"


def test_ckpt_mode_scores_exactly_the_test_range_with_the_baseline_beside(tmp_path: Path):
    from .test_eval_ckpt import _tiny_checkpoint

    ckpt = _tiny_checkpoint(tmp_path / "model.ckpt")  # smoke model: K = 4
    out = tmp_path / "eval"
    cfg = base_config("eval", out, ckpt=str(ckpt), workers=1, plots=False, breakdown=False,
                      baseline="copied_box", device="cpu")
    from omegaconf import OmegaConf

    synth = OmegaConf.load(Path(__file__).parents[2] / "conf" / "data" / "synth.yaml")
    synth.root = str(tmp_path / "synth")
    synth.synth = SYNTH
    synth.online = None
    synth.num_workers = 0
    synth.input_size = 64
    synth.videos = {"train": [SYNTH_VIDEO], "val": None, "test": [SYNTH_VIDEO]}
    synth.frames = {"train": [0.0, 0.2], "val": None, "test": [0.2, 1.0]}
    cfg.data = synth
    evaluate(cfg)
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["counts"]["split 1"]["gt_boxes"] == 32  # frames 9..40
    dets = np.load(out / "detections" / "split1" / f"{SYNTH_VIDEO}.npy")
    # clips start at 9..37 (inside the range): every frame 9..40 has boxes, none outside
    assert set(dets[:, 0].astype(int).tolist()) == set(range(9, 41))
    baseline = saved["baseline"]
    assert baseline["name"] == "copied_box" and "AP@0.5" in baseline["metrics"]["split 1"]
    assert "## Baseline copied_box" in (out / "report.md").read_text()
