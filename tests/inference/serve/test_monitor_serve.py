"""``python -m iodvideo.monitor ... serve.enabled=true`` end to end on 127.0.0.1: a short
SynthIOD video, a tiny checkpoint, and the alarm of events.jsonl seen live in the status,
in the paged history and on the Server-Sent Events stream; the refusal to serve beyond
loopback without a token; a programmatic stop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from cli_support import REPO, base_config
from iodvideo.errors import ConfigError
from iodvideo.inference.serve.auth import TOKEN_ENV
from iodvideo.monitor import monitor
from serve_support import TIMEOUT, get_json, request, sse_events

SERVED = {"serve.enabled": True, "serve.port": 0, "max_boxes": 1, "alarm.on_seconds": 0.4}


def _start(cfg: Any, on_serving: Any) -> tuple[threading.Thread, threading.Event, dict]:
    stop, result = threading.Event(), {}

    def run() -> None:
        try:
            result["summary"] = monitor(cfg, stop=stop, on_serving=on_serving)
        except BaseException as err:  # noqa: BLE001 - reported by the test
            result["error"] = err

    thread = threading.Thread(target=run, name="monitor-under-test", daemon=True)
    thread.start()
    return thread, stop, result


def _strip(event: dict) -> dict:
    return {k: v for k, v in event.items() if k not in ("id", "thumbnail")}


def test_served_monitor_delivers_the_alarm_of_the_jsonl(
        fixed_box_ckpt: Path, plume_video: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    served: dict[str, Any] = {}

    def on_serving(url: str) -> None:  # before the first frame: nothing can be missed
        served["url"] = url
        served["feed"] = urllib.request.urlopen(url + "api/events/stream", timeout=TIMEOUT)

    cfg = base_config("monitor", out, ckpt=str(fixed_box_ckpt), source=str(plume_video),
                      **SERVED)  # realtime: the 40 frames take at least 1.6 s
    thread, stop, result = _start(cfg, on_serving)
    statuses = []
    try:
        deadline = time.monotonic() + 240
        while "url" not in served and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "url" in served, result
        url = served["url"]
        assert url.startswith("http://127.0.0.1:")
        while time.monotonic() < deadline:  # the run goes on; the server lingers after it
            statuses.append(get_json(url + "api/status"))
            if statuses[-1]["state"] == "ended":
                break
            time.sleep(0.05)
        assert statuses[-1]["state"] == "ended", statuses[-1]
        assert thread.is_alive()  # linger_seconds=null: still serving the final state

        file_events = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
        assert [e["event"] for e in file_events] == ["alarm", "cleared"]
        alarm = file_events[0]
        assert alarm["frame"] == 10 and alarm["track"] == 1  # 0.4 s at 25 fps

        # live: some status showed the alarm with its track while it was on
        during = [s for s in statuses if s["alarm"]]
        assert during and all(s["state"] == "running" for s in during)
        assert any(t["track"] == 1 and t["alarmed"] for s in during for t in s["tracks"])
        assert all(s["model"]["backbone"] == "tsm" for s in statuses)
        final = statuses[-1]
        assert final["alarm"] is False and final["tracks"] == [] and final["frame"] == 40
        assert final["events"] == {"alarm": 1, "cleared": 1}
        assert final["detail"]["summary"]["alarms"] == 1 and final["fps"] > 0

        # the history and the event stream hold exactly the file's events
        history = get_json(url + "api/events?limit=10")["events"]
        assert [_strip(e) for e in reversed(history)] == file_events
        streamed = sse_events(served["feed"], until="cleared")
        assert [_strip(data) for name, data in streamed if name != "state"] == file_events
        assert [name for name, _ in streamed if name != "state"] == ["alarm", "cleared"]

        code, headers, picture = request(url + history[-1]["thumbnail"].lstrip("/"))
        assert code == 200 and picture[:2] == b"\xff\xd8"  # the frame that raised it
        code, headers, frame = request(url + "frame.jpg")
        assert code == 200 and headers["x-frame-number"] == "40"  # the final state
    finally:
        stop.set()
        if "feed" in served:
            served["feed"].close()
        thread.join(60)
    assert not thread.is_alive() and "error" not in result, result
    summary = result["summary"]
    assert summary["alarms"] == 1 and summary["frames"] == 40
    assert not _port_open(url)  # stopped: the server went with the run


def _port_open(url: str) -> bool:
    try:
        request(url + "healthz", timeout=2)
    except OSError:
        return False
    return True


@pytest.mark.slow  # two runs, one of them 20 s of video cut short
def test_stop_ends_a_run_early_and_linger_zero_ends_at_once(
        fixed_box_ckpt: Path, plume_video: Path, tmp_path: Path) -> None:
    urls: list[str] = []
    cfg = base_config("monitor", tmp_path / "a", ckpt=str(fixed_box_ckpt),
                      source=str(plume_video), fps=2.0, **SERVED)  # 20 s of video
    thread, stop, result = _start(cfg, urls.append)
    deadline = time.monotonic() + 240
    while not urls and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert urls, result
    while get_json(urls[0] + "api/status")["frame"] is None and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    thread.join(60)
    assert not thread.is_alive() and result["summary"]["interrupted"] is True
    assert result["summary"]["frames"] < 40
    assert not _port_open(urls[0])  # the server stopped with the run

    cfg = base_config("monitor", tmp_path / "b", ckpt=str(fixed_box_ckpt),
                      source=str(plume_video), **SERVED,
                      **{"serve.linger_seconds": 0, "serve.realtime": False})
    thread, stop, result = _start(cfg, urls.append)
    thread.join(240)
    assert not thread.is_alive() and result["summary"]["frames"] == 40


def test_refuses_to_serve_beyond_loopback_without_a_token(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    cfg = base_config("monitor", tmp_path, ckpt="missing.ckpt", source="missing.mp4",
                      **{"serve.enabled": True, "serve.host": "0.0.0.0"})
    with pytest.raises(ConfigError, match="serve.host=0.0.0.0 .*token"):
        monitor(cfg)  # before the checkpoint is even opened


@pytest.mark.slow
def test_cli_refusal_is_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    proc = subprocess.run(
        [sys.executable, "-m", "iodvideo.monitor", "ckpt=missing.ckpt", "source=missing.mp4",
         "serve.enabled=true", "serve.host=0.0.0.0", f"hydra.run.dir={tmp_path}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: serve.host=0.0.0.0 is reachable from other machines")
