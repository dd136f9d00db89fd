"""The monitor's web application (Starlette): the page, the live streams and a small JSON API
over a :class:`~.hub.Hub`.

==============================  ==========================================================
``GET /``                       the page (:mod:`.page`)
``GET /stream.mjpg``            the annotated stream, MJPEG (``?view=diff``: difference)
``GET /frame.jpg``              the newest frame once (``?view=diff`` likewise)
``GET /api/status``             state, alarm, tracks, fps, latency, lag, model, source
``GET /api/events``             event history, paged: ``?limit=&before=`` (newest first)
                                or ``?after=`` (oldest first)
``GET /api/events/stream``      Server-Sent Events (``?after=`` or Last-Event-ID to resume)
``GET /api/events/{id}/thumbnail.jpg``  the frame that raised an alarm
``GET /healthz``                liveness, open without the token
==============================  ==========================================================

Nothing here touches the file system: every answer comes from the hub's memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from iodvideo.inference.serve.auth import TokenAuth
from iodvideo.inference.serve.hub import Hub
from iodvideo.inference.serve.imaging import VIEWS
from iodvideo.inference.serve.page import CSP, PAGE
from iodvideo.inference.serve.streams import (
    BOUNDARY,
    FrameFeed,
    JpegCache,
    Live,
    event_stream,
    mjpeg_stream,
)

MAX_PAGE = 500


@dataclass
class AppSettings:
    """How the app serves: ``token`` (None: open), ``allowed_hosts`` (Host headers accepted;
    None: any), the most frames a second encoded for the streams (every viewer gets these or
    fewer), JPEG quality, the gain of the difference view and the seconds of silence after
    which a stream sends a keep-alive."""

    token: str | None = None
    allowed_hosts: list[str] | None = None
    stream_fps: float = 15.0
    jpeg_quality: int = 80
    diff_gain: float = 4.0
    keepalive_seconds: float = 10.0


class SecurityHeaders:
    """No caching, no sniffing, no referrer (the address may carry the token)."""

    HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
               (b"cache-control", b"no-store")]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.HEADERS if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _int(request: Request, name: str, default: int | None, low: int = 0,
         high: int | None = None) -> int | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise HTTPException(400, f"{name} must be an integer") from None
    if value < low or (high is not None and value > high):
        raise HTTPException(400, f"{name} must be in [{low}, {high if high else 'inf'}]")
    return value


def _view(request: Request) -> str:
    kind = request.query_params.get("view", "annotated")
    if kind not in VIEWS:
        raise HTTPException(400, f"view must be one of {', '.join(VIEWS)}")
    return kind


def create_app(hub: Hub, settings: AppSettings | None = None) -> Starlette:
    """The ASGI app for ``hub``; ``app.state.live.close_threadsafe()`` ends its streams."""
    settings = settings or AppSettings()
    live = Live(hub, settings.keepalive_seconds)
    cache = JpegCache(hub, settings.jpeg_quality, settings.diff_gain)
    feeds = {kind: FrameFeed(live, kind, settings.stream_fps, settings.jpeg_quality,
                             settings.diff_gain) for kind in VIEWS}

    def decorate(event: dict[str, Any]) -> dict[str, Any]:
        if hub.has_thumbnail(event["id"]):
            return {**event, "thumbnail": f"/api/events/{event['id']}/thumbnail.jpg"}
        return event

    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE, headers={"Content-Security-Policy": CSP})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def status(request: Request) -> Response:
        return JSONResponse({**hub.status(), "viewers": live.viewers})

    async def events(request: Request) -> Response:
        limit = _int(request, "limit", 50, 1, MAX_PAGE)
        after = _int(request, "after", None)
        before = _int(request, "before", None)
        chosen = [decorate(e) for e in hub.events(after=after, before=before, limit=limit)]
        if after is None:
            chosen.reverse()  # pages back in time: newest first
        older = chosen[-1]["id"] if after is None and chosen else None
        more = bool(older is not None and hub.events(before=older, limit=1))
        return JSONResponse({"events": chosen, "last_event_id": hub.last_event_id,
                             "next_before": older if more else None})

    async def thumbnail(request: Request) -> Response:
        data = hub.thumbnail(int(request.path_params["event_id"]))
        if data is None:
            raise HTTPException(404, "no picture for this event (none, or out of the history)")
        return Response(data, media_type="image/jpeg")

    async def frame(request: Request) -> Response:
        got = await cache.get(_view(request))
        if got is None:
            raise HTTPException(503, "no frame yet")
        return Response(got.jpeg, media_type="image/jpeg",
                        headers={"X-Frame-Number": str(got.frame)})

    async def stream(request: Request) -> Response:
        kind = _view(request)
        return StreamingResponse(mjpeg_stream(live, feeds[kind]),
                                 media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}")

    async def events_stream(request: Request) -> Response:
        resume = request.headers.get("last-event-id", "")
        after = int(resume) if resume.isdigit() else _int(request, "after", hub.last_event_id)
        return StreamingResponse(event_stream(live, int(after or 0), decorate),
                                 media_type="text/event-stream",
                                 headers={"X-Accel-Buffering": "no"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        live.attach(asyncio.get_running_loop())
        try:
            yield
        finally:
            live.detach()

    middleware = [Middleware(SecurityHeaders)]
    if settings.allowed_hosts is not None:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts))
    if settings.token is not None:
        middleware.append(Middleware(TokenAuth, token=settings.token))
    routes = [
        Route("/", page), Route("/healthz", healthz), Route("/api/status", status),
        Route("/api/events", events), Route("/api/events/stream", events_stream),
        Route("/api/events/{event_id:int}/thumbnail.jpg", thumbnail),
        Route("/frame.jpg", frame), Route("/stream.mjpg", stream),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.live = live
    app.state.settings = settings
    return app
