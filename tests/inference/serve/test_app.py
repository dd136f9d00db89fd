"""The web app on a real uvicorn server on 127.0.0.1 (a free port), its hub fed by hand: the
endpoints, MJPEG and Server-Sent Events, a stalled viewer that must not hold up the
detector's side, the token and Host rules, and a clean stop with streams still open."""

from __future__ import annotations

import base64
import hashlib
import re
import socket
import time
import urllib.request
from collections.abc import Iterator

import pytest

from iodvideo.inference.serve.app import AppSettings, create_app
from iodvideo.inference.serve.hub import Hub
from iodvideo.inference.serve.page import CSP, PAGE, SCRIPT
from iodvideo.inference.serve.server import ServerThread
from serve_support import TIMEOUT, get_json, make_view, read_part, request, sse_events

TOKEN = "s3cret-token-0123456789"


@pytest.fixture
def served() -> Iterator[tuple[Hub, ServerThread]]:
    hub = Hub({"source": "test"}, history=50)
    server = ServerThread(create_app(hub, AppSettings(
        allowed_hosts=["127.0.0.1", "localhost"], stream_fps=200, keepalive_seconds=1.0)),
        "127.0.0.1", 0)
    with server:
        yield hub, server
    assert not server.running


def test_status_events_thumbnail_frame_and_page(served: tuple[Hub, ServerThread]) -> None:
    hub, server = served
    url = server.url
    assert get_json(url + "healthz") == {"ok": True}
    assert request(url + "frame.jpg")[0] == 503  # no frame yet
    hub.publish_frame(make_view(1), tracks=[{"track": 1, "alarmed": True}])
    hub.publish_event({"event": "alarm", "track": 1, "frame": 1}, thumbnail=b"\xff\xd8pic")
    for i in range(4):
        hub.publish_event({"event": "gap", "after_frame": i})
    status = get_json(url + "api/status")
    assert status["alarm"] is True and status["frame"] == 1 and status["source"] == "test"
    assert status["tracks"] == [{"track": 1, "alarmed": True}] and status["viewers"] == 0

    page = get_json(url + "api/events?limit=2")
    assert [e["id"] for e in page["events"]] == [5, 4] and page["next_before"] == 4
    page = get_json(url + f"api/events?limit=2&before={page['next_before']}")
    assert [e["id"] for e in page["events"]] == [3, 2] and page["next_before"] == 2
    page = get_json(url + "api/events?limit=2&before=2")
    assert [e["id"] for e in page["events"]] == [1] and page["next_before"] is None
    alarm = page["events"][0]
    assert alarm["event"] == "alarm" and alarm["thumbnail"] == "/api/events/1/thumbnail.jpg"
    assert [e["id"] for e in get_json(url + "api/events?after=3")["events"]] == [4, 5]
    assert request(url + "api/events?limit=0")[0] == 400
    assert request(url + "api/events?before=x")[0] == 400

    code, headers, body = request(url + alarm["thumbnail"].lstrip("/"))
    assert code == 200 and body == b"\xff\xd8pic" and headers["content-type"] == "image/jpeg"
    assert request(url + "api/events/2/thumbnail.jpg")[0] == 404
    assert request(url + "api/events/../../etc/passwd")[0] == 404  # nothing reads files

    code, headers, body = request(url + "frame.jpg?view=diff")
    assert code == 200 and body[:2] == b"\xff\xd8" and headers["x-frame-number"] == "1"
    assert request(url + "frame.jpg?view=raw")[0] == 400

    code, headers, body = request(url)
    assert code == 200 and body.decode() == PAGE and headers["cache-control"] == "no-store"
    digest = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    assert headers["content-security-policy"] == CSP and f"'sha256-{digest}'" in CSP
    assert headers["referrer-policy"] == "no-referrer"
    # the page fetches exactly the endpoints the app serves
    for path in re.findall(r'api\("(/[^"]*)"', SCRIPT):
        assert path in {"/api/status", "/api/events/stream", "/stream.mjpg"}, path


def test_mjpeg_viewers_skip_to_the_newest_frame() -> None:
    hub = Hub()
    hub.publish_frame(make_view(1))
    # one frame a second per viewer: what is published meanwhile is skipped, not queued
    app = create_app(hub, AppSettings(stream_fps=1.0, keepalive_seconds=5.0))
    with ServerThread(app, "127.0.0.1", 0) as server:
        with urllib.request.urlopen(server.url + "stream.mjpg", timeout=TIMEOUT) as viewer:
            assert viewer.headers["content-type"].startswith("multipart/x-mixed-replace")
            headers, jpeg = read_part(viewer)
            assert headers["x-frame-number"] == "1" and jpeg[:2] == b"\xff\xd8"
            for frame in range(2, 30):
                hub.publish_frame(make_view(frame))
            assert read_part(viewer)[0]["x-frame-number"] == "29"
            assert get_json(server.url + "api/status")["viewers"] == 1
        deadline = time.monotonic() + 10
        while get_json(server.url + "api/status")["viewers"] and time.monotonic() < deadline:
            time.sleep(0.1)  # the viewer left: noticed at the next part or keep-alive
        assert get_json(server.url + "api/status")["viewers"] == 0


