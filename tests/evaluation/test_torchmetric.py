"""The validation/test metric accumulates clips over batches and gives frame_ap_at's numbers,
scored only against the frames the clips cover."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from iodvideo.detections import clips_to_frame_detections
from iodvideo.evaluation import frame_ap_at
from iodvideo.evaluation.metrics import METRIC_NAMES, METRICS, paper_metrics
from iodvideo.evaluation.torchmetric import FrameAP, covered_ground_truth

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
    named = {k: v.item() for k, v in paper.compute().items()}
    assert set(named) == {*METRICS, "num_clips"}  # both visibilities present: all defined
    expected_named = paper_metrics(dets, gt, names=tuple(METRICS)).metrics
    assert {k: named[k] for k in METRICS} == pytest.approx(expected_named)
    assert named["num_clips"] == values["num_clips"].item() == len(clips)
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


def _clip(box: np.ndarray, clip_len: int, score: float = 0.9) -> np.ndarray:
    return np.r_[np.tile(box, clip_len), score][None]


def test_partial_pass_is_scored_only_on_covered_frames() -> None:
    """Clips covering frames 1-4 of a 10-frame video (and none of the other video) score
    100 %: the unseen frames and the unseen video are not counted as misses."""
    clip_len = 2
    gt = {VIDEOS[0]: tube(10), VIDEOS[1]: tube(6)}
    metric = FrameAP(VIDEOS, gt, clip_len, iou_thresholds=(0.5,))
    box = gt[VIDEOS[0]][0, 1:5]
    tubelets = torch.tensor(np.stack([_clip(box, clip_len), _clip(box, clip_len)]))
    metric.update(tubelets, torch.tensor([0, 0]), torch.tensor([1, 3]))
    assert metric.compute()["frameAP@0.5"].item() == pytest.approx(100.0)
    covered = covered_ground_truth(metric.clip_detections(), VIDEOS, gt, clip_len)
    assert list(covered) == [VIDEOS[0]]
    np.testing.assert_array_equal(covered[VIDEOS[0]][:, 0], [1, 2, 3, 4])
    full = frame_ap_at(metric.frame_detections(), gt, [0.5])[0.5]
    assert full == pytest.approx(4 / 16)  # what the uncovered frames would have cost


def test_named_metrics_without_vague_videos_leave_out_the_vague_ap() -> None:
    gt = {VIDEOS[0]: tube(4)}
    metric = FrameAP(VIDEOS[:1], gt, clip_len=4, paper_metrics=True)
    box = gt[VIDEOS[0]][0, 1:5]
    metric.update(torch.tensor(_clip(box, 4))[None], torch.tensor([0]), torch.tensor([1]))
    values = metric.compute()
    assert set(METRIC_NAMES) <= set(values) and "AP@0.5_clear" in values
    assert "AP@0.5_vague" not in values  # undefined without vague videos: not logged
    assert values["AP@0.5"].item() == pytest.approx(100.0)
    with pytest.warns(UserWarning, match="before the ``update``"):
        assert FrameAP(VIDEOS[:1], gt, clip_len=4).compute() == {}  # nothing seen: no values


def test_covered_ground_truth_cuts_tubes_to_the_clips_frames() -> None:
    """Partial validation: each reached video's GT cut to the frames its clips cover; videos
    never reached drop out."""
    gt_tube = np.array([[f, 0, 0, 10, 10] for f in range(1, 21)], dtype=np.float64)
    videos = ["a", "b", "c"]
    gt = {"a": gt_tube, "b": gt_tube[:12], "c": gt_tube}
    clips = {0: {1: None, 3: None}, 2: {15: None}}  # video b was never reached
    covered = covered_ground_truth(clips, videos, gt, clip_len=4)
    assert list(covered) == ["a", "c"]
    assert covered["a"][:, 0].tolist() == [1, 2, 3, 4, 5, 6]
    assert covered["c"][:, 0].tolist() == [15, 16, 17, 18]
