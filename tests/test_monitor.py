"""Monitor: alarm hysteresis, one alarm per persistent plume on a SynthIOD stream and none
without gas, per-frame output, dropped live streams."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cli_support import VIDEO, base_config
from iodvideo.inference.stream.alarm import AlarmConfig, AlarmMonitor
from iodvideo.inference.stream.engines import ClipEngine
from iodvideo.inference.stream.runner import ClipRunner
from iodvideo.inference.stream.sources import CaptureSource, open_source
from iodvideo.monitor import Monitor
from stream_support import FrameDifferenceDetector

BOX = np.array([[20.0, 20.0, 40.0, 40.0]])


def _feed(monitor: AlarmMonitor, scores: list[float], box: np.ndarray = BOX) -> list[dict]:
    events = []
    for frame, score in enumerate(scores, start=1):
        boxes = box if score > 0 else np.empty((0, 4))
        values = np.array([score]) if score > 0 else np.empty(0)
        events += monitor.update(frame, (frame - 1) / 10, boxes, values)
    return events + monitor.close(len(scores), (len(scores) - 1) / 10)


def test_alarm_hysteresis() -> None:
    cfg = AlarmConfig(on_score=0.6, off_score=0.3, on_seconds=0.5, off_seconds=0.5,
                      max_gap_seconds=0.1)  # at 10 fps: 5 frames on, 5 off, gap 1
    # rises, flickers between the two thresholds and briefly disappears, then goes away
    scores = [0.7] * 6 + [0.5, 0.65, 0.4, 0.0, 0.0, 0.45, 0.7] * 3 + [0.0] * 8
    events = _feed(AlarmMonitor(cfg, 10.0), scores)
    assert [e["event"] for e in events] == ["alarm", "cleared"]
    alarm, cleared = events
    assert alarm["start_frame"] == 1 and alarm["frame"] == 5 and alarm["peak_score"] == 0.7
    assert alarm["box"] == [20.0, 20.0, 40.0, 40.0]
    assert cleared["last_frame"] == 27 and cleared["frame"] == 32
    assert cleared["reason"] == "no detection"


def test_no_alarm_below_threshold_or_too_short() -> None:
    cfg = AlarmConfig(on_score=0.6, off_score=0.3, on_seconds=0.5, off_seconds=0.5,
                      max_gap_seconds=0.1)
    assert _feed(AlarmMonitor(cfg, 10.0), [0.55] * 40) == []  # never confident enough
    assert _feed(AlarmMonitor(cfg, 10.0), ([0.9] * 4 + [0.0] * 3) * 5) == []  # never long enough
    # a box visiting three places in turn is never back soon enough (gap 1) to form a tube
    monitor = AlarmMonitor(cfg, 10.0)
    events = []
    for frame in range(1, 30):
        box = BOX + (frame % 3) * 30
        events += monitor.update(frame, frame / 10, box, np.array([0.9]))
    assert events == []


def test_alarm_end_of_stream_and_bad_config() -> None:
    cfg = AlarmConfig(on_score=0.5, off_score=0.5, on_seconds=0.2, off_seconds=1.0)
    events = _feed(AlarmMonitor(cfg, 10.0), [0.9] * 10)
    assert [e["event"] for e in events] == ["alarm", "cleared"]
    assert events[1]["reason"] == "end of stream"
    from iodvideo.errors import ConfigError

    with pytest.raises(ConfigError):
        AlarmConfig(on_score=0.3, off_score=0.5)


def _run_monitor(video: Path) -> tuple[list[dict], list[dict]]:
    runner = ClipRunner(FrameDifferenceDetector(4, threshold=0.03, gain=100.0, box_cells=10),
                        input_size=64, top_n=5)
    source = open_source(video)
    frames, events = [], []
    alarm = AlarmConfig(on_score=0.5, off_score=0.3, on_seconds=0.4, off_seconds=0.4)
    monitor = Monitor(ClipEngine(runner), source.fps, alarm, max_boxes=3,
                      on_event=events.append, on_frame=frames.append)
    monitor.run(source)
    return frames, events


def test_one_alarm_for_a_plume_none_without(plume_root: Path, noplume_root: Path) -> None:
    frames, events = _run_monitor(plume_root / "Videos" / f"{VIDEO}.avi")
    assert [f["frame"] for f in frames] == list(range(1, 41))  # every frame gets detections
    kinds = [e["event"] for e in events]
    assert kinds == ["alarm", "cleared"], events
    assert events[0]["frame"] == 10  # 0.4 s at 25 fps after the first window's start
    assert events[1]["reason"] == "end of stream"
    frames, events = _run_monitor(noplume_root / "Videos" / f"{VIDEO}.avi")
    assert len(frames) == 40 and events == []


def test_monitor_cli_outputs(resnet_ckpt: Path, plume_video: Path, work: Path) -> None:
    from iodvideo.monitor import monitor

    out = work / "monitor"
    cfg = base_config("monitor", out, ckpt=str(resnet_ckpt), source=str(plume_video),
                      max_frames=20, **{"render.mp4": True})
    summary = monitor(cfg)
    lines = [json.loads(x) for x in (out / "detections.jsonl").read_text().splitlines()]
    assert [x["frame"] for x in lines] == list(range(1, 21))
    assert all(len(x["detections"]) == 5 for x in lines)
    events = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
    assert summary["alarms"] == sum(e["event"] == "alarm" for e in events)  # untrained: any
    assert summary["frames"] == 20 and summary["delay_frames"] == 0
    assert (out / "monitor.mp4").stat().st_size > 0


class _FakeCapture:
    """A live stream: every capture gives ``per_open`` frames and drops; opening fails on
    the 2nd attempt and from the 4th on (the camera is gone for good)."""

    def __init__(self, log: list[str], per_open: int) -> None:
        self.log, self.left = log, per_open
        log.append("open")
        self.number = log.count("open")

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return self.number in (1, 3)

    def get(self, prop: int) -> float:
        return 10.0

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.left == 0:
            return False, None
        self.left -= 1
        return True, np.full((8, 8), 100, dtype=np.uint8)

    def release(self) -> None:
        self.log.append("release")


def test_live_stream_reconnects_and_reports_gaps() -> None:
    opened: list[str] = []
    gaps = []
    source = CaptureSource(
        "rtsp://camera/stream", reconnect_delay=0.0, max_reconnects=3, on_gap=gaps.append,
        opener=lambda target: _FakeCapture(opened, per_open=4),
    )
    assert source.live and source.fps == 10.0
    frames = list(source)
    assert len(frames) == 8 and all(f.shape == (8, 8, 3) for f in frames)
    assert [(g.after_frame, g.attempts, g.reconnected) for g in gaps] == [
        (4, 2, True), (8, 3, False)
    ]
