"""Tube linking (§9.3 BuildTubes): clean tracks link, short tubes drop, tubelet NMS."""

from __future__ import annotations

import numpy as np
import pytest

from iodvideo.detections.linking import build_tubes, tubelet_iou, tubelet_nms


def _gt(nframes: int, dx: float = 1.0) -> np.ndarray:
    f = np.arange(1, nframes + 1, dtype=float)
    return np.column_stack((f, 20 + dx * f, 30 + 0 * f, 80 + dx * f, 90 + 0 * f))


def _clips(gt: np.ndarray, clip_len: int, rng: np.random.Generator, noise: int = 5):
    clips = {}
    for start in range(1, len(gt) - clip_len + 2):
        true = np.r_[gt[start - 1 : start - 1 + clip_len, 1:5].reshape(-1), 0.9]
        junk = [np.r_[np.tile(np.r_[xy, xy + 30], clip_len), 0.1]
                for xy in rng.uniform(100, 250, (noise, 2))]
        clips[start] = np.vstack([true, *junk])
    return clips


def test_a_clean_track_links_into_one_tube() -> None:
    rng = np.random.default_rng(0)
    clip_len, gt = 4, _gt(30)
    tubes = build_tubes(_clips(gt, clip_len, rng), clip_len)
    best = max(tubes, key=lambda t: t.score)
    assert best.score == pytest.approx(0.9)
    np.testing.assert_allclose(best.boxes, gt)


def test_short_tubes_are_dropped() -> None:
    rng = np.random.default_rng(1)
    gt = _gt(10)
    assert all(t.score < 0.9 for t in build_tubes(_clips(gt, 4, rng), 4))  # 10 < 15 frames
    assert any(t.score == pytest.approx(0.9)
               for t in build_tubes(_clips(gt, 4, rng), 4, min_length=10))


def test_tubelet_nms_keeps_top_k_after_suppression() -> None:
    base = np.r_[np.tile([0.0, 0.0, 9.0, 9.0], 2), 0.9]
    dup = base.copy()
    dup[-1] = 0.8
    far = np.r_[np.tile([50.0, 50.0, 59.0, 59.0], 2), 0.7]
    assert tubelet_iou(base, np.vstack([dup, far]), 2).tolist() == [1.0, 0.0]
    kept = tubelet_nms(np.vstack([dup, far, base]), 2, top_k=10)
    np.testing.assert_array_equal(kept[:, -1], [0.9, 0.7])
    assert len(tubelet_nms(np.vstack([base, far]), 2, top_k=1)) == 1
