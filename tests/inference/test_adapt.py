"""Test-time adaptation (``iodvideo.inference.adapt``): only BatchNorm statistics change, the
same frames give bit-identical statistics, the stream and the library function agree, bad
values are refused with one line, and ``predict`` / ``monitor`` run with ``adapt.*``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from cli_support import base_config, run_module
from iodvideo.errors import ConfigError
from iodvideo.inference.adapt import (
    STAT_SUFFIXES,
    AdaptOptions,
    StreamAdapter,
    adapt_batchnorm,
    adapt_runner,
    restore_statistics,
    statistics_snapshot,
)
from iodvideo.inference.stream.runner import ClipRunner


def _frames(count: int, seed: int = 0, level: float = 0.0) -> list[np.ndarray]:
    """Random BGR frames, brighter with ``level`` (another "camera")."""
    rng = np.random.default_rng(seed)
    return [np.clip(rng.normal(100 + level, 30, (40, 48, 3)), 0, 255).astype(np.uint8)
            for _ in range(count)]


@pytest.fixture
def runner(tsm_ckpt: Path) -> ClipRunner:
    return ClipRunner.from_checkpoint(tsm_ckpt, "cpu")  # K = 4, input 64, fresh each test


def _is_stat(name: str) -> bool:
    return name.rsplit(".", 1)[-1] in STAT_SUFFIXES


def test_only_batchnorm_statistics_change_and_the_model_stays_in_eval(runner: ClipRunner
                                                                      ) -> None:
    detector = runner.detector
    before = {k: v.clone() for k, v in detector.state_dict().items()}
    norms = [m for m in detector.modules() if isinstance(m, nn.BatchNorm2d)]
    momenta = [m.momentum for m in norms]  # 0.1, the neck's 0.01
    result = adapt_runner(runner, _frames(7, level=60), 7)
    assert (result.frames, result.clips, result.prior) == (7, 4, 0.0)  # windows 1-4 .. 4-7
    assert result.layers == len(norms)
    after = detector.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(_is_stat(k) for k in changed)  # no weight, no other buffer
    means = [k for k in before if k.endswith("running_mean")]
    assert {k for k in means if k in changed} == set(means)  # every BatchNorm re-estimated
    assert all(not m.training for m in detector.modules())
    assert [m.momentum for m in norms] == momenta
    # the statistics are now the camera's: the detector's eval output moved
    clip = runner.preprocess(np.stack(_frames(4, seed=5, level=60)))[None]
    adapted = runner.forward(clip)["hm"]
    restore_statistics(detector, {k: before[k] for k in before if _is_stat(k)})
    assert not torch.equal(runner.forward(clip)["hm"], adapted)
    assert all(torch.equal(v, before[k]) for k, v in detector.state_dict().items())


def test_same_frames_give_bit_identical_statistics_by_every_path(runner: ClipRunner) -> None:
    detector, frames = runner.detector, _frames(9, seed=1)
    original = statistics_snapshot(detector)
    adapt_runner(runner, frames, 9, stride=2)
    first = statistics_snapshot(detector)
    restore_statistics(detector, original)
    adapt_runner(runner, iter(frames), 9, stride=2)  # a generator, as a decoder gives
    assert all(torch.equal(first[k], v) for k, v in statistics_snapshot(detector).items())

    restore_statistics(detector, original)  # the library function on the same clips
    clips = [runner.preprocess(np.stack(frames[s:s + 4])) for s in (0, 2, 4)]
    assert adapt_batchnorm(detector, clips).clips == 3
    assert all(torch.equal(first[k], v) for k, v in statistics_snapshot(detector).items())

    restore_statistics(detector, original)  # pushed one at a time, as the monitor does
    adapter = StreamAdapter(detector, runner.preprocess, 9, stride=2)
    assert [adapter.push(f) for f in frames] == [False] * 8 + [True]
    assert adapter.status()["message"] == "calibrated on 9 frames (3 clips)"
    assert all(torch.equal(first[k], v) for k, v in statistics_snapshot(detector).items())

    restore_statistics(detector, original)  # prior 0.5: halfway to the checkpoint's
    adapt_runner(runner, frames, 9, stride=2, prior=0.5)
    for key, value in statistics_snapshot(detector).items():
        if key.endswith(("running_mean", "running_var")):
            torch.testing.assert_close(value, 0.5 * first[key] + 0.5 * original[key])


def test_a_stream_that_ends_early_keeps_what_it_saw(runner: ClipRunner) -> None:
    detector = runner.detector
    original = statistics_snapshot(detector)
    seen = []
    adapter = StreamAdapter(detector, runner.preprocess, 10, on_progress=lambda a: seen.append(
        a.status()["message"]))
    for frame in _frames(6):
        assert not adapter.push(frame)
    assert all(m.training for m in detector.modules() if isinstance(m, nn.BatchNorm2d))
    result = adapter.end()
    assert result is not None and (result.frames, result.clips) == (6, 3)
    assert seen[0] == "calibrating (1/10 frames)" and seen[-2] == "calibrating (6/10 frames)"
    assert seen[-1] == "calibrated on 6 frames (3 clips)"
    assert all(not m.training for m in detector.modules())

    restore_statistics(detector, original)
    short = StreamAdapter(detector, runner.preprocess, 10)
    for frame in _frames(3):
        short.push(frame)
    assert short.end() is None and short.status()["state"] == "abandoned"
    assert all(torch.equal(original[k], v) for k, v in statistics_snapshot(detector).items())
    assert all(not m.training for m in detector.modules())


@pytest.mark.parametrize(("values", "message"), [
    ({"frames": -5}, r"adapt.frames must be an integer >= 0, got -5"),
    ({"frames": 2.5}, r"adapt.frames must be an integer"),
    ({"frames": "75"}, r"adapt.frames must be an integer"),
    ({"seconds": -1}, r"adapt.seconds must be a number >= 0"),
    ({"frames": 10, "seconds": 2}, r"adapt.frames or adapt.seconds, not both"),
    ({"stride": 0}, r"adapt.stride must be an integer >= 1"),
    ({"prior": 1.0}, r"adapt.prior must be in \[0, 1\)"),
    ({"franes": 10}, r"unknown key\(s\) \['franes'\]"),
])
def test_bad_options_are_refused(values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        AdaptOptions.from_mapping(values)
    assert "\n" not in str(info.value)


def test_options_off_frames_and_seconds() -> None:
    assert not AdaptOptions.from_mapping(None).enabled
    assert not AdaptOptions.from_mapping({"frames": 0, "seconds": None}).enabled
    assert AdaptOptions.from_mapping({"frames": 75}).frame_count(25.0) == 75
    assert AdaptOptions.from_mapping({"seconds": 3}).frame_count(25.0) == 75
    assert AdaptOptions.from_mapping({"seconds": 0.5, "frames": 0}).frame_count(30.0) == 15


def test_bad_input_is_refused_and_leaves_the_statistics(runner: ClipRunner) -> None:
    detector = runner.detector
    original = statistics_snapshot(detector)
    with pytest.raises(ConfigError, match=r"3 frame\(s\) are fewer than one clip \(4 frames\)"):
        StreamAdapter(detector, runner.preprocess, 3)
    with pytest.raises(ConfigError, match=r"the input has 2 frame\(s\), fewer than one clip"):
        adapt_runner(runner, _frames(2), 8)
    with pytest.raises(ConfigError, match="no clip"):
        adapt_batchnorm(detector, [])
    with pytest.raises(ConfigError, match=r"T=4, got \(3, 3, 64, 64\)"):
        adapt_batchnorm(detector, [torch.zeros(4, 3, 64, 64), torch.zeros(3, 3, 64, 64)])
    assert all(torch.equal(original[k], v) for k, v in statistics_snapshot(detector).items())
    assert all(not m.training for m in detector.modules())
    without = nn.Sequential(nn.Conv2d(3, 3, 1), nn.GroupNorm(1, 3))
    with pytest.raises(ConfigError, match="no BatchNorm layer"):
        adapt_batchnorm(without, [torch.zeros(1, 3, 4, 4)])


def test_predict_adapts_each_video_from_the_checkpoint(tsm_ckpt: Path, plume_video: Path,
                                                       tmp_path: Path) -> None:
    """Two copies of one video, prior 0.5: the second must start from the checkpoint's
    statistics again (not the first video's), so both give the same detections."""
    from iodvideo.predict import predict

    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("a.avi", "b.avi"):
        os.symlink(plume_video, videos / name)
    cfg = base_config("predict", tmp_path / "out", ckpt=str(tsm_ckpt), input=str(videos),
                      progress=False, **{"adapt.frames": 8, "adapt.prior": 0.5,
                                         "render.mp4": False, "render.gif": False})
    first, second = predict(cfg)
    assert first["adapt"] == second["adapt"] | {"seconds": first["adapt"]["seconds"]}
    assert first["adapt"]["frames"] == 8 and first["adapt"]["clips"] == 5
    a, b = ((tmp_path / "out" / n / "detections.csv").read_text() for n in ("a", "b"))
    assert a == b and len(a.splitlines()) == 41  # header + one row per frame

    plain = base_config("predict", tmp_path / "plain", ckpt=str(tsm_ckpt),
                        input=str(videos / "a.avi"), progress=False,
                        **{"render.mp4": False, "render.gif": False})
    (summary,) = predict(plain)
    assert "adapt" not in summary
    assert (tmp_path / "plain" / "detections.csv").read_text() != a  # the statistics matter


def test_predict_refuses_a_video_shorter_than_one_clip(tsm_ckpt: Path, plume_root: Path,
                                                       tmp_path: Path) -> None:
    from iodvideo.predict import predict

    frames = sorted((plume_root / "Frames" / "TrueLeakedGas" / "001_factory_static_clear")
                    .glob("*.png"))[:2]
    for frame in frames:
        (tmp_path / frame.name).write_bytes(frame.read_bytes())
    cfg = base_config("predict", tmp_path / "out", ckpt=str(tsm_ckpt),
                      input=str(tmp_path / "*.png"), progress=False, **{"adapt.frames": 8})
    with pytest.raises(ConfigError, match=r"2 frame\(s\), fewer than one clip \(4\)"):
        predict(cfg)


def test_monitor_calibrates_on_the_first_frames_then_detects(tsm_ckpt: Path, plume_video: Path,
                                                             tmp_path: Path) -> None:
    from iodvideo.monitor import monitor

    out = tmp_path / "monitor"
    cfg = base_config("monitor", out, ckpt=str(tsm_ckpt), source=str(plume_video),
                      max_frames=14, **{"adapt.frames": 8, "render.mp4": True})
    summary = monitor(cfg)
    lines = [json.loads(x) for x in (out / "detections.jsonl").read_text().splitlines()]
    assert [x["frame"] for x in lines] == list(range(9, 15))  # detection starts at N+1
    assert lines[0]["time"] == pytest.approx(8 / 25)
    events = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
    assert events[0]["event"] == "calibrated" and events[0]["frame"] == 8
    assert (events[0]["frames"], events[0]["clips"]) == (8, 5)
    assert summary["frames"] == 14 and summary["calibration"]["state"] == "done"
    assert (out / "monitor.mp4").stat().st_size > 0  # calibration frames are drawn too


@pytest.mark.slow  # two command lines in subprocesses
def test_cli_refusals_are_one_line(tmp_path: Path) -> None:
    for module, args in [("iodvideo.predict", ["input=missing.mp4", "adapt.frames=-3"]),
                         ("iodvideo.monitor", ["source=missing.mp4", "adapt.stride=0"])]:
        proc = run_module(module, "ckpt=missing.ckpt", *args,
                          f"hydra.run.dir={tmp_path / module}", timeout=120)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr
        assert lines[0].startswith("error: adapt.")  # before the checkpoint is opened
