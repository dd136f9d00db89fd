"""Frame-level AP: the §14 parity numbers, hand-built cases, and a loop-based cross-check."""

from __future__ import annotations

import numpy as np
import pytest

from iodvideo.detections.iou import iou_plus1
from iodvideo.evaluation import average_precision, frame_ap, frame_ap_at

GT_BOX = np.array([10.0, 10.0, 29.0, 29.0])  # 20×20 pixels with the +1 convention


def _tube(frames: range, box: np.ndarray = GT_BOX) -> np.ndarray:
    return np.array([[f, *box] for f in frames], dtype=np.float64)


def _dets(rows: list[tuple[float, ...]]) -> np.ndarray:
    return np.array(rows, dtype=np.float64).reshape(-1, 6)



def test_ap_trapezoid_parity_example_differs_from_voc() -> None:
    tp = np.array([True, False, True, False, True])
    ap = average_precision(tp, 3)
    assert ap == pytest.approx(0.711111, abs=1e-6)
    # VOC all-point AP: precision replaced by its running max from the right, summed over recall
    # steps (here the envelope at the three TPs is 1, 2/3, 0.6).
    precision = np.cumsum(tp) / np.arange(1, 6)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    voc = float(np.sum(tp / 3 * envelope))
    assert voc == pytest.approx((1 + 2 / 3 + 0.6) / 3)
    assert abs(voc - ap) > 0.04


def test_ap_edge_cases() -> None:
    assert average_precision(np.zeros(0, dtype=bool), 4) == 0.0
    assert average_precision(np.ones(4, dtype=bool), 4) == pytest.approx(1.0)
    assert average_precision(np.array([False, True]), 1) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="ground-truth"):
        average_precision(np.ones(1, dtype=bool), 0)


def test_perfect_detector_scores_one() -> None:
    gt = {"a": _tube(range(1, 6)), "b": _tube(range(3, 9), GT_BOX + 50)}
    dets = {v: np.column_stack((t, np.linspace(0.9, 0.5, len(t)))) for v, t in gt.items()}
    assert frame_ap(dets, gt) == pytest.approx(1.0)
    assert frame_ap_at(dets, gt, [0.5, 0.95]) == {0.5: pytest.approx(1.0), 0.95: 1.0}


def test_iou_just_below_and_above_threshold() -> None:
    gt = {"v": _tube(range(1, 2))}
    # Shifting the 20×20 GT by d pixels in x gives IoU (20−d)/(20+d): d=7 → 0.4815, d=6 → 0.5385.
    below = {"v": _dets([(1, 17, 10, 36, 29, 0.9)])}
    above = {"v": _dets([(1, 16, 10, 35, 29, 0.9)])}
    assert frame_ap(below, gt, 0.5) == 0.0
    assert frame_ap(above, gt, 0.5) == pytest.approx(1.0)
    aps = frame_ap_at(above, gt, [13 / 27, 14 / 26, 14 / 26 + 1e-9])  # IoU ≥ th is a TP
    assert list(aps.values()) == [pytest.approx(1.0), pytest.approx(1.0), 0.0]


def test_duplicates_on_one_frame_give_one_tp_and_fps() -> None:
    gt = {"v": _tube(range(1, 3))}
    dets = {"v": _dets([
        (1, *GT_BOX, 0.9), (1, *GT_BOX, 0.8), (1, *(GT_BOX + 1), 0.75), (2, *GT_BOX, 0.7),
    ])}
    # Without rescoring: TP, FP, FP, TP → PR (1,0) (1,.5) (.5,.5) (1/3,.5) (.5,1).
    expected = 0.5 * 1.0 + 0.5 * (1 / 3 + 0.5) / 2
    assert frame_ap(dets, gt, rescore=False) == pytest.approx(expected)
    assert expected == pytest.approx(average_precision(np.array([1, 0, 0, 1], bool), 2))
    # A second GT box on frame 1, far away: the duplicates still cannot take it (IoU 0).
    two_gt = {"v": np.vstack((gt["v"], _tube(range(1, 2), GT_BOX + 100)))}
    assert frame_ap(dets, two_gt, rescore=False) == pytest.approx(
        average_precision(np.array([1, 0, 0, 1], bool), 3)
    )


