"""The monitor page while ``adapt.*`` calibrates: the hub's state is ``calibrating`` with
"calibrating (i/N frames)" in ``/api/status`` (and the page shows it), then ``running``; end to
end on 127.0.0.1 with a short SynthIOD video."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

from cli_support import base_config
from iodvideo.inference.serve.hub import STATE, Hub
from iodvideo.inference.serve.page import PAGE
from iodvideo.inference.serve.publisher import follow_calibration
from iodvideo.monitor import monitor
from serve_support import get_json


class _FakeCalibration:
    """What the hub follows of a StreamAdapter: progress after every frame."""

    def __init__(self, total: int) -> None:
        self.total, self.seen, self.on_progress = total, 0, None

    @property
    def done(self) -> bool:
        return self.seen >= self.total

    def status(self) -> dict[str, Any]:
        state = "done" if self.done else "calibrating"
        return {"state": state, "message": f"calibrating ({self.seen}/{self.total} frames)"}

    def push(self) -> None:
        self.seen += 1
        self.on_progress(self)


def test_hub_state_follows_the_calibration() -> None:
    hub, changes = Hub(), []
    hub.add_listener(changes.append)
    follow_calibration(hub, None)
    assert hub.state == "running" and "calibration" not in hub.status()

    hub, calibration = Hub(), _FakeCalibration(3)
    hub.add_listener(changes.append)
    changes.clear()
    follow_calibration(hub, calibration)
    status = hub.status()
    assert status["state"] == "calibrating"
    assert status["calibration"]["message"] == "calibrating (0/3 frames)"
    calibration.push()
    calibration.push()
    assert hub.status()["calibration"]["message"] == "calibrating (2/3 frames)"
    assert changes == [STATE]  # progress is polled: no wake-up per frame
    calibration.push()
    assert hub.state == "running" and changes == [STATE, STATE]
    assert hub.status()["calibration"]["state"] == "done"


def test_the_page_shows_the_calibration() -> None:
    assert 'status.state === "calibrating"' in PAGE and 'id="calibration"' in PAGE
    assert '"calibrated"]' in PAGE  # the event log lists the calibrated event


def test_served_monitor_says_calibrating_then_detects(
        fixed_box_ckpt: Path, plume_video: Path, tmp_path: Path) -> None:
    out, urls, result = tmp_path / "run", [], {}
    stop = threading.Event()
    cfg = base_config("monitor", out, ckpt=str(fixed_box_ckpt), source=str(plume_video),
                      max_boxes=1, **{"serve.enabled": True, "serve.port": 0,
                                      "adapt.frames": 25, "alarm.on_seconds": 0.2})

    def run() -> None:
        try:
            result["summary"] = monitor(cfg, stop=stop, on_serving=urls.append)
        except BaseException as err:  # noqa: BLE001 - reported by the test
            result["error"] = err

    thread = threading.Thread(target=run, name="monitor-under-test", daemon=True)
    thread.start()
    statuses = []
    try:
        deadline = time.monotonic() + 240
        while not urls and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert urls, result
        while time.monotonic() < deadline:  # realtime: 25 calibration frames take >= 1 s
            statuses.append(get_json(urls[0] + "api/status"))
            if statuses[-1]["state"] == "ended":
                break
            time.sleep(0.03)
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive() and "error" not in result, result
    calibrating = [s for s in statuses if s["state"] == "calibrating"]
    assert calibrating, statuses[:3]
    seen = []
    for status in calibrating:
        match = re.fullmatch(r"calibrating \((\d+)/25 frames\)", status["calibration"]["message"])
        assert match, status["calibration"]
        seen.append(int(match[1]))
        assert not status["alarm"] and status["tracks"] == []
    assert seen == sorted(seen) and max(seen) < 25
    assert statuses[-1]["calibration"]["message"] == "calibrated on 25 frames (22 clips)"
    assert statuses[-1]["events"]["calibrated"] == 1
    events = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
    assert events[0]["event"] == "calibrated" and events[0]["frame"] == 25
    assert "alarm" in [e["event"] for e in events[1:]]  # detection went on after it
    frames = [json.loads(x)["frame"] for x in (out / "detections.jsonl").read_text().splitlines()]
    assert frames == list(range(26, 41))
