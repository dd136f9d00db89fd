"""The vectorised rescoring equals the frame-by-frame reference loop bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from iodvideo.evaluation.frame_ap import rescore_detections, rescore_frame
from iodvideo.evaluation.rescore import rescore_frames


def _per_frame(keys, boxes, scores, threshold):
    out = np.empty(len(scores))
    for k in np.unique(keys):
        m = keys == k
        out[m] = rescore_frame(boxes[m], scores[m], threshold)
    return out


@pytest.mark.parametrize("seed", range(12))
def test_matches_reference_loop_on_random_clustered_frames(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 500))
    keys = rng.integers(0, 6, n)
    centres = rng.uniform(0, 300, (n, 2))
    half = n // 2  # half the boxes are near-duplicates of the other half (clusters)
    centres[half:] = centres[: n - half] + rng.normal(0, rng.choice([0.5, 3.0]), (n - half, 2))
    sizes = np.exp(rng.normal(3.5, 0.8, (n, 2)))
    boxes = np.hstack((centres - sizes / 2, centres + sizes / 2))
    if seed % 3 == 0:
        boxes = np.round(boxes)
    scores = rng.uniform(size=n)
    if seed % 2:
        scores = np.round(scores, 1)  # ties: visiting order falls back to row order
    threshold = float(rng.choice([0.6, 0.3, 0.5, 0.9]))
    fast = rescore_frames(keys, boxes, scores, threshold)
    np.testing.assert_array_equal(fast, _per_frame(keys, boxes, scores, threshold))
    if threshold == 0.6:
        assert np.count_nonzero(fast < scores) > 0


def test_degenerate_boxes_overlap_nothing() -> None:
    boxes = np.array([
        [0, 0, 9, 9], [0, 0, 9, 9],      # duplicate pair
        [5, 5, 3, 20], [5, 5, 3, 20],    # width <= 0: isolated, even from its twin
        [0, 0, -1, -1],                  # width 0, height 0 (areas 0): IoU 0/0 = NaN
        [1e6, 1e6, 1e6 + 50, 1e6 + 50],  # far away but valid
    ], dtype=float)
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    keys = np.zeros(6, dtype=np.int64)
    fast = rescore_frames(keys, boxes, scores)
    np.testing.assert_array_equal(fast, _per_frame(keys, boxes, scores, 0.6))
    np.testing.assert_array_equal(fast, [0.9, 0.0, 0.7, 0.6, 0.5, 0.4])


def test_parity_example_through_the_fast_path() -> None:
    dets = np.array([
        [1, 0, 0, 9, 9, 0.9], [1, 1, 0, 10, 9, 0.8], [1, 0, 0, 9, 9, 0.5],
        [1, 20, 20, 29, 29, 0.7],
    ])
    out = rescore_detections(dets)
    np.testing.assert_allclose(out[:, 5], [0.9, 0.145455, 0.0, 0.7], atol=1e-6)


def test_thresholds_outside_zero_one() -> None:
    boxes = np.array([[0, 0, 9, 9], [0, 0, 9, 9], [1, 0, 10, 9]], float)
    scores = np.array([0.9, 0.8, 0.7])
    keys = np.zeros(3, dtype=np.int64)
    np.testing.assert_array_equal(rescore_frames(keys, boxes, scores, 1.0), scores)
    np.testing.assert_array_equal(
        rescore_frames(keys, boxes, scores, 0.0), _per_frame(keys, boxes, scores, 0.0)
    )