def test_rescoring_changes_the_ranking() -> None:
    gt = {"v": _tube(range(1, 3))}
    # Frame 1: a duplicate (IoU 1 with the TP) at 0.8 is rescored to 0, below frame 2's TP at
    # 0.7, so with rescoring the ranking is TP, TP, FP (AP 1) instead of TP, FP, TP.
    dets = {"v": _dets([(1, *GT_BOX, 0.9), (1, *GT_BOX, 0.8), (2, *GT_BOX, 0.7)])}
    assert frame_ap(dets, gt) == pytest.approx(1.0)
    assert frame_ap(dets, gt, rescore=False) == pytest.approx(
        average_precision(np.array([True, False, True]), 2)
    )


def test_unknown_video_ignored_and_missing_video_lowers_recall() -> None:
    gt = {"a": _tube(range(1, 3)), "b": _tube(range(1, 3))}
    perfect_a = _dets([(1, *GT_BOX, 0.9), (2, *GT_BOX, 0.8)])
    junk = _dets([(1, *GT_BOX, 0.99), (1, 0, 0, 5, 5, 0.95)])
    # "b" has no detections: recall stops at 0.5 → AP = 0.5.
    assert frame_ap({"a": perfect_a}, gt) == pytest.approx(0.5)
    assert frame_ap({"a": perfect_a, "zzz": junk}, gt) == pytest.approx(0.5)
    assert frame_ap({"a": perfect_a, "zzz": junk}, {"a": gt["a"]}) == pytest.approx(1.0)


def test_detection_on_frame_without_gt_is_fp() -> None:
    gt = {"v": _tube(range(1, 2))}
    dets = {"v": _dets([(5, *GT_BOX, 0.9), (1, *GT_BOX, 0.8)])}
    assert frame_ap(dets, gt) == pytest.approx(average_precision(np.array([False, True]), 1))


def test_bad_shapes_and_frames_are_rejected() -> None:
    gt = {"v": _tube(range(1, 2))}
    with pytest.raises(ValueError, match="detections of video 'v'"):
        frame_ap({"v": np.zeros((3, 5))}, gt)
    with pytest.raises(ValueError, match="1-based"):
        frame_ap({"v": _dets([(0, *GT_BOX, 0.9)])}, gt)
    with pytest.raises(ValueError, match="ground-truth"):
        frame_ap({}, {"v": np.zeros((0, 5))})


def _loop_frame_ap(dets: dict, gt: dict, th: float) -> float:
    """Plain transcription of protocol §9.2 (per-detection Python loop), without rescoring."""
    videos = list(gt)
    gt_boxes: dict[tuple[int, int], list[np.ndarray]] = {}
    for iv, v in enumerate(videos):
        for row in gt[v]:
            gt_boxes.setdefault((iv, int(row[0])), []).append(row[1:5])
    rows = [(iv, *r) for iv, v in enumerate(videos) if v in dets for r in dets[v]]
    rows_arr = np.array(rows).reshape(-1, 7)
    tp = []
    for i in np.argsort(-rows_arr[:, 6], kind="quicksort"):
        key = (int(rows_arr[i, 0]), int(rows_arr[i, 1]))
        remaining = gt_boxes.get(key, [])
        if not remaining:
            tp.append(False)
            continue
        ious = iou_plus1(rows_arr[i, 2:6], np.array(remaining))
        best = int(np.argmax(ious))
        tp.append(bool(ious[best] >= th))
        if tp[-1]:
            remaining.pop(best)
    return average_precision(np.array(tp, dtype=bool), sum(len(t) for t in gt.values()))


