"""The server's live side: waking coroutines when the hub changes, encoding each frame once,
and the two endless responses (MJPEG frames, Server-Sent Events).

Every viewer runs its own coroutine that takes the *newest* encoded frame when it is ready
for one: a slow viewer skips frames, a stalled one waits in its own socket write, and none of
them holds anything the detector needs (the hub's lock is only taken to copy a reference).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

from starlette.concurrency import run_in_threadpool

from iodvideo.inference.serve.hub import FRAME, Hub
from iodvideo.inference.serve.imaging import VIEWS, encode_jpeg, render

BOUNDARY = "frame"
log = logging.getLogger(__name__)


class Notifier:
    """A broadcast for coroutines of one loop: take a :meth:`ticket`, look at the hub, then
    :meth:`wait` on the ticket; a change after the ticket was taken is never missed."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def ticket(self) -> asyncio.Event:
        return self._event

    def fire(self) -> None:  # on the loop's thread only
        self._event.set()
        self._event = asyncio.Event()

    @staticmethod
    async def wait(ticket: asyncio.Event, timeout: float) -> bool:
        """True when something changed, False after ``timeout`` seconds without a change."""
        try:
            await asyncio.wait_for(ticket.wait(), timeout)
        except asyncio.TimeoutError:  # TimeoutError itself from Python 3.11 on
            return False
        return True


