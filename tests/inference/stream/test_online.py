"""TSM online mode: one frame's forward per frame, equal to the offline computation where
the two definitions coincide."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from cli_support import built_checkpoint
from iodvideo.errors import ConfigError
from iodvideo.inference.stream.engines import ClipEngine, OnlineEngine
from iodvideo.inference.stream.online import OnlineTSM
from iodvideo.inference.stream.runner import ClipRunner
from iodvideo.models.temporal.shift import TemporalShift
from stream_support import reordered_sum_atol


@pytest.fixture(scope="module", params=["motion_input", "plain_input"])
def runner(request: pytest.FixtureRequest, tsm_ckpt: Path, work: Path) -> ClipRunner:
    """The default TSM (motion channels at the input) and the paper's plain-input TSM."""
    if request.param == "motion_input":
        path = tsm_ckpt
    else:
        path = built_checkpoint(work / "tsm_plain.ckpt", "tsm", "model.motion_input=false")
    loaded = ClipRunner.from_checkpoint(path, "cpu")
    assert (loaded.detector.motion_input is not None) == (request.param == "motion_input")
    return loaded


def test_stream_of_k_frames_equals_the_clip(runner: ClipRunner) -> None:
    detector, k = runner.detector, runner.clip_len
    online = OnlineTSM(detector)
    assert online.delay == 2 * 8  # resnet18: 8 blocks, two shifts each
    clip = torch.randn(k, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        expected = detector(clip[None])
    windows = [w for frame in clip for w in online.push(frame)]
    assert windows == []  # the last frames wait for their future (or the end of the stream)
    windows = online.flush()
    assert len(windows) == 1 and windows[0][0] == 1
    for name, value in expected.items():  # one clip either way: sums reordered at most
        atol = reordered_sum_atol(detector, value)
        torch.testing.assert_close(windows[0][1][name], value, rtol=0, atol=atol)


def test_long_stream_equals_one_long_clip(runner: ClipRunner) -> None:
    """Per-frame features of a 13-frame stream == the offline backbone + neck on the 13
    frames as one clip; every K-frame window's heads == the heads on those features."""
    detector, k, length = runner.detector, runner.clip_len, 13
    frames = torch.randn(length, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    offline = copy.deepcopy(detector)
    for module in offline.modules():
        if isinstance(module, TemporalShift):
            module.time = length
    offline.backbone.clip_len = length
    clip = frames[None]
    if offline.motion_input is not None:  # the default model's motion channels
        clip = offline.motion_input(clip)
    with torch.inference_mode():
        maps = offline.neck(offline.backbone(clip))
    online = OnlineTSM(detector)
    # one frame at a time vs 13 frames in one batch: the same sums in another order
    features_atol = reordered_sum_atol(detector, maps)
    torch.testing.assert_close(online.features(frames), maps, rtol=0, atol=features_atol)
    windows = [w for frame in frames for w in online.push(frame)] + online.flush()
    assert [start for start, _ in windows] == list(range(1, length - k + 2))
    with torch.inference_mode():
        for start, out in windows:
            expected = detector.heads(maps[start - 1 : start - 1 + k])
            for name, value in expected.items():
                atol = reordered_sum_atol(detector, value)
                torch.testing.assert_close(out[name], value, rtol=0, atol=atol)


def test_engines_emit_one_window_per_frame(runner: ClipRunner) -> None:
    frames = (torch.rand(10, 64, 80, 3) * 255).to(torch.uint8).numpy()
    clip, online = ClipEngine(runner), OnlineEngine(runner)
    got_clip = [w for f in frames for w in clip.push(f)]
    got_online = [w for f in frames for w in online.push(f)] + online.flush()
    k = runner.clip_len
    assert [s for s, _ in got_clip] == [s for s, _ in got_online] == list(range(1, 11 - k + 1))
    assert got_online[0][1].shape == got_clip[0][1].shape == (runner.top_n, 4 * k + 1)


def test_online_mode_refuses_what_it_cannot_do(resnet_ckpt: Path, work: Path) -> None:
    with pytest.raises(ConfigError, match="needs a TSM checkpoint"):
        OnlineTSM(ClipRunner.from_checkpoint(resnet_ckpt, "cpu").detector)
    legacy = built_checkpoint(work / "tsm_legacy.ckpt", "tsm", "backbone.legacy_layout=true")
    with pytest.raises(ConfigError, match="legacy_layout"):
        OnlineTSM(ClipRunner.from_checkpoint(legacy, "cpu").detector)
