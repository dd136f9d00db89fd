"""The +1-pixel IoU every consumer shares (rescoring, matching, linking, alarms)."""

from __future__ import annotations

import numpy as np

from iodvideo.detections.iou import column_iou, iou_elementwise, iou_plus1


def test_iou_plus1_counts_inclusive_pixels() -> None:
    box = np.array([0.0, 0.0, 9.0, 9.0])
    others = np.array([[1, 0, 10, 9], [0, 0, 9, 9], [10, 0, 19, 9], [9, 9, 18, 18]], float)
    np.testing.assert_allclose(iou_plus1(box, others), [90 / 110, 1.0, 0.0, 1 / 199])



def test_elementwise_and_column_forms_agree_with_the_one_box_form() -> None:
    rng = np.random.default_rng(0)
    corners = rng.uniform(0, 50, (20, 2))
    boxes = np.hstack((corners, corners + rng.uniform(1, 30, (20, 2))))
    pairwise = iou_elementwise(boxes[:, None], boxes[None])
    for i in range(len(boxes)):
        np.testing.assert_array_equal(pairwise[i], iou_plus1(boxes[i], boxes))
    u, v = np.arange(19), np.arange(1, 20)
    columns = [np.ascontiguousarray(boxes[:, k]) for k in range(4)]
    np.testing.assert_array_equal(column_iou(*columns, u, v), pairwise[u, v])
    assert np.isnan(iou_plus1([0, 0, -1, -1], [[0, 0, -1, -1]])[0])  # 0/0 as the reference
