"""The torchmetrics wrapper accumulates clips over batches and gives frame_ap_at's numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from iodvideo.evaluation import frame_ap_at
from iodvideo.evaluation.metrics import paper_metrics
from iodvideo.evaluation.torchmetric import FrameAP
from iodvideo.inference import clips_to_frame_detections

from .helpers import tube

VIDEOS = ["TrueLeakedGas/001_valve_static_clear", "TrueLeakedGas/002_wild_dynamic_vague"]


def test_accumulates_batches_and_matches_frame_ap() -> None:
    rng = np.random.default_rng(0)
    clip_len, n = 3, 5
    gt = {VIDEOS[0]: tube(6), VIDEOS[1]: tube(5, (100.0, 60.0, 170.0, 150.0))}
    clips = []
    for vi, video in enumerate(VIDEOS):
        for start in range(1, len(gt[video]) - clip_len + 2):
            key = gt[video][start - 1, 1:5]
            boxes = key + rng.normal(0, 8, (n, clip_len, 4))
            tubelets = np.hstack((boxes.reshape(n, -1), rng.uniform(size=(n, 1))))
            clips.append((vi, start, tubelets))
    metric = FrameAP(VIDEOS, gt, clip_len, iou_thresholds=(0.5, 0.75))
    order = rng.permutation(len(clips))
    for batch in np.array_split(order, 3):  # clips arrive in any order, several batches
        metric.update(
            torch.tensor(np.stack([clips[i][2] for i in batch])),
            torch.tensor([clips[i][0] for i in batch]),
            torch.tensor([clips[i][1] for i in batch]),
        )
    values = metric.compute()
    dets = {
        v: clips_to_frame_detections({s: t for vi, s, t in clips if vi == i}, clip_len)
        for i, v in enumerate(VIDEOS)
    }
    expected = frame_ap_at(dets, gt, [0.5, 0.75])
    assert values["frameAP@0.5"].item() == pytest.approx(100 * expected[0.5])
    assert values["frameAP@0.75"].item() == pytest.approx(100 * expected[0.75])
    assert 0 < values["frameAP@0.5"].item() <= 100

    paper = FrameAP(VIDEOS, gt, clip_len, paper_metrics=True)
    paper.update(torch.tensor(np.stack([c[2] for c in clips])),
                 torch.tensor([c[0] for c in clips]), torch.tensor([c[1] for c in clips]))
    five = {k: v.item() for k, v in paper.compute().items()}
    assert five == pytest.approx(paper_metrics(dets, gt).metrics)
    metric.reset()
    assert metric.frame_detections() == {}
    with pytest.raises(ValueError, match="tubelets must be"):
        metric.update(torch.zeros(1, 2, 5), torch.zeros(1), torch.ones(1))


def test_frame_detections_after_a_ddp_style_sync() -> None:
    """After a distributed sync, list states become one concatenated tensor each."""
    from torchmetrics.utilities.data import dim_zero_cat

    gt = {VIDEOS[0]: tube(4)}
    metric = FrameAP(VIDEOS[:1], gt, clip_len=2)
    boxes = np.tile(gt[VIDEOS[0]][:2, 1:5].reshape(1, -1), (1, 1))
    tubelets = torch.tensor(np.hstack((boxes, [[0.9]])))[None]
    metric.update(tubelets, torch.tensor([0]), torch.tensor([1]))
    before = metric.frame_detections()
    for name in ("tubelets", "video_idx", "start"):
        setattr(metric, name, dim_zero_cat(getattr(metric, name)))
    after = metric.frame_detections()
    assert list(after) == VIDEOS[:1]
    np.testing.assert_array_equal(after[VIDEOS[0]], before[VIDEOS[0]])
    assert after[VIDEOS[0]].shape == (2, 6)
