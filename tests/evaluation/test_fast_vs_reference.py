"""The vectorised evaluator against a per-detection transcription of the reference, and the
hand-built cases of issue 7."""

from __future__ import annotations

import numpy as np
import pytest

from iodvideo.evaluation import average_precision, frame_ap, frame_ap_at
from iodvideo.evaluation.metrics import THRESHOLDS_50_95
from iodvideo.evaluation.reference import frame_ap_reference

from .helpers import random_case


@pytest.mark.parametrize("seed", range(16))
def test_fast_path_equals_reference_exactly(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    dets, gt = random_case(rng, ties=seed % 2 == 1, integer_boxes=seed % 3 == 0)
    if sum(len(t) for t in gt.values()) == 0:
        gt["extra"] = np.array([[1, 0, 0, 10, 10]], float)
    dets["not_evaluated"] = next(iter(dets.values()))
    thresholds = [0.3, 0.5, 0.75, 0.95]
    for rescore in (True, False):
        fast = frame_ap_at(dets, gt, thresholds, rescore)
        slow = frame_ap_reference(dets, gt, thresholds, rescore)
        assert fast == slow  # bit-identical: same TPs, same ranks, exactly rounded sums


def _tube(nframes: int, box=(10.0, 10.0, 29.0, 29.0)) -> np.ndarray:
    return np.array([[f, *box] for f in range(1, nframes + 1)])


def test_perfect_detector_scores_one_at_every_threshold() -> None:
    gt = {"a": _tube(6), "b": _tube(4, (100.0, 50.0, 180.0, 140.0))}
    dets = {v: np.column_stack((t, np.linspace(0.9, 0.2, len(t)))) for v, t in gt.items()}
    aps = frame_ap_at(dets, gt, THRESHOLDS_50_95)
    assert all(ap == pytest.approx(1.0) for ap in aps.values())


def test_no_detections_give_zero() -> None:
    gt = {"a": _tube(3)}
    assert frame_ap_at({}, gt, [0.5, 0.9]) == {0.5: 0.0, 0.9: 0.0}
    assert frame_ap({"a": np.zeros((0, 6))}, gt) == 0.0


def test_duplicate_on_a_matched_frame_is_a_false_positive() -> None:
    gt = {"v": _tube(2)}
    box = (10.0, 10.0, 29.0, 29.0)
    # Without rescoring: TP (frame 1), duplicate FP (frame 1), TP (frame 2).
    dets = {"v": np.array([[1, *box, 0.9], [1, *box, 0.8], [2, *box, 0.7]])}
    expected = average_precision(np.array([True, False, True]), 2)
    assert frame_ap(dets, gt, rescore=False) == pytest.approx(expected)
    assert expected == pytest.approx(0.5 + 0.5 * (2 / 3 + 0.5) / 2)


def test_frames_with_several_gt_boxes_and_frames_with_none() -> None:
    two = np.array([[1, 0, 0, 9, 9], [1, 50, 50, 59, 59], [3, 0, 0, 9, 9]], float)
    gt = {"v": two}  # frame 1 has two boxes, frame 2 none, frame 3 one
    dets = {"v": np.array([
        [1, 50, 50, 59, 59, 0.9],   # TP (second box of frame 1)
        [2, 0, 0, 9, 9, 0.85],      # FP: no GT on frame 2
        [1, 0, 0, 9, 9, 0.8],       # TP (first box of frame 1)
        [1, 0, 0, 9, 9, 0.75],      # FP: both frame-1 boxes taken (rescored to 0 otherwise)
        [3, 0, 0, 9, 9, 0.7],       # TP
    ])}
    expected = average_precision(np.array([True, False, True, False, True]), 3)
    assert frame_ap(dets, gt, rescore=False) == pytest.approx(expected)
    assert expected == pytest.approx(0.711111, abs=1e-6)  # the §14 trapezoid example
    assert frame_ap_reference(dets, gt, [0.5], rescore=False)[0.5] == frame_ap(
        dets, gt, rescore=False
    )


def test_ties_are_resolved_in_pooled_order_deterministically() -> None:
    gt = {"a": _tube(1), "b": _tube(1)}
    hit, miss = (10.0, 10.0, 29.0, 29.0), (200.0, 200.0, 219.0, 219.0)
    # Equal scores: video a's FP is pooled before video b's TP → FP, TP.
    dets = {"a": np.array([[1, *miss, 0.5]]), "b": np.array([[1, *hit, 0.5]])}
    expected = average_precision(np.array([False, True]), 2)
    assert frame_ap(dets, gt) == pytest.approx(expected)
    # Swapping the ground-truth order swaps the pooled order: TP, FP.
    swapped = {"b": gt["b"], "a": gt["a"]}
    assert frame_ap(dets, swapped) == pytest.approx(average_precision(np.array([True, False]), 2))
    assert frame_ap(dets, gt) == frame_ap(dict(reversed(list(dets.items()))), gt)


def test_nan_detections_are_rejected_with_the_video_name() -> None:
    gt = {"v": _tube(2)}
    with pytest.raises(ValueError, match="'v'.*NaN"):
        frame_ap({"v": np.array([[1, 0, 0, np.nan, 9, 0.5]])}, gt)
    with pytest.raises(ValueError, match="'v'.*NaN"):
        frame_ap({"v": np.array([[1, 0, 0, 9, 9, np.nan]])}, gt)


def test_worker_processes_give_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    # The package exports a function named frame_ap; fetch the module itself.
    fa = importlib.import_module("iodvideo.evaluation.frame_ap")

    rng = np.random.default_rng(7)
    dets, gt = {}, {}
    for i in range(3):
        more_dets, more_gt = random_case(rng, ties=True, integer_boxes=False)
        dets.update({f"{i}{k}": d for k, d in more_dets.items()})
        gt.update({f"{i}{k}": g for k, g in more_gt.items()})
    gt["extra"] = np.array([[1, 0, 0, 10, 10]], float)
    monkeypatch.setattr(fa, "_CHUNK_ROWS", 16)  # many work units
    one = fa.score_detections(dets, gt, [0.5, 0.75], workers=1)
    two = fa.score_detections(dets, gt, [0.5, 0.75], workers=2)
    np.testing.assert_array_equal(one.score, two.score)
    for t in (0.5, 0.75):
        np.testing.assert_array_equal(one.tp[t], two.tp[t])
        assert one.ap(t) == two.ap(t) == frame_ap_reference(dets, gt, [t])[t]
