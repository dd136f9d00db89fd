"""The extra video-level tube AP: spatio-temporal IoU and greedy tube matching."""

from __future__ import annotations

import numpy as np
import pytest

from iodvideo.detections.linking import Tube
from iodvideo.evaluation.tubes import spatio_temporal_iou, video_ap


def _gt(nframes: int, dx: float = 1.0) -> np.ndarray:
    f = np.arange(1, nframes + 1, dtype=float)
    return np.column_stack((f, 20 + dx * f, 30 + 0 * f, 80 + dx * f, 90 + 0 * f))


def test_an_exact_tube_scores_full_video_ap() -> None:
    gt = _gt(30)
    assert spatio_temporal_iou(gt, gt) == pytest.approx(1.0)
    far = gt.copy()
    far[:, 1:5] += 200
    aps = video_ap({"v": [Tube(far, 0.95), Tube(gt, 0.9)]}, {"v": [gt]},
                   thresholds=(0.2, 0.5, 0.9))
    # the better-scored far tube is a miss first: the raw curve goes (R 0, P 1) → (0, 0) →
    # (1, 1/2), a trapezoid of area 1/4
    assert aps[0.5] == pytest.approx(0.25)
    assert video_ap({"v": [Tube(gt, 0.9)]}, {"v": [gt]})[0.5] == pytest.approx(1.0)


def test_half_overlap_halves_temporal_iou_and_no_tubes_score_zero() -> None:
    gt = _gt(10)
    assert spatio_temporal_iou(gt[:5], gt) == pytest.approx(0.5)
    assert spatio_temporal_iou(gt[:5], gt[5:]) == 0.0
    assert video_ap({}, {"v": [gt]}) == {0.2: 0.0, 0.5: 0.0}


def test_gt_tubes_with_gaps_and_two_per_video() -> None:
    gt = _gt(10)
    gappy = gt[[0, 1, 2, 7, 8, 9]]  # frames 1-3 and 8-10
    # temporal IoU of the frame sets: 6 shared of 10, and 3 shared of 8 (frames 1-5, 8-10)
    assert spatio_temporal_iou(gt, gappy) == pytest.approx(0.6)
    assert spatio_temporal_iou(gt[:5], gappy) == pytest.approx(3 / 8)
    other = gt.copy()
    other[:, 1:5] += 150  # a second plume at the same time
    both = {"v": [gappy, other]}
    assert video_ap({"v": [Tube(gappy, 0.9), Tube(other, 0.8)]}, both)[0.5] == 1.0
    assert video_ap({"v": [Tube(other, 0.8)]}, both)[0.5] == pytest.approx(0.5)
