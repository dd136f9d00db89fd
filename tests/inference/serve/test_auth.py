"""The token rules, the serve options and file playback at the source's frame rate (pure
functions; the HTTP side of the rules is in test_app.py)."""

from __future__ import annotations

import pytest

from iodvideo.errors import ConfigError
from iodvideo.inference.serve.auth import (
    TOKEN_ENV,
    TokenAuth,
    check_bind,
    is_loopback,
    loopback_hosts,
    resolve_token,
)
from iodvideo.inference.serve.options import ServeOptions, redact
from iodvideo.inference.serve.publisher import paced

TOKEN = "s3cret-token-0123456789"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.1", "::1", "[::1]", "localhost"])
def test_loopback_addresses(host: str) -> None:
    assert is_loopback(host)
    check_bind(host, None)  # no token needed


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.1", "camera.lan"])
def test_anything_else_needs_a_token(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(ConfigError, match="token") as err:
        check_bind(host, None)
    assert "\n" not in str(err.value) and TOKEN_ENV in str(err.value)
    check_bind(host, TOKEN)


def test_token_from_config_or_environment_and_its_length() -> None:
    assert resolve_token(None, {}) is None
    assert resolve_token("", {TOKEN_ENV: TOKEN}) == TOKEN
    assert resolve_token(TOKEN + "x", {TOKEN_ENV: TOKEN}) == TOKEN + "x"  # config wins
    for weak in ("short", " " + TOKEN):
        with pytest.raises(ConfigError, match="16 characters"):
            resolve_token(weak, {})


def test_serve_options_refuse_before_anything_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(ConfigError, match="serve.host=0.0.0.0"):
        ServeOptions(enabled=True, host="0.0.0.0").app_settings()
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    settings = ServeOptions(enabled=True, host="0.0.0.0").app_settings()
    assert settings.token == TOKEN and settings.allowed_hosts is None
    local = ServeOptions(host="127.0.0.1", token=None)
    monkeypatch.delenv(TOKEN_ENV)
    assert local.app_settings().allowed_hosts == loopback_hosts("127.0.0.1")
    for bad in ({"port": 70000}, {"linger_seconds": -1}, {"stream_fps": 0},
                {"jpeg_quality": 0}, {"history": 0}):
        with pytest.raises(ConfigError):
            ServeOptions(**bad)
    with pytest.raises(ConfigError, match="unknown serve key"):
        ServeOptions.from_mapping({"hots": "0.0.0.0"})


def test_token_middleware_reads_bearer_and_query() -> None:
    auth = TokenAuth(app=None, token=TOKEN)  # type: ignore[arg-type]

    def scope(headers=(), query=b""):
        return {"type": "http", "path": "/api/status", "headers": list(headers),
                "query_string": query}

    assert auth.allowed(scope([(b"authorization", f"Bearer {TOKEN}".encode())]))
    assert auth.allowed(scope(query=f"token={TOKEN}".encode()))
    assert not auth.allowed(scope([(b"authorization", b"Bearer wrong")]))
    assert not auth.allowed(scope([(b"authorization", f"Basic {TOKEN}".encode())]))
    assert not auth.allowed(scope(query=b"token="))
    assert not auth.allowed(scope())


def test_redact_hides_stream_credentials() -> None:
    assert redact("rtsp://admin:pw@10.0.0.5:554/live") == "rtsp://***@10.0.0.5:554/live"
    assert redact("videos/leak.mp4") == "videos/leak.mp4"


def test_paced_playback_follows_the_frame_rate_and_never_waits_for_a_slow_reader() -> None:
    now = [0.0]
    sleeps = []

    def sleep(seconds: float) -> None:
        sleeps.append(round(seconds, 6))
        now[0] += seconds

    out = []
    for frame in paced(range(4), fps=10.0, clock=lambda: now[0], sleep=sleep):
        out.append((frame, round(now[0], 6)))
        if frame == 1:
            now[0] += 0.5  # the consumer fell behind: frames 2 and 3 come at once
    assert out == [(0, 0.0), (1, 0.1), (2, 0.6), (3, 0.6)]
    assert sleeps == [0.1]
