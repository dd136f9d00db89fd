"""The meeting point of the detector thread and the web server: a thread-safe :class:`Hub`.

The detector must never wait for a viewer, so it only ever *replaces* things here: the latest
frame (one slot with a version number; a viewer that falls behind skips frames instead of
queueing them), the current tracks and figures, and appends to a bounded event history (the
JSON-lines file on disk is the complete record; this is what the page and the API show).
Readers take consistent snapshots under a short lock. Waiting happens on the reader's side:
threads wait on a condition, an event loop registers a listener that is called (from the
detector's thread, so it must only schedule work) after every change.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

# what changed: a new frame, a new event, or the run's state (starting/calibrating/running/
# ended/failed)
FRAME, EVENT, STATE = "frame", "event", "state"
Listener = Callable[[str], None]


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class FrameView:
    """One monitored frame as the detector saw it: the raw BGR image (never modified, so it is
    shared, not copied), its predecessor for the difference panel, the frame's boxes with
    score and track number (0: no track), whether an alarm is active, and the latency from
    the frame's arrival to its detections."""

    frame: int
    time: float
    image: np.ndarray
    previous: np.ndarray | None
    boxes: np.ndarray
    scores: np.ndarray
    tracks: tuple[int, ...]
    alarm: bool
    latency: float | None = None
    events: tuple[dict[str, Any], ...] = field(default=())


