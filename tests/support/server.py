"""Real uvicorn servers for tests: in a background thread of the test process, or as a
``uvicorn module:app`` subprocess.

In-process, the port comes first: :func:`listen` binds a loopback socket on port 0, so the
URL is known before the app's configuration (``base_url``, redirect URIs registered at the
provider) is built; :func:`serve` then runs the app on that socket with uvicorn in a thread
with its own event loop, and stops it cleanly on exit::

    with listen() as listener:
        app = build_app(base_url=listener.url)
        with serve(app, listener) as url:
            ...  # real HTTP on url; lifespan startup has run

For several processes sharing state (a Redis store, say), :func:`run_uvicorn` starts
``python -m uvicorn module:app`` on a port picked with :func:`free_port`, with extra
environment variables, and waits until it answers HTTP.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import httpx
import uvicorn
from starlette.types import ASGIApp

__all__ = [
    "Listener",
    "ServerStartError",
    "UvicornProcess",
    "free_port",
    "listen",
    "run_uvicorn",
    "serve",
]

START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


class ServerStartError(RuntimeError):
    """uvicorn did not start (import error, lifespan startup failure, port in use…)."""


@dataclass
class Listener:
    """A loopback socket bound to a free port, not yet serving."""

    sock: socket.socket
    host: str
    port: int

    @property
    def url(self) -> str:
        """``http://host:port`` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"


@contextmanager
def listen(host: str = "127.0.0.1") -> Iterator[Listener]:
    """Binds ``host`` on a free port and yields it; the socket is closed on exit."""
    # proto=IPPROTO_TCP explicitly: asyncio only turns Nagle off (TCP_NODELAY) for sockets
    # that say they are TCP; without it every small response waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, 0))
        yield Listener(sock, host, sock.getsockname()[1])
    finally:
        sock.close()


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (for servers that bind it themselves)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(
    app: ASGIApp,
    listener: Listener | None = None,
    *,
    lifespan: Literal["on", "auto", "off"] = "on",
    timeout: float = START_TIMEOUT,
    options: Mapping[str, Any] | None = None,
) -> Iterator[str]:
    """Serves ``app`` with uvicorn in a background thread and yields its base URL.

    Without ``listener`` a fresh one is bound. ``options`` go to ``uvicorn.Config`` as well
    (``proxy_headers``, ``forwarded_allow_ips``, ``root_path``...). Returns once uvicorn has
    run the lifespan startup and listens; raises :class:`ServerStartError` when it cannot
    start. On exit, uvicorn shuts down gracefully (lifespan shutdown included) and the
    thread is joined.
    """
    if listener is None:
        with listen() as fresh, serve(app, fresh, lifespan=lifespan, timeout=timeout, options=options) as url:
            yield url
        return

    config = uvicorn.Config(
        app,
        lifespan=lifespan,
        log_level="warning",
        loop="asyncio",
        ws="none",  # nothing here needs websockets; spares importing the websockets package
        timeout_graceful_shutdown=5,
        **(options or {}),
    )
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[listener.sock])
        except BaseException as exc:  # SystemExit on a failed lifespan startup, too
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"uvicorn:{listener.port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or failure:
            thread.join(timeout=1)
            raise ServerStartError(f"uvicorn did not start on {listener.url}: {failure[:1]!r}")
        if time.monotonic() > deadline:
            server.should_exit = True
            thread.join(timeout=STOP_TIMEOUT)
            raise ServerStartError(f"uvicorn did not start on {listener.url} within {timeout:.0f}s")
        time.sleep(0.01)
    try:
        yield listener.url
    finally:
        server.should_exit = True
        thread.join(timeout=STOP_TIMEOUT)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=STOP_TIMEOUT)
    if failure:
        raise RuntimeError(f"uvicorn on {listener.url} ended with {failure[0]!r}") from failure[0]


@dataclass
class UvicornProcess:
    """A ``python -m uvicorn`` subprocess; its stdout and stderr go to one temporary file."""

    process: subprocess.Popen[bytes]
    url: str
    port: int
    _log: IO[bytes] = field(repr=False)

    def output(self, limit: int = 4000) -> str:
        """The tail of what the process printed so far."""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-limit:]

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down gracefully), SIGKILL after a grace period."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)


@contextmanager
def run_uvicorn(
    target: str,
    *,
    port: int,
    env: Mapping[str, str] | None = None,
    app_dir: str | Path | None = None,
    host: str = "127.0.0.1",
    args: Sequence[str] = (),
    ready_path: str = "/",
    timeout: float = START_TIMEOUT,
) -> Iterator[UvicornProcess]:
    """Runs ``uvicorn target`` (``module:attribute``) on ``host:port`` as a subprocess.

    ``env`` is added to this process's environment; ``app_dir`` goes to ``--app-dir``;
    ``args`` are extra uvicorn options. Yields once ``GET ready_path`` gets any HTTP
    answer; raises :class:`ServerStartError` with the process output when it exits or
    does not answer in time. The process is stopped on exit.
    """
    command = [sys.executable, "-m", "uvicorn", target, "--host", host, "--port", str(port)]
    command += ["--log-level", "warning", *args]
    if app_dir is not None:
        command += ["--app-dir", str(app_dir)]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        running = UvicornProcess(process, f"http://{host}:{port}", port, log)
        try:
            _wait_until_answering(running, ready_path, timeout, command)
            yield running
        finally:
            running.stop()


def _wait_until_answering(running: UvicornProcess, path: str, timeout: float, command: list[str]) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=running.url, timeout=2.0) as client:
        while True:
            if not running.running:
                raise ServerStartError(
                    f"uvicorn exited with code {running.process.returncode}; command: {command}\n"
                    f"{running.output()}"
                )
            try:
                client.get(path)
                return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise ServerStartError(
                    f"uvicorn did not answer on {running.url} within {timeout:.0f}s; command: {command}\n"
                    f"{running.output()}"
                )
            time.sleep(0.05)
