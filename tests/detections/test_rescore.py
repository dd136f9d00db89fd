"""Per-frame rescoring: the parity example, the reference loop, and the vectorised path
equal to the frame-by-frame loop bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from iodvideo.detections.iou import iou_plus1
from iodvideo.detections.rescore import rescore_detections, rescore_frame, rescore_frames


def _dets(rows: list[tuple[float, ...]]) -> np.ndarray:
    return np.array(rows, dtype=np.float64).reshape(-1, 6)


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


def test_rescoring_matches_parity_example() -> None:
    boxes = np.array([[0, 0, 9, 9], [1, 0, 10, 9], [0, 0, 9, 9], [20, 20, 29, 29]], float)
    scores = np.array([0.9, 0.8, 0.5, 0.7])
    np.testing.assert_allclose(
        rescore_frame(boxes, scores), [0.9, 0.8 * (1 - 90 / 110), 0.0, 0.7], atol=1e-12
    )
    np.testing.assert_allclose(rescore_frame(boxes, scores)[1], 0.145455, atol=1e-6)


def test_suppressed_box_does_not_suppress_others() -> None:
    # A suppresses B (IoU 0.667); B would suppress C (IoU 0.818) but B left the remaining list,
    # and A-C is only 0.538, so C keeps its score.
    boxes = np.array([[0, 0, 9, 9], [2, 0, 11, 9], [3, 0, 12, 9]], float)
    scores = np.array([0.9, 0.8, 0.7])
    iou_ac = iou_plus1(boxes[0], boxes[2:])[0]
    assert iou_ac <= 0.6 < iou_plus1(boxes[1], boxes[2:])[0]
    np.testing.assert_allclose(
        rescore_frame(boxes, scores), [0.9, 0.8 * (1 - iou_plus1(boxes[0], boxes[1:2])[0]), 0.7]
    )


def _loop_rescore(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Plain transcription of protocol §9.1 step 2 with Python lists."""
    remaining = sorted(range(len(scores)), key=lambda i: -scores[i])
    weight = [1.0] * len(scores)
    while remaining:
        lead, kept = remaining.pop(0), []
        for j in remaining:
            overlap = iou_plus1(boxes[lead], boxes[j : j + 1])[0]
            if overlap > threshold:
                weight[j] = 1.0 - overlap
            else:
                kept.append(j)
        remaining = kept
    return scores * np.array(weight)


def test_rescoring_matches_loop_transcription_on_clustered_boxes() -> None:
    rng = np.random.default_rng(1)
    centres = np.repeat(rng.uniform(0, 100, (15, 2)), 8, axis=0) + rng.normal(0, 2, (120, 2))
    sizes = rng.uniform(8, 30, (120, 2))
    boxes = np.hstack((centres - sizes / 2, centres + sizes / 2))
    scores = rng.uniform(size=120)
    for threshold in (0.3, 0.6):
        expected = _loop_rescore(boxes, scores, threshold)
        np.testing.assert_allclose(rescore_frame(boxes, scores, threshold), expected)
    assert np.count_nonzero(rescore_frame(boxes, scores) < scores) > 10


def test_rescore_detections_works_per_frame_and_keeps_row_order() -> None:
    dets = _dets([
        (2, 0, 0, 9, 9, 0.5),
        (1, 0, 0, 9, 9, 0.9),
        (2, 0, 0, 9, 9, 0.8),
        (1, 100, 100, 109, 109, 0.4),
    ])
    out = rescore_detections(dets)
    np.testing.assert_array_equal(out[:, :5], dets[:, :5])
    np.testing.assert_allclose(out[:, 5], [0.0, 0.9, 0.8, 0.4])