class Hub:
    """Latest frame, bounded event history, tracks, figures and state of one monitor run.

    The alarm state is the events' (an ``alarm`` sets it for its track, ``cleared`` ends it),
    so it agrees with the event log, also after the end-of-stream ``cleared`` events.

    ``info`` describes the run (model, source, ...) and is shown as is by ``/api/status``.
    """

    def __init__(self, info: dict[str, Any] | None = None, history: int = 1000,
                 fps_window: int = 50) -> None:
        if history < 1:
            raise ValueError("history must keep at least one event")
        self.info = dict(info or {})
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._listeners: list[Listener] = []
        self._view: FrameView | None = None
        self._version = 0
        self._published: deque[float] = deque(maxlen=max(2, fps_window))
        self._events: deque[dict[str, Any]] = deque(maxlen=history)
        self._thumbnails: dict[int, bytes] = {}
        self._last_id = 0
        self._counts: dict[str, int] = {}
        self._tracks: list[dict[str, Any]] = []
        self._alarmed: set[Any] = set()  # tracks with an alarm and no cleared event yet
        self._lag_frames = 0
        self._state = "starting"
        self._detail: dict[str, Any] = {}
        self._calibration: dict[str, Any] | None = None
        self._started = utc_now()
        self._ended: str | None = None

    # -- listeners -------------------------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _wake(self) -> list[Listener]:
        """Wake waiting threads; the caller holds the lock and calls the returned listeners
        after releasing it (a listener may take its own locks)."""
        self._changed.notify_all()
        return list(self._listeners)

    @staticmethod
    def _tell(listeners: list[Listener], kind: str) -> None:
        for listener in listeners:
            listener(kind)

    # -- the detector's side ---------------------------------------------------------------
    def publish_frame(self, view: FrameView, tracks: list[dict[str, Any]] | None = None,
                      lag_frames: int = 0) -> int:
        """Replace the latest frame (and the current tracks); returns its version."""
        with self._lock:
            self._view = view
            self._version += 1
            self._published.append(time.perf_counter())
            if tracks is not None:
                self._tracks = tracks
            self._lag_frames = lag_frames
            version = self._version
            listeners = self._wake()
        self._tell(listeners, FRAME)
        return version

    def publish_event(self, event: dict[str, Any], thumbnail: bytes | None = None
                      ) -> dict[str, Any]:
        """Append ``event`` to the history under the next id; the oldest one (and its
        thumbnail) drops out when the history is full. Returns the stored event."""
        with self._lock:
            self._last_id += 1
            stored = {"id": self._last_id, **event}
            if len(self._events) == self._events.maxlen:
                self._thumbnails.pop(self._events[0]["id"], None)
            self._events.append(stored)
            if thumbnail is not None:
                self._thumbnails[self._last_id] = thumbnail
            kind = str(event.get("event", "event"))
            self._counts[kind] = self._counts.get(kind, 0) + 1
            if kind == "alarm":
                self._alarmed.add(event.get("track"))
            elif kind == "cleared":
                self._alarmed.discard(event.get("track"))
            listeners = self._wake()
        self._tell(listeners, EVENT)
        return stored

    def set_calibration(self, calibration: dict[str, Any]) -> None:
        """Progress of the test-time calibration (``adapt.*``): shown as ``calibration`` in
        the status. No listener is woken (the page polls the status); the state change to
        ``calibrating`` and back to ``running`` goes through :meth:`set_state`."""
        with self._lock:
            self._calibration = dict(calibration)

    def set_state(self, state: str, **detail: Any) -> None:
        """``calibrating`` while BatchNorm statistics are re-estimated on the first frames
        (``adapt.*``), ``running`` while frames come, then ``ended`` (source exhausted or
        stopped) or ``failed`` (the detector raised); ``detail`` (e.g. a summary) is shown in
        the status."""
        with self._lock:
            self._state = state
            self._detail = detail
            if state in ("ended", "failed"):
                self._ended = utc_now()
                self._tracks = []  # the stream is over: nothing is being tracked
            listeners = self._wake()
        self._tell(listeners, STATE)

    # -- the readers' side -----------------------------------------------------------------
    @property
    def state(self) -> str:
        with self._lock:
            return self._state

    def latest(self) -> tuple[int, FrameView | None]:
        """(version, view) of the newest frame; version 0 and None before the first."""
        with self._lock:
            return self._version, self._view

    @property
    def last_event_id(self) -> int:
        with self._lock:
            return self._last_id

    def wait_frame(self, after: int, timeout: float) -> tuple[int, FrameView | None]:
        """Block until a frame newer than version ``after`` exists (or ``timeout``)."""
        with self._changed:
            self._changed.wait_for(lambda: self._version > after, timeout)
            return self._version, self._view

    def wait_until(self, predicate: Callable[[Hub], bool], timeout: float) -> bool:
        """Block until ``predicate(hub)`` holds (checked after every change) or ``timeout``;
        the predicate runs without the lock, so it may call the hub's readers."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate(self):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with self._changed:
                self._changed.wait(min(left, 0.5))

    def events(self, after: int | None = None, before: int | None = None,
               limit: int | None = None) -> list[dict[str, Any]]:
        """Events of the history, oldest first: those with ``after < id < before``; with a
        ``limit``, the oldest ones when ``after`` is given, else the newest ones."""
        with self._lock:
            chosen = [e for e in self._events if (after is None or e["id"] > after)
                      and (before is None or e["id"] < before)]
        if limit is not None and len(chosen) > limit:
            chosen = chosen[:limit] if after is not None else chosen[len(chosen) - limit:]
        return chosen

    def has_thumbnail(self, event_id: int) -> bool:
        with self._lock:
            return event_id in self._thumbnails

    def thumbnail(self, event_id: int) -> bytes | None:
        with self._lock:
            return self._thumbnails.get(event_id)

    def fps(self) -> float | None:
        """Frames published per second over the last ``fps_window`` frames."""
        with self._lock:
            times = list(self._published)
        if len(times) < 2 or times[-1] <= times[0]:
            return None
        return (len(times) - 1) / (times[-1] - times[0])

    def status(self) -> dict[str, Any]:
        fps = self.fps()
        with self._lock:
            view = self._view
            status = {
                "state": self._state,
                "alarm": bool(self._alarmed),
                "frame": view.frame if view is not None else None,
                "time": view.time if view is not None else None,
                "tracks": [dict(t) for t in self._tracks],
                "fps": round(fps, 2) if fps is not None else None,
                "latency_ms": round(1000 * view.latency, 1)
                if view is not None and view.latency is not None else None,
                "lag_frames": self._lag_frames,
                "events": dict(self._counts),
                "last_event_id": self._last_id,
                "started": self._started,
                "ended": self._ended,
                **self.info,
            }
            if self._detail:
                status["detail"] = dict(self._detail)
            if self._calibration is not None:
                status["calibration"] = dict(self._calibration)
        return status
