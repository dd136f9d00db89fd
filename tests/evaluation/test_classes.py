"""Several classes: each class scored on its own against its own GT, and the mean (the
reference evaluator's per-label loop); one class is scored exactly as before."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from iodvideo.detections import clips_to_frame_detections
from iodvideo.evaluation.classes import mean_over_classes, paper_metrics_by_class
from iodvideo.evaluation.metrics import METRIC_NAMES, paper_metrics
from iodvideo.evaluation.torchmetric import FrameAP

from .helpers import tube

VIDEOS = ["v/001_valve_static_clear", "v/002_wild_dynamic_vague", "v/003_pipe_static_clear"]
CLIP_LEN = 3


def _clips(rng: np.random.Generator, gt: dict[str, np.ndarray], noise: float) -> dict:
    """``{video: {start: (4, 4K+1)}}`` tubelets around each frame's GT box."""
    out = {}
    for video, boxes in gt.items():
        out[video] = {}
        for start in range(1, len(boxes) - CLIP_LEN + 2):
            key = boxes[start - 1, 1:5]
            tub = key + rng.normal(0, noise, (4, CLIP_LEN, 4))
            out[video][start] = np.hstack((tub.reshape(4, -1), rng.uniform(size=(4, 1))))
    return out


def _two_classes() -> tuple[list[dict], list[dict]]:
    """Class 0 (gas) on videos 0 and 2, class 1 (steam) on video 1 and 2; class 1 detected
    more loosely. GT of a class absent from a video is an empty array."""
    rng = np.random.default_rng(3)
    gas = {VIDEOS[0]: tube(7), VIDEOS[1]: np.zeros((0, 5)), VIDEOS[2]: tube(6)}
    steam = {VIDEOS[0]: np.zeros((0, 5)), VIDEOS[1]: tube(7, (100.0, 60.0, 170.0, 150.0)),
             VIDEOS[2]: tube(6, (200.0, 20.0, 260.0, 90.0))}
    gt = [gas, steam]
    clips = [_clips(rng, {v: b for v, b in g.items() if len(b)}, noise)
             for g, noise in zip(gt, (4.0, 14.0), strict=True)]
    return gt, clips


def test_each_class_is_scored_alone_and_the_metrics_are_their_mean() -> None:
    gt, clips = _two_classes()
    dets = [{v: clips_to_frame_detections(c, CLIP_LEN) for v, c in per.items()} for per in clips]
    result = paper_metrics_by_class(dets, gt, ["gas", "steam"], workers=1)
    alone = [paper_metrics(d, g, workers=1).metrics for d, g in zip(dets, gt, strict=True)]
    assert alone[0]["AP@0.5:0.95"] != pytest.approx(alone[1]["AP@0.5:0.95"])  # a real mean
    for name in METRIC_NAMES:
        assert result.metrics[f"{name}/gas"] == pytest.approx(alone[0][name], nan_ok=True)
        assert result.metrics[f"{name}/steam"] == pytest.approx(alone[1][name], nan_ok=True)
        finite = [a[name] for a in alone if math.isfinite(a[name])]
        assert result.metrics[name] == pytest.approx(np.mean(finite))
    assert set(result.per_class) == {"gas", "steam"}
    # a class's detections on another class's object are false positives of that class
    crossed = [dets[0], {**dets[1], VIDEOS[0]: dets[0][VIDEOS[0]]}]
    worse = paper_metrics_by_class(crossed, gt, ["gas", "steam"], workers=1)
    assert worse.metrics["AP@0.5/steam"] < result.metrics["AP@0.5/steam"]
    assert worse.metrics["AP@0.5/gas"] == result.metrics["AP@0.5/gas"]


def test_one_class_is_paper_metrics_and_a_class_without_gt_is_left_out() -> None:
    gt, clips = _two_classes()
    dets = [{v: clips_to_frame_detections(c, CLIP_LEN) for v, c in per.items()} for per in clips]
    single = paper_metrics_by_class(dets[:1], gt[:1], ["gas"], workers=1)
    assert single.metrics == pytest.approx(paper_metrics(dets[0], gt[0], workers=1).metrics,
                                           rel=0, abs=0, nan_ok=True)
    no_smoke = {v: np.zeros((0, 5)) for v in VIDEOS}
    three = paper_metrics_by_class([*dets, {}], [*gt, no_smoke], ["gas", "steam", "smoke"],
                                   workers=1)
    two = paper_metrics_by_class(dets, gt, ["gas", "steam"], workers=1)
    assert math.isnan(three.metrics["AP@0.5/smoke"])
    assert three.metrics["AP@0.5"] == pytest.approx(two.metrics["AP@0.5"])
    with pytest.raises(ValueError, match="one of each per class"):
        paper_metrics_by_class(dets, gt[:1], ["gas", "steam"])
    assert mean_over_classes({"a": {"x": 1.0}, "b": {"x": 3.0}}) == {
        "x": 2.0, "x/a": 1.0, "x/b": 3.0}


def test_frame_ap_metric_with_labels_matches_the_per_class_evaluation() -> None:
    gt, clips = _two_classes()
    all_gt = {v: np.concatenate([g[v] for g in gt]) for v in VIDEOS}
    metric = FrameAP(VIDEOS, all_gt, CLIP_LEN, paper_metrics=True, class_gt=gt,
                     labels=["gas", "steam"])
    n = 4
    for vi, video in enumerate(VIDEOS):
        starts = sorted(set().union(*(per.get(video, {}).keys() for per in clips)))
        for start in starts:
            parts = [per[video][start] if start in per.get(video, {}) else np.zeros((0, 13))
                     for per in clips]
            tubelets = np.concatenate(parts)
            labels = np.concatenate([np.full(len(p), c) for c, p in enumerate(parts)])
            pad = 2 * n - len(tubelets)  # a fixed N per clip: pad with zero-score tubelets
            tubelets = np.vstack((tubelets, np.zeros((pad, 13))))
            labels = np.concatenate((labels, np.zeros(pad, dtype=np.int64)))
            metric.update(torch.tensor(tubelets[None]), torch.tensor([vi]),
                          torch.tensor([start]), torch.tensor(labels[None]))
    values = {k: v.item() for k, v in metric.compute().items()}
    assert "AP@0.5/gas" in values and "AP@0.5/steam" in values
    assert values["AP@0.5"] == pytest.approx((values["AP@0.5/gas"] + values["AP@0.5/steam"]) / 2)
    assert values["AP@0.5/steam"] < values["AP@0.5/gas"]
    with pytest.raises(ValueError, match="needs the tubelets' labels"):
        metric.update(torch.zeros(1, 2, 13), torch.zeros(1), torch.ones(1))
    with pytest.raises(ValueError, match="give both"):
        FrameAP(VIDEOS, all_gt, CLIP_LEN, class_gt=gt[:1], labels=["gas"])
