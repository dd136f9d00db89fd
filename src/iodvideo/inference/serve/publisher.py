"""What the monitor loop hands to the hub, and a file source played at its frame rate.

:class:`HubPublisher` is the monitor's frame sink and event listener when it serves a page:
frames go to the hub's latest-frame slot, events to its history, and an ``alarm`` event
carries a thumbnail of the frame that raised it (encoded here, once per alarm: alarms are
rare, and the picture must be of that frame, not of whatever is latest when someone looks).
:func:`follow_calibration` shows a test-time calibration's progress (``adapt.*``) in the
hub's state and status.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar

from iodvideo.inference.serve.hub import FrameView, Hub
from iodvideo.inference.serve.imaging import thumbnail

T = TypeVar("T")


class Calibration(Protocol):
    """What :func:`follow_calibration` needs of :class:`iodvideo.inference.adapt.StreamAdapter`."""

    on_progress: Callable[[Any], None] | None

    @property
    def done(self) -> bool: ...

    def status(self) -> dict[str, Any]: ...


def follow_calibration(hub: Hub, calibration: Calibration | None) -> None:
    """Set the hub's state to ``running``, or to ``calibrating`` with the calibration's
    progress as the status's ``calibration`` (``calibrating (i/N frames)``) until it is done,
    then ``running``: the adapter reports after every frame."""
    if calibration is None:
        hub.set_state("running")
        return

    def progress(adapter: Calibration) -> None:
        hub.set_calibration(adapter.status())
        if adapter.done:
            hub.set_state("running")

    calibration.on_progress = progress
    hub.set_calibration(calibration.status())
    hub.set_state("calibrating")


class HubPublisher:
    def __init__(self, hub: Hub, thumbnail_width: int = 240) -> None:
        self.hub = hub
        self.thumbnail_width = thumbnail_width
        self._last: FrameView | None = None

    def frame(self, view: FrameView, tracks: list[dict[str, Any]], lag_frames: int = 0) -> None:
        self._last = view
        self.hub.publish_frame(view, tracks, lag_frames)

    def event(self, event: dict[str, Any]) -> None:
        picture = None
        view = self._last
        if event.get("event") == "alarm" and view is not None and view.frame == event.get(
                "frame"):
            picture = thumbnail(view, self.thumbnail_width)
        self.hub.publish_event(event, picture)


def paced(frames: Iterable[T], fps: float, clock: Callable[[], float] = time.monotonic,
          sleep: Callable[[float], None] = time.sleep) -> Iterator[T]:
    """``frames`` no faster than ``fps`` a second (frame n not before start + n/fps), as a
    camera would deliver a file's frames; a consumer slower than that is never waited for."""
    period = 1.0 / fps if fps > 0 else 0.0
    start = clock()
    for index, frame in enumerate(frames):
        due = start + index * period
        now = clock()
        if due > now:
            sleep(due - now)
        yield frame
