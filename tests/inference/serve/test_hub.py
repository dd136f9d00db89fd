"""The hub between detector and server: latest-frame slot with versions, bounded event history
and its pages, alarm state from events, waiting from threads, listeners outside the lock."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from iodvideo.inference.serve.hub import EVENT, FRAME, STATE, Hub
from iodvideo.inference.serve.imaging import encode_jpeg, render, thumbnail
from iodvideo.inference.serve.publisher import HubPublisher
from serve_support import make_view


def test_latest_frame_slot_versions_and_thread_waits() -> None:
    hub = Hub()
    assert hub.latest() == (0, None)
    assert hub.wait_frame(0, timeout=0.05) == (0, None)  # times out, nothing published
    for frame in range(1, 4):
        hub.publish_frame(make_view(frame))
    version, view = hub.latest()
    assert version == 3 and view is not None and view.frame == 3  # older frames are gone

    got = {}
    waiter = threading.Thread(target=lambda: got.update(r=hub.wait_frame(3, timeout=10)))
    waiter.start()
    time.sleep(0.05)
    hub.publish_frame(make_view(4))
    waiter.join(5)
    assert not waiter.is_alive() and got["r"][0] == 4 and got["r"][1].frame == 4


def test_event_history_is_bounded_and_paged() -> None:
    hub = Hub(history=3)
    for i in range(5):
        hub.publish_event({"event": "gap", "n": i}, thumbnail=b"jpg%d" % i)
    assert [e["id"] for e in hub.events()] == [3, 4, 5]  # the two oldest dropped out
    assert hub.thumbnail(2) is None and hub.thumbnail(5) == b"jpg4"  # with their pictures
    assert [e["id"] for e in hub.events(after=3)] == [4, 5]
    assert [e["id"] for e in hub.events(before=5, limit=1)] == [4]  # newest first when paging
    assert [e["id"] for e in hub.events(after=0, limit=2)] == [3, 4]  # oldest first after=
    assert hub.last_event_id == 5 and hub.status()["events"] == {"gap": 5}
    with pytest.raises(ValueError):
        Hub(history=0)


def test_alarm_state_follows_the_events_and_the_end_clears_tracks() -> None:
    hub = Hub({"source": "x"})
    hub.publish_frame(make_view(1, alarm=True), tracks=[{"track": 1, "alarmed": True}])
    hub.publish_event({"event": "alarm", "track": 1, "frame": 1})
    hub.publish_event({"event": "alarm", "track": 2, "frame": 1})
    status = hub.status()
    assert status["alarm"] is True and status["tracks"] == [{"track": 1, "alarmed": True}]
    assert status["source"] == "x" and status["frame"] == 1 and status["latency_ms"] == 10.0
    hub.publish_event({"event": "cleared", "track": 1})
    assert hub.status()["alarm"] is True  # track 2 still alarmed
    hub.publish_event({"event": "cleared", "track": 2})
    hub.set_state("ended", summary={"alarms": 2})
    status = hub.status()
    assert status["alarm"] is False and status["tracks"] == [] and status["state"] == "ended"
    assert status["ended"] is not None and status["detail"] == {"summary": {"alarms": 2}}


def test_listeners_run_outside_the_lock_and_fps_is_measured() -> None:
    hub = Hub(fps_window=10)
    seen = []
    # a listener that reads the hub would deadlock if it were called under the lock
    hub.add_listener(lambda kind: seen.append((kind, hub.status()["state"])))
    for frame in range(1, 6):
        hub.publish_frame(make_view(frame))
        time.sleep(0.01)
    hub.publish_event({"event": "gap"})
    hub.set_state("running")
    assert [k for k, _ in seen] == [FRAME] * 5 + [EVENT, STATE]
    fps = hub.fps()
    assert fps is not None and 5 < fps < 120  # ~10 ms apart
    hub.remove_listener(hub._listeners[0])
    hub.publish_frame(make_view(6))
    assert len(seen) == 7


def test_wait_until_returns_when_the_predicate_holds() -> None:
    hub = Hub()
    threading.Timer(0.05, lambda: hub.set_state("ended")).start()
    assert hub.wait_until(lambda h: h.state == "ended", timeout=10)
    assert not hub.wait_until(lambda h: h.state == "failed", timeout=0.05)


def test_publisher_gives_alarms_the_picture_of_their_frame() -> None:
    hub = Hub()
    publisher = HubPublisher(hub, thumbnail_width=32)
    publisher.frame(make_view(7, alarm=True), tracks=[], lag_frames=2)
    publisher.event({"event": "alarm", "track": 1, "frame": 7})
    publisher.event({"event": "alarm", "track": 2, "frame": 6})  # not the frame at hand
    publisher.event({"event": "cleared", "track": 1, "frame": 7})
    first, second, third = hub.events()
    picture = hub.thumbnail(first["id"])
    assert picture is not None and picture[:2] == b"\xff\xd8"  # a JPEG
    assert hub.thumbnail(second["id"]) is None and hub.thumbnail(third["id"]) is None
    assert hub.status()["lag_frames"] == 2
    import cv2

    decoded = cv2.imdecode(np.frombuffer(picture, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape[1] == 32  # shrunk to the thumbnail width


def test_views_render_and_encode() -> None:
    view = make_view(3, alarm=True)
    annotated = render(view, "annotated")
    assert annotated.shape == view.image.shape and not np.array_equal(annotated, view.image)
    diff = render(view, "diff")
    assert diff.shape == view.image.shape
    assert encode_jpeg(diff)[:2] == b"\xff\xd8" and thumbnail(view)[:2] == b"\xff\xd8"
    with pytest.raises(ValueError):
        render(view, "raw")