def test_matches_loop_transcription_with_several_gt_per_frame() -> None:
    rng = np.random.default_rng(0)
    gt, dets = {}, {}
    for v in range(5):
        tube_rows = []
        for f in range(1, 9):
            for _ in range(rng.integers(0, 4)):  # 0-3 GT boxes per frame
                x, y = rng.uniform(0, 60, 2)
                tube_rows.append((f, x, y, x + rng.uniform(5, 20), y + rng.uniform(5, 20)))
        gt[f"v{v}"] = np.array(tube_rows).reshape(-1, 5)
        det_rows = []
        for row in gt[f"v{v}"]:
            for _ in range(rng.integers(0, 4)):
                det_rows.append((row[0], *(row[1:5] + rng.normal(0, 3, 4)), rng.uniform()))
        for _ in range(20):
            x, y = rng.uniform(0, 60, 2)
            det_rows.append((rng.integers(1, 10), x, y, x + 10, y + 10, rng.uniform()))
        dets[f"v{v}"] = np.array(det_rows)
    dets["unknown"] = dets["v0"].copy()
    thresholds = [0.3, 0.5, 0.75]
    aps = frame_ap_at(dets, gt, thresholds, rescore=False)
    for th in thresholds:
        assert aps[th] == pytest.approx(_loop_frame_ap(dets, gt, th), abs=1e-12)
    assert 0.0 < aps[0.75] < aps[0.5] < aps[0.3] < 1.0


PLUME_B = GT_BOX + 40  # a second 20×20 plume, no overlap with the first


def _two_plumes_with_a_gap(tmp_path) -> np.ndarray:
    """Every GT box of an 8-frame video, read back from a pickle: plume A on frames 1-3 and
    6-8 (two tubes), plume B on 2-3 and 6-7 (two tubes), no gas on frames 4-5."""
    import pickle

    from iodvideo.data.annotations import load_annotations

    tubes = [_tube(range(1, 4)), _tube(range(6, 9)), _tube(range(2, 4), PLUME_B),
             _tube(range(6, 8), PLUME_B)]
    raw = {"labels": ["gas"], "nframes": {"v": 8}, "resolution": {"v": (240, 320)},
           "train_videos": [[]], "test_videos": [["v"]],
           "gttubes": {"v": {0: [t.astype(np.float32) for t in tubes]}}}
    (tmp_path / "ann.pkl").write_bytes(pickle.dumps(raw, protocol=4))
    boxes = load_annotations(tmp_path / "ann.pkl").frame_boxes("v")
    assert boxes[:, 0].tolist() == [1, 2, 2, 3, 3, 6, 6, 7, 7, 8]
    return boxes


def test_two_simultaneous_plumes_and_a_gap_perfect_detections_score_100(tmp_path) -> None:
    from iodvideo.evaluation import paper_metrics

    gt = {"v": _two_plumes_with_a_gap(tmp_path)}
    dets = {"v": np.column_stack((gt["v"], np.linspace(0.9, 0.5, 10)))}
    assert frame_ap_at(dets, gt, [0.5, 0.95]) == {0.5: 1.0, 0.95: 1.0}
    assert paper_metrics(dets, gt, workers=1).metrics["AP@0.5"] == 100.0


def test_missing_one_plume_scores_by_hand(tmp_path) -> None:
    from fractions import Fraction

    from iodvideo.evaluation.reference import frame_ap_reference

    gt = {"v": _two_plumes_with_a_gap(tmp_path)}
    plume_a = gt["v"][np.all(gt["v"][:, 1:5] == GT_BOX, axis=1)]
    found = np.column_stack((plume_a, np.linspace(0.9, 0.5, 6)))
    # Only plume A is found: 6 TPs at precision 1 of 10 GT boxes.
    assert frame_ap({"v": found}, gt) == pytest.approx(0.6, abs=1e-15)
    # Plus a box on frame 4 (no gas there) ranked first: an FP, then TP k (k = 1..6) at rank
    # k + 1 steps recall by 1/10 from precision (k-1)/k to k/(k+1).
    dets = {"v": np.vstack((found, [4, *GT_BOX, 0.95]))}
    by_hand = sum(Fraction(1, 10) * (Fraction(k - 1, k) + Fraction(k, k + 1)) / 2
                  for k in range(1, 7))
    assert frame_ap(dets, gt) == pytest.approx(float(by_hand), abs=1e-15)  # 0.397857...
    assert frame_ap(dets, gt) == frame_ap_reference(dets, gt, [0.5])[0.5]