class Live:
    """The event loop's view of a :class:`Hub`: notifiers fed by a hub listener (called on
    the detector's thread, it only schedules work on the loop), the viewer count, and the
    closing flag that ends every endless response before the server stops."""

    def __init__(self, hub: Hub, keepalive: float = 10.0) -> None:
        self.hub = hub
        self.keepalive = keepalive
        self.frames = Notifier()
        self.events = Notifier()
        self.closing = False
        self.viewers = 0
        self.frame_waiters = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.hub.add_listener(self._changed)

    def detach(self) -> None:
        self.hub.remove_listener(self._changed)
        self._loop = None

    def _call(self, callback: Any, *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop closed in between: nobody is waiting any more
            pass

    def _changed(self, kind: str) -> None:
        # Waking the loop costs the detector a hand-over of the interpreter lock, which on a
        # busy machine can take milliseconds: new frames wake it only when a coroutine waits
        # for one (the frame feed between frames), not on every frame.
        if kind == FRAME and self.frame_waiters == 0:
            return
        self._call(self._fire, kind)

    async def wait_for_frame(self, after: int, timeout: float) -> None:
        """Return once the hub has a frame newer than version ``after`` (or ``timeout``)."""
        ticket = self.frames.ticket()
        self.frame_waiters += 1  # before looking: a frame published after the look wakes us
        try:
            if self.hub.latest()[0] <= after:
                await Notifier.wait(ticket, timeout)
        finally:
            self.frame_waiters -= 1

    def _fire(self, kind: str) -> None:
        (self.frames if kind == FRAME else self.events).fire()

    def close_threadsafe(self) -> None:
        """From any thread: end the MJPEG and event streams (the server is stopping)."""
        self._call(self._close)

    def _close(self) -> None:
        self.closing = True
        self.frames.fire()
        self.events.fire()


class Encoded(NamedTuple):
    version: int  # the hub's frame version
    frame: int  # the stream's frame number
    jpeg: bytes


class JpegCache:
    """The newest JPEG of each view on demand (``/frame.jpg``): a frame version is drawn
    and encoded once (in a worker thread, off the loop) however many clients ask for it."""

    def __init__(self, hub: Hub, quality: int = 80, diff_gain: float = 4.0) -> None:
        self.hub, self.quality, self.diff_gain = hub, quality, diff_gain
        self._cache: dict[str, Encoded] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _encode(self, view: Any, kind: str) -> bytes:
        return encode_jpeg(render(view, kind, self.diff_gain), self.quality)

    async def get(self, kind: str = "annotated") -> Encoded | None:
        """The newest frame as ``kind``, encoded; None before the first frame."""
        if kind not in VIEWS:
            raise ValueError(kind)
        lock = self._locks.setdefault(kind, asyncio.Lock())
        async with lock:
            version, view = self.hub.latest()
            if view is None:
                return None
            cached = self._cache.get(kind)
            if cached is not None and cached.version >= version:
                return cached
            data = await run_in_threadpool(self._encode, view, kind)
            self._cache[kind] = Encoded(version, view.frame, data)
            return self._cache[kind]


def mjpeg_part(jpeg: bytes, frame: int) -> bytes:
    head = (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n"
            f"X-Frame-Number: {frame}\r\n\r\n")
    return head.encode("ascii") + jpeg + b"\r\n"


class FrameFeed:
    """One view's stream for every viewer: while anybody watches, a single task draws and
    encodes the hub's newest frame, at most ``max_fps`` times a second, and wakes the
    viewers; each sends the newest encoded frame when its socket is ready for one. So the
    server's work grows with the frame rate, not with the number of viewers, and a slow
    viewer skips frames instead of queueing them."""

    def __init__(self, live: Live, kind: str, max_fps: float, quality: int = 80,
                 diff_gain: float = 4.0) -> None:
        if kind not in VIEWS:
            raise ValueError(kind)
        self.live, self.kind = live, kind
        self.interval = 1.0 / max_fps if max_fps > 0 else 0.0
        self.quality, self.diff_gain = quality, diff_gain
        self.latest: Encoded | None = None
        self.encoded = Notifier()
        self.watchers = 0
        self._task: asyncio.Task | None = None

    def _encode(self, view: Any) -> bytes:
        return encode_jpeg(render(view, self.kind, self.diff_gain), self.quality)

    async def _run(self) -> None:
        try:
            while self.watchers > 0 and not self.live.closing:
                version, view = self.live.hub.latest()
                if view is None or (self.latest is not None and version <= self.latest.version):
                    await self.live.wait_for_frame(version, self.live.keepalive)
                    continue
                try:
                    jpeg = await run_in_threadpool(self._encode, view)
                except Exception:  # noqa: BLE001 - one bad frame must not end the stream
                    log.exception("drawing or encoding frame %d failed", view.frame)
                    await asyncio.sleep(1.0)
                    continue
                self.latest = Encoded(version, view.frame, jpeg)
                self.encoded.fire()
                if self.interval:
                    await asyncio.sleep(self.interval)
        finally:
            self._task = None
            self.encoded.fire()

    def join(self) -> None:
        self.watchers += 1
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def leave(self) -> None:
        self.watchers -= 1


async def mjpeg_stream(live: Live, feed: FrameFeed) -> AsyncIterator[bytes]:
    """``multipart/x-mixed-replace`` parts: the feed's newest frame whenever there is a new
    one; the last one again every ``keepalive`` seconds while nothing changes (so a viewer
    that left is noticed and its coroutine ends)."""
    sent = 0
    live.viewers += 1
    feed.join()
    try:
        while not live.closing:
            ticket = feed.encoded.ticket()
            latest = feed.latest
            if latest is not None and latest.version > sent:
                sent = latest.version
                yield mjpeg_part(latest.jpeg, latest.frame)
                continue
            if not await Notifier.wait(ticket, live.keepalive) and latest is not None:
                yield mjpeg_part(latest.jpeg, latest.frame)
    finally:
        feed.leave()
        live.viewers -= 1


def sse_message(data: Any, event: str | None = None, event_id: int | None = None) -> str:
    lines = [] if event_id is None else [f"id: {event_id}"]
    if event is not None:
        lines.append(f"event: {event}")
    lines.append(f"data: {json.dumps(data, separators=(',', ':'))}")
    return "\n".join(lines) + "\n\n"


async def event_stream(live: Live, after: int, decorate: Any = None, batch: int = 100
                       ) -> AsyncIterator[str]:
    """Server-Sent Events: every event with an id above ``after`` (named ``alarm``,
    ``cleared``, ``gap``, ``calibrated``; ``id:`` set, so a reconnecting client resumes with
    Last-Event-ID), a ``state`` event with the status whenever the run's state changes, and a
    comment every ``keepalive`` seconds of silence."""
    yield "retry: 2000\n\n"
    state = None
    while not live.closing:
        ticket = live.events.ticket()
        events = live.hub.events(after=after, limit=batch)
        for event in events:
            after = event["id"]
            payload = decorate(event) if decorate is not None else event
            yield sse_message(payload, str(event.get("event", "message")), event["id"])
        if len(events) == batch:
            continue
        if live.hub.state != state:
            status = live.hub.status()
            state = status["state"]
            yield sse_message(status, "state")
            continue
        if not await Notifier.wait(ticket, live.keepalive):
            yield ": keep-alive\n\n"
