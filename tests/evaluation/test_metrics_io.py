"""The five metrics, the clear/vague subsets, breakdowns, and detections on disk."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from iodvideo.data.annotations import load_annotations
from iodvideo.detections import clips_to_frame_detections
from iodvideo.evaluation import frame_ap_at
from iodvideo.evaluation.breakdown import breakdown, per_video
from iodvideo.evaluation.detections_io import (
    DetectionError,
    load_detections,
    save_detections,
)
from iodvideo.evaluation.metrics import (
    METRIC_NAMES,
    THRESHOLDS_50_95,
    mean_over_splits,
    paper_metrics,
)

from .helpers import tube

CLEAR, VAGUE = "TrueLeakedGas/001_valve_static_clear", "TrueLeakedGas/002_wild_dynamic_vague"


def test_clear_vague_filtering_equals_the_subset_pickles(annotations_dir: Path) -> None:
    full = load_annotations(annotations_dir / "TrueLeakedGas.pkl")
    clear = load_annotations(annotations_dir / "TrueLeakedGas_c1_290.pkl")
    vague = load_annotations(annotations_dir / "TrueLeakedGas_v1_310.pkl")
    for split in (1, 2, 3):
        assert full.videos(split, "test", "clear") == clear.videos(split, "test")
        assert full.videos(split, "test", "vague") == vague.videos(split, "test")
    assert [len(full.videos(s, "test")) for s in (1, 2, 3)] == [196, 201, 203]


def _noisy(gt: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    rows = [np.column_stack((gt[:, 0], gt[:, 1:5] + rng.normal(0, sigma, (len(gt), 4)),
                             rng.uniform(size=len(gt)))) for _ in range(3)]
    return np.vstack(rows)


def test_five_metrics_are_the_subset_aps() -> None:
    rng = np.random.default_rng(0)
    gt = {CLEAR: tube(12), VAGUE: tube(9, (100.0, 60.0, 170.0, 150.0))}
    dets = {CLEAR: _noisy(gt[CLEAR], rng, 2.0), VAGUE: _noisy(gt[VAGUE], rng, 6.0)}
    m = paper_metrics(dets, gt).metrics
    full = frame_ap_at(dets, gt, THRESHOLDS_50_95)
    clear = frame_ap_at(dets, {CLEAR: gt[CLEAR]}, THRESHOLDS_50_95)
    vague = frame_ap_at(dets, {VAGUE: gt[VAGUE]}, THRESHOLDS_50_95)
    assert m["AP@0.5"] == pytest.approx(100 * full[0.5])
    assert m["AP@0.75"] == pytest.approx(100 * full[0.75])
    assert m["AP@0.5:0.95"] == pytest.approx(100 * np.mean(list(full.values())))
    assert m["AP@clear"] == pytest.approx(100 * np.mean(list(clear.values())))
    assert m["AP@vague"] == pytest.approx(100 * np.mean(list(vague.values())))
    assert m["AP@clear"] > m["AP@vague"]
    avg = mean_over_splits([m, {k: 0.0 for k in m}])
    assert avg["AP@0.5"] == pytest.approx(m["AP@0.5"] / 2)
    assert list(m) == list(METRIC_NAMES)  # eval reports the paper's five, in its order
    named = paper_metrics(dets, gt, names=("AP@0.5_clear", "AP@0.5_vague")).metrics
    assert named == pytest.approx({"AP@0.5_clear": 100 * clear[0.5],
                                   "AP@0.5_vague": 100 * vague[0.5]})
    with pytest.raises(KeyError, match="unknown metric"):
        paper_metrics(dets, gt, names=("AP@0.33",))


def test_breakdown_groups_and_per_video() -> None:
    rng = np.random.default_rng(1)
    gt = {CLEAR: tube(12), VAGUE: tube(9, (100.0, 60.0, 170.0, 150.0))}
    dets = {CLEAR: _noisy(gt[CLEAR], rng, 2.0), VAGUE: _noisy(gt[VAGUE], rng, 6.0)}
    result = paper_metrics(dets, gt)
    groups = breakdown(result.scored, gt)
    assert set(groups["scene"]) == {"valve", "wild"}
    assert groups["visibility"]["clear"]["AP@0.5:0.95"] == pytest.approx(
        result.metrics["AP@clear"]
    )
    table = per_video(result.scored)
    assert table[CLEAR]["AP@0.5"] == pytest.approx(100 * frame_ap_at(
        dets, {CLEAR: gt[CLEAR]}, [0.5])[0.5])
    assert sum(g["gt_boxes"] for g in groups["size"].values()) == 21


def _clip_pickles(root: Path, video: str, clips: dict[int, np.ndarray]) -> None:
    folder = root / video
    folder.mkdir(parents=True)
    for start, tubelets in clips.items():
        (folder / f"{start:05d}.pkl").write_bytes(
            pickle.dumps({1: tubelets.astype(np.float32)}, protocol=4)
        )


def _random_clips(rng, nframes: int, clip_len: int, n: int) -> dict[int, np.ndarray]:
    out = {}
    for start in range(1, nframes - clip_len + 2):
        xy = rng.uniform(20, 150, (n, 1, 2)) + rng.normal(0, 2, (n, clip_len, 2))
        boxes = np.concatenate((xy, xy + rng.uniform(40, 90, (n, 1, 2))), axis=2)
        out[start] = np.hstack((boxes.reshape(n, 4 * clip_len), rng.uniform(size=(n, 1))))
    return out


def test_original_per_clip_format_scores_like_our_format(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    clip_len = 3
    gt = {CLEAR: tube(7), VAGUE: tube(5, (30.0, 40.0, 100.0, 120.0))}
    clips = {v: _random_clips(rng, len(t), clip_len, 4) for v, t in gt.items()}
    for v, c in clips.items():
        _clip_pickles(tmp_path / "orig", v, c)
    nframes = {v: len(t) for v, t in gt.items()}
    from_pickles, missing = load_detections(tmp_path / "orig", gt, nframes, clip_len)
    assert not missing
    ours = {
        v: clips_to_frame_detections({s: a.astype(np.float32) for s, a in c.items()}, clip_len)
        for v, c in clips.items()
    }
    save_detections(tmp_path / "ours", ours)
    from_npy, _ = load_detections(tmp_path / "ours", gt, nframes, clip_len)
    a = frame_ap_at(from_pickles, gt, THRESHOLDS_50_95)
    assert a == frame_ap_at(from_npy, gt, THRESHOLDS_50_95)
    assert a == frame_ap_at(ours, gt, THRESHOLDS_50_95)
    assert a[0.5] > 0


def test_bad_detections_on_disk(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    gt = {CLEAR: tube(6)}
    clips = _random_clips(rng, 6, 3, 2)
    del clips[2]
    _clip_pickles(tmp_path / "d", CLEAR, clips)
    with pytest.raises(DetectionError, match="00002.pkl"):
        load_detections(tmp_path / "d", gt, {CLEAR: 6}, 3)
    with pytest.raises(DetectionError, match="no detections for 1 test video"):
        load_detections(tmp_path / "d", [VAGUE], {VAGUE: 5}, 3)
    assert load_detections(tmp_path / "d", [VAGUE], {VAGUE: 5}, 3, allow_missing=True)[1] == [VAGUE]
    bad = tmp_path / "nan"
    save_detections(bad, {CLEAR: np.array([[1, 0, 0, np.nan, 5, 0.3]])})
    with pytest.raises(DetectionError, match="NaN"):
        load_detections(bad, [CLEAR], {CLEAR: 6})
    evil = tmp_path / "evil" / CLEAR
    evil.mkdir(parents=True)
    (evil / "00001.pkl").write_bytes(pickle.dumps({1: Path("x")}))
    with pytest.raises(DetectionError, match="not a clip detection pickle"):
        load_detections(tmp_path / "evil", [CLEAR], {CLEAR: 3}, 3)
