"""The box-error summary (eval's "Box errors" table) on hand-built boxes."""

import math

import numpy as np
import pytest

from iodvideo.evaluation.box_errors import summarise_box_errors, top_detection_errors

GT = {"v": np.array([[1, 0, 0, 10, 10], [2, 0, 0, 10, 10], [3, 0, 0, 10, 10]], float)}


def test_top_detection_is_split_into_centre_and_size_error():
    dets = {"v": np.array([
        [1, 2, 0, 12, 10, 0.9],    # frame 1: right size, 2 px (0.2 w) to the right
        [1, 0, 0, 10, 10, 0.1],    # a perfect box with a lower score: not the top one
        [2, -5, -5, 15, 15, 0.8],  # frame 2: centred, twice the size
    ])}                            # frame 3: no detection, not scored
    rows = top_detection_errors(dets, GT)
    assert rows.shape == (2, 7)
    iou, dx, dy, log_w, log_h, centred, sized = rows[0]
    # the evaluator's +1 pixel IoU: 11×11 boxes overlapping 9×11
    assert iou == pytest.approx(99 / 143) and dx == pytest.approx(0.2) and dy == 0
    assert log_w == log_h == 0 and centred == pytest.approx(1.0) and sized == pytest.approx(iou)
    iou, dx, dy, log_w, log_h, centred, sized = rows[1]
    assert iou == pytest.approx(121 / 441) and dx == dy == 0
    assert log_w == pytest.approx(math.log(2)) and centred == pytest.approx(121 / 441)
    assert sized == pytest.approx(1.0)


def test_summary_rates_and_hits():
    dets = {"v": np.array([[1, 1, 0, 11, 10, 0.9], [2, -5, -5, 15, 15, 0.8]])}
    out = summarise_box_errors(dets, GT)
    assert out["gt_boxes"] == 3 and out["scored_frames"] == 2
    assert out["top1_iou>=0.5"] == pytest.approx(50.0)  # frame 1 (IoU 0.82), not frame 2 (0.25)
    assert out["top1_iou>=0.75"] == pytest.approx(50.0)
    assert out["top1_iou>=0.75_if_sized"] == pytest.approx(100.0)
    assert out["top1_iou>=0.75_if_centred"] == pytest.approx(50.0)
    assert out["hits_median_abs_dx"] == pytest.approx(0.1)
    assert out["hits_log_w_mean"] == 0.0


def test_no_detections_gives_counts_only():
    out = summarise_box_errors({}, GT)
    assert out == {"gt_boxes": 3, "scored_frames": 0}
