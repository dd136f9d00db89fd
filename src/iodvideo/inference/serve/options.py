"""The ``serve.*`` settings of ``python -m iodvideo.monitor``, checked before anything loads."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from iodvideo.errors import ConfigError
from iodvideo.inference.serve.app import AppSettings
from iodvideo.inference.serve.auth import check_bind, is_loopback, loopback_hosts, resolve_token


@dataclass
class ServeOptions:
    """``serve:`` in conf/monitor.yaml (its comments say what each key does)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8080
    token: str | None = None
    realtime: bool = True
    linger_seconds: float | None = None
    stream_fps: float = 15.0
    jpeg_quality: int = 80
    history: int = 1000

    def __post_init__(self) -> None:
        if not 0 <= int(self.port) <= 65535:
            raise ConfigError(f"serve.port={self.port} is not a TCP port (0 = any free one)")
        if self.linger_seconds is not None and self.linger_seconds < 0:
            raise ConfigError("serve.linger_seconds must be >= 0 (null: until Ctrl-C)")
        if self.stream_fps <= 0:
            raise ConfigError("serve.stream_fps must be > 0")
        if not 1 <= int(self.jpeg_quality) <= 100:
            raise ConfigError("serve.jpeg_quality must be in 1..100")
        if int(self.history) < 1:
            raise ConfigError("serve.history must be >= 1")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> ServeOptions:
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown serve key(s) {unknown}; known: {sorted(known)}")
        return cls(**values)

    def app_settings(self, diff_gain: float = 4.0) -> AppSettings:
        """The app's settings; refuses (ConfigError) a non-loopback bind without a token."""
        token = resolve_token(self.token)
        check_bind(self.host, token)
        return AppSettings(
            token=token,
            allowed_hosts=loopback_hosts(self.host) if is_loopback(self.host) else None,
            stream_fps=float(self.stream_fps), jpeg_quality=int(self.jpeg_quality),
            diff_gain=float(diff_gain))


def redact(source: str) -> str:
    """A source for display: the user and password of a stream URL replaced by ``***``."""
    return re.sub(r"://[^/@\s]+@", "://***@", source)
