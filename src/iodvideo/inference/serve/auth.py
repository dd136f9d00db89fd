"""Who may watch: the token rules of the monitor's web page.

* Bound to loopback (127.0.0.0/8, ::1, ``localhost``) the server needs no token: only this
  machine can reach it. A Host-header check (:func:`loopback_hosts`) keeps a web page from
  elsewhere from reaching it through DNS rebinding.
* Bound to anything else it refuses to start without a token (``serve.token`` or the
  environment variable :data:`TOKEN_ENV`): a camera feed and alarm log are not for the
  whole network.
* With a token, every path but the open ones (``/healthz``) answers 401 unless the request
  carries it as ``Authorization: Bearer <token>`` or as a ``?token=`` query parameter (a
  browser's ``<img>`` and ``EventSource`` cannot set headers). Tokens are compared in
  constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qs

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from iodvideo.errors import ConfigError

TOKEN_ENV = "IODVIDEO_MONITOR_TOKEN"
MIN_TOKEN_LENGTH = 16
OPEN_PATHS = frozenset({"/healthz"})
_HINT = 'python -c "import secrets; print(secrets.token_urlsafe(24))"'


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (a host name other than localhost
    counts as reachable from outside: it may resolve to anything)."""
    text = host.strip().strip("[]")
    if text.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def resolve_token(configured: str | None, environ: Mapping[str, str] | None = None
                  ) -> str | None:
    """``serve.token`` if set, else :data:`TOKEN_ENV`; None when neither is; a token shorter
    than :data:`MIN_TOKEN_LENGTH` characters is refused (one line, with how to make one)."""
    environ = os.environ if environ is None else environ
    token = configured if configured not in (None, "") else environ.get(TOKEN_ENV) or None
    if token is None:
        return None
    token = str(token)
    if len(token) < MIN_TOKEN_LENGTH or token != token.strip():
        raise ConfigError(f"the monitor's token must be at least {MIN_TOKEN_LENGTH} characters "
                          f"without surrounding spaces; make one with {_HINT}")
    return token


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve beyond loopback without a token."""
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"serve.host={host} is reachable from other machines: set a token first "
            f"(serve.token=... or the {TOKEN_ENV} environment variable; make one with {_HINT}) "
            "or bind to 127.0.0.1")


def loopback_hosts(host: str) -> list[str]:
    """Host-header values accepted by a server bound to loopback ``host``."""
    return sorted({"localhost", "127.0.0.1", "::1", host.strip().strip("[]").lower()})


def _digest(text: str) -> bytes:
    # equal-length digests: compare_digest then takes the same time whatever the token
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()


class TokenAuth:
    """ASGI middleware: 401 for requests without the token (open paths excepted)."""

    def __init__(self, app: ASGIApp, token: str, open_paths: Iterable[str] = OPEN_PATHS
                 ) -> None:
        self.app = app
        self._digest = _digest(token)
        self.open_paths = frozenset(open_paths)

    def presented(self, scope: Scope) -> list[str]:
        """The tokens a request carries (Authorization header, ``token`` query values)."""
        found = []
        for name, value in scope.get("headers", []):
            if name.lower() == b"authorization":
                scheme, _, credential = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer":
                    found.append(credential.strip())
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        return found + query.get("token", [])

    def allowed(self, scope: Scope) -> bool:
        # every candidate is compared, so the time taken does not say which one matched
        results = [hmac.compare_digest(_digest(t), self._digest) for t in self.presented(scope)]
        return any(results)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] not in ("http", "websocket") or scope["path"] in self.open_paths
                or self.allowed(scope)):
            await self.app(scope, receive, send)
            return
        response = PlainTextResponse(
            "401: this monitor needs its token (Authorization: Bearer <token> or ?token=)\n",
            status_code=401, headers={"WWW-Authenticate": 'Bearer realm="iodvideo monitor"'})
        await response(scope, receive, send)