def test_a_stalled_viewer_never_holds_up_the_detector() -> None:
    hub = Hub()
    server = ServerThread(create_app(hub, AppSettings(stream_fps=1000)), "127.0.0.1", 0)
    server.start()
    try:
        stalled = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
        stalled.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # never read
        slowest = 0.0
        began = time.monotonic()
        frame = 0
        while time.monotonic() - began < 3.0:  # ~3 s of big frames: more than socket buffers
            frame += 1
            view = make_view(frame, size=(240, 320))
            tick = time.perf_counter()
            hub.publish_frame(view)
            slowest = max(slowest, time.perf_counter() - tick)
            time.sleep(0.005)
        assert frame > 50 and slowest < 0.05, (frame, slowest)
        # and another viewer still gets the newest frame at once
        with urllib.request.urlopen(server.url + "stream.mjpg", timeout=TIMEOUT) as viewer:
            assert int(read_part(viewer)[0]["x-frame-number"]) == frame
        stalled_viewers = get_json(server.url + "api/status")["viewers"]
        assert stalled_viewers >= 1
    finally:
        began = time.monotonic()
        server.stop(timeout=15)  # the stalled stream is cut after the graceful timeout
    assert not server.running and time.monotonic() - began < 15
    received = b""
    stalled.settimeout(2.0)
    try:
        while chunk := stalled.recv(1 << 20):
            received += chunk
    except OSError:
        pass
    stalled.close()
    # it really was stalled: what reached it is a small part of what was published
    assert 0 < received.count(b"--frame") < frame / 2, (received.count(b"--frame"), frame)


def test_event_stream_replays_resumes_and_follows(served: tuple[Hub, ServerThread]) -> None:
    hub, server = served
    hub.publish_event({"event": "alarm", "track": 1, "frame": 3})
    with urllib.request.urlopen(server.url + "api/events/stream?after=0",
                                timeout=TIMEOUT) as feed:
        assert feed.headers["content-type"].startswith("text/event-stream")
        assert sse_events(feed, until="alarm")[-1][1]["track"] == 1
        hub.publish_event({"event": "cleared", "track": 1, "frame": 9})
        name, data = sse_events(feed, until="cleared")[-1]
        assert data["id"] == 2 and data["frame"] == 9
        hub.set_state("ended")
        assert sse_events(feed, until="state")[-1][1]["state"] == "ended"
    # a reconnecting EventSource sends Last-Event-ID: only what it has not seen
    hub.publish_event({"event": "gap", "after_frame": 12})
    request_ = urllib.request.Request(server.url + "api/events/stream?after=0",
                                      headers={"Last-Event-ID": "2"})
    with urllib.request.urlopen(request_, timeout=TIMEOUT) as feed:
        events = sse_events(feed, until="gap")
        assert [d["id"] for n, d in events if n != "state"] == [3]
    # without after=: only new events
    with urllib.request.urlopen(server.url + "api/events/stream", timeout=TIMEOUT) as feed:
        hub.publish_event({"event": "alarm", "track": 5, "frame": 20})
        events = sse_events(feed, until="alarm")
        assert [d["id"] for n, d in events if n == "alarm"] == [4]


def test_token_required_on_every_endpoint_but_healthz() -> None:
    hub = Hub()
    hub.publish_frame(make_view(1))
    hub.publish_event({"event": "alarm", "track": 1, "frame": 1}, thumbnail=b"\xff\xd8")
    app = create_app(hub, AppSettings(token=TOKEN, keepalive_seconds=1.0))
    with ServerThread(app, "127.0.0.1", 0) as server:
        url = server.url
        paths = ["", "api/status", "api/events", "api/events/stream", "frame.jpg",
                 "stream.mjpg", "api/events/1/thumbnail.jpg", "nothing-here"]
        for path in paths:
            code, headers, _ = request(url + path)
            assert code == 401 and headers["www-authenticate"].startswith("Bearer"), path
            assert request(url + path, token="wrong-token-0123456789")[0] == 401, path
            assert request(url + path + "?token=wrong")[0] == 401, path
        assert get_json(url + "healthz") == {"ok": True}
        assert get_json(url + "api/status", token=TOKEN)["frame"] == 1
        assert request(url + f"api/events?token={TOKEN}")[0] == 200
        assert request(url + f"frame.jpg?token={TOKEN}")[0] == 200
        with urllib.request.urlopen(url + f"stream.mjpg?token={TOKEN}", timeout=TIMEOUT) as v:
            assert read_part(v)[1][:2] == b"\xff\xd8"
        with urllib.request.urlopen(url + f"api/events/stream?after=0&token={TOKEN}",
                                    timeout=TIMEOUT) as feed:
            assert sse_events(feed, until="alarm")[-1][1]["id"] == 1


def test_a_loopback_server_refuses_foreign_host_headers(served: tuple[Hub, ServerThread]
                                                       ) -> None:
    _, server = served
    assert request(server.url + "api/status", headers={"Host": "evil.example"})[0] == 400
    assert request(server.url + "api/status",
                   headers={"Host": f"localhost:{server.port}"})[0] == 200


def test_a_port_in_use_is_one_line() -> None:
    from iodvideo.errors import ConfigError

    with ServerThread(create_app(Hub()), "127.0.0.1", 0) as first:
        with pytest.raises(ConfigError, match=f"127.0.0.1:{first.port}.*serve.port"):
            ServerThread(create_app(Hub()), "127.0.0.1", first.port)
