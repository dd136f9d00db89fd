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


def test_eval_scores_several_partial_tubes_per_video_in_process(tmp_path: Path) -> None:
    """A 20-frame video with plume A on every frame and plume B on 1-3 and 6-20 (two tubes,
    no B on 4-5), scored from the original per-clip format (K = 2): every GT box is found, so
    AP@0.5 is 100 (duplicates from overlapping clips are rescored to 0, below every TP). Tube
    AP against the video's three GT tubes: linking (tubes of >= 15 frames) finds A and B's
    second tube, not its 3-frame first: recall 2/3 at precision 1."""
    import pickle

    from cli_support import base_config
    from iodvideo.eval import evaluate

    a, b = (40.0, 30.0, 119.0, 99.0), (200.0, 100.0, 259.0, 179.0)
    tubes = [tube(20, a), tube(20, b)[:3], tube(20, b)[5:]]
    raw = {"labels": ["TrueLeakedGas"], "nframes": {CLEAR: 20},
           "resolution": {CLEAR: (240, 320)}, "train_videos": [[]], "test_videos": [[CLEAR]],
           "gttubes": {CLEAR: {0: [t.astype(np.float32) for t in tubes]}}}
    pkl = tmp_path / "ann.pkl"
    pkl.write_bytes(pickle.dumps(raw, protocol=4))
    folder = tmp_path / "dets" / CLEAR
    folder.mkdir(parents=True)
    b_frames = {1, 2, 3, *range(6, 21)}
    for start in range(1, 20):
        tubelets = [[*a, *a, 0.9]]
        if {start, start + 1} <= b_frames:
            tubelets.append([*b, *b, 0.8])
        (folder / f"{start:05d}.pkl").write_bytes(
            pickle.dumps({1: np.array(tubelets, np.float32)}, protocol=4))
    out = tmp_path / "out"
    cfg = base_config("eval", out, detections=str(tmp_path / "dets"), split=1, clip_len=2,
                      workers=1, plots=False, tube_ap=True,
                      data={"annotations": str(pkl), "root": None})
    rows = evaluate(cfg)
    assert rows["split 1"]["AP@0.5"] == pytest.approx(100.0)
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["counts"]["split 1"]["gt_boxes"] == 20 + 18
    tube_ap = saved["video_tube_ap_extra"]["split 1"]
    assert tube_ap == {f"videoAP@{t}": pytest.approx(200 / 3) for t in (0.2, 0.5, 0.75)}


def test_eval_scores_several_classes_from_both_detection_formats(tmp_path: Path) -> None:
    """Two classes on one 6-frame video: gas A on every frame, steam B on every frame. The
    original per-clip pickles hold class c under key c + 1; gas found exactly, steam boxes
    labelled as gas too (false positives of gas) and steam itself missed on half the clips.
    Per-class APs and their mean follow, and our per-class folders (<dir>/<label>/) give
    the same numbers."""
    import pickle

    from cli_support import base_config
    from iodvideo.eval import evaluate

    a, b = (40.0, 30.0, 119.0, 99.0), (200.0, 100.0, 259.0, 179.0)
    raw = {"labels": ["gas", "steam"], "nframes": {CLEAR: 6},
           "resolution": {CLEAR: (240, 320)}, "train_videos": [[]], "test_videos": [[CLEAR]],
           "gttubes": {CLEAR: {0: [tube(6, a).astype(np.float32)],
                               1: [tube(6, b).astype(np.float32)]}}}
    pkl = tmp_path / "ann.pkl"
    pkl.write_bytes(pickle.dumps(raw, protocol=4))
    folder = tmp_path / "dets" / CLEAR
    folder.mkdir(parents=True)
    for start in range(1, 6):  # K = 2
        content = {1: np.array([[*a, *a, 0.9], [*b, *b, 0.5]], np.float32)}
        if start % 2:
            content[2] = np.array([[*b, *b, 0.7]], np.float32)
        (folder / f"{start:05d}.pkl").write_bytes(pickle.dumps(content, protocol=4))
    out = tmp_path / "out"
    cfg = base_config("eval", out, detections=str(tmp_path / "dets"), split=1, clip_len=2,
                      workers=1, plots=False, data={"annotations": str(pkl), "root": None})
    row = evaluate(cfg)["split 1"]
    assert row["AP@0.5/gas"] == pytest.approx(100.0)  # every gas TP outranks the steam FPs
    # steam: clips 1, 3, 5 cover frames 1-6 → every frame found once
    assert row["AP@0.5/steam"] == pytest.approx(100.0)
    assert row["AP@0.5"] == pytest.approx(100.0)
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["labels"] == ["gas", "steam"]
    assert "Per class" in (out / "report.md").read_text()
    assert (out / "per_video_split1_steam.csv").is_file()

    # no steam on clip 5 either: only clips 1 and 3 find it, frames 1-4 of 6
    (folder / "00005.pkl").write_bytes(pickle.dumps(
        {1: np.array([[*a, *a, 0.9]], np.float32)}, protocol=4))
    row = evaluate(cfg)["split 1"]
    assert row["AP@0.5/steam"] == pytest.approx(100 * 4 / 6)
    assert row["AP@0.5"] == pytest.approx((100 + 100 * 4 / 6) / 2)

    # ours: one folder per class name
    from iodvideo.evaluation.detections_io import read_clip_dir
    ours = tmp_path / "ours"
    for c, name in enumerate(["gas", "steam"]):
        save_detections(ours / name, {CLEAR: read_clip_dir(folder, 6, 2, c)})
    cfg_ours = base_config("eval", tmp_path / "out2", detections=str(ours), split=1,
                           clip_len=2, workers=1, plots=False,
                           data={"annotations": str(pkl), "root": None})
    assert evaluate(cfg_ours)["split 1"] == pytest.approx(row, nan_ok=True)
