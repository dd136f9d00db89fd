"""uvicorn in a background thread, started and stopped from Python.

The detector keeps the main thread (Ctrl-C reaches it as always, and its errors end the
command as before); the server runs its own event loop in a daemon thread. The socket is
bound here, before the thread starts, so a port in use is reported at once as one line and
``port=0`` picks a free port whose number :attr:`ServerThread.port` then knows.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from typing import Any

import uvicorn

from iodvideo.errors import ConfigError

log = logging.getLogger(__name__)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on ``host:port`` (IPv4 or IPv6)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as err:
        raise ConfigError(f"serve.host={host}: cannot use this address ({err})") from err
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as err:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port} ({err.strerror or err}); "
                          "choose another serve.port") from err
    sock.set_inheritable(True)
    return sock


class ServerThread:
    """Serve an ASGI ``app`` on ``host:port`` from a daemon thread.

    ``with ServerThread(app, "127.0.0.1", 0) as server: ... server.url ...``; leaving the
    block (or :meth:`stop`) ends the app's endless responses first, if the app has a
    ``state.live`` (see :func:`~.app.create_app`), then stops uvicorn and joins the thread.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 8080,
                 log_level: str = "warning", graceful_seconds: float = 3.0) -> None:
        self.app, self.host = app, host
        self._socket = bind_socket(host, port)
        self.port = int(self._socket.getsockname()[1])
        # log_config=None: uvicorn's loggers go through the application's logging setup
        # (Hydra's) instead of replacing it
        self._server = uvicorn.Server(uvicorn.Config(
            app, log_config=None, log_level=log_level, access_log=False, lifespan="on",
            timeout_graceful_shutdown=graceful_seconds))
        self._thread = threading.Thread(target=self._run, name="iodvideo-serve", daemon=True)
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        except BaseException as err:  # noqa: BLE001 - reported by start()/stop()
            self._error = err

    def start(self, timeout: float = 30.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._socket.close()
                raise RuntimeError(f"the monitor's web server did not start: {self._error!r}")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving. Streams end first; a viewer whose socket is full (stalled) is cut
        after ``graceful_seconds``, and uvicorn's report of that expected cancellation is
        silenced."""
        live = getattr(getattr(self.app, "state", None), "live", None)
        if live is not None:
            live.close_threadsafe()
        self._server.should_exit = True
        errors = logging.getLogger("uvicorn.error")
        level = errors.level
        errors.setLevel(logging.CRITICAL)
        try:
            if self._thread.is_alive():
                self._thread.join(timeout)
        finally:
            errors.setLevel(level)
        if self._thread.is_alive():
            log.warning("the web server thread did not stop within %.0f s", timeout)
        self._socket.close()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def linger(seconds: float | None, stop: threading.Event | None) -> None:
    """Keep serving the final state for ``seconds`` (None: until Ctrl-C or ``stop``)."""
    if seconds is not None and seconds <= 0:
        return
    print("source ended; serving the final state " + (
        "until Ctrl-C" if seconds is None else f"for {seconds:g} s (Ctrl-C ends it sooner)"),
        file=sys.stderr, flush=True)
    deadline = None if seconds is None else time.monotonic() + seconds
    stop = stop or threading.Event()
    try:
        while not stop.is_set():
            left = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
            if left <= 0:
                break
            stop.wait(left)
    except KeyboardInterrupt:
        pass
