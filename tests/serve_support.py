"""HTTP helpers of the monitor page tests, for a server on loopback: stdlib only, every call
with a timeout, so a broken server fails a test instead of hanging it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import numpy as np

from iodvideo.inference.serve.hub import FrameView

TIMEOUT = 20.0


def _lower(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def request(url: str, token: str | None = None, headers: dict[str, str] | None = None,
            timeout: float = TIMEOUT) -> tuple[int, dict[str, str], bytes]:
    """(status, headers with lower-case names, body) of a GET; 4xx/5xx answers are returned,
    not raised."""
    headers = dict(headers or {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                    timeout=timeout) as response:
            return response.status, _lower(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, _lower(err.headers), err.read()


def get_json(url: str, token: str | None = None) -> Any:
    status, _, body = request(url, token)
    assert status == 200, (url, status, body[:300])
    return json.loads(body)


def sse_events(response: Any, until: str, limit: int = 200) -> list[tuple[str, dict]]:
    """(event name, data) of the Server-Sent Events read from ``response`` up to and
    including the first one named ``until`` (the socket timeout bounds every read)."""
    found: list[tuple[str, dict]] = []
    name, data = "message", []
    while len(found) < limit:
        line = response.readline()
        if not line:
            raise AssertionError(f"event stream closed before {until!r}: {found}")
        text = line.decode("utf-8").rstrip("\r\n")
        if text.startswith("event:"):
            name = text[6:].strip()
        elif text.startswith("data:"):
            data.append(text[5:].strip())
        elif text == "" and data:
            found.append((name, json.loads("\n".join(data))))
            if name == until:
                return found
            name, data = "message", []
    raise AssertionError(f"no {until!r} event among {len(found)}")


def read_part(response: Any) -> tuple[dict[str, str], bytes]:
    """One part of a multipart/x-mixed-replace response: (its headers, its body)."""
    headers: dict[str, str] = {}
    line = response.readline()
    while line.strip() == b"":  # the CRLF that ends the previous part
        line = response.readline()
    assert line.strip() == b"--frame", line
    while True:
        line = response.readline().strip()
        if not line:
            break
        key, _, value = line.decode("latin-1").partition(":")
        headers[key.strip().lower()] = value.strip()
    return headers, response.read(int(headers["content-length"]))


def make_view(frame: int, alarm: bool = False, size: tuple[int, int] = (48, 64)) -> FrameView:
    """A frame as the monitor hands it to the hub: random pixels, one box on track 1."""
    rng = np.random.default_rng(frame)
    image = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
    return FrameView(frame=frame, time=(frame - 1) / 25, image=image, previous=image[::-1],
                     boxes=np.array([[4.0, 4.0, 20.0, 24.0]], np.float32),
                     scores=np.array([0.9], np.float32), tracks=(1,), alarm=alarm, latency=0.01)
