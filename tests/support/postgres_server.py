"""A real PostgreSQL server for the tests, on a free loopback port in a temporary directory.

PostgreSQL refuses to run as root, and CI runs as root: then ``initdb`` and ``postgres``
run as the Debian ``postgres`` user, in a directory that user owns (as anyone else, as
oneself). The binaries come from ``$POSTGRES_BINDIR``, ``pg_config --bindir`` or
``/usr/lib/postgresql/<version>/bin``. The server listens on 127.0.0.1 only, with its
unix socket inside the directory, and password (SCRAM) authentication, so the DSN has a
password to hide. :meth:`PostgresServer.stop` then :meth:`PostgresServer.start` keeps the
port and the data: the way to test "the database went away, then came back".

``postgresql`` is a Debian package (``make install`` / ``.ci/run`` install it). When it
is missing, :func:`start_postgres` raises :class:`PostgresStartError`: the tests fail and
say so, they are never skipped.

Also a pytest plugin: a test module that says ``pytest_plugins = ["support.postgres_server"]``
gets the session-scoped ``postgres_server`` fixture (one server per test run, whichever
modules ask for it) and ``postgres_dsn`` (which restarts the server after a test that
stopped it).
"""

from __future__ import annotations

import atexit
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

__all__ = [
    "PostgresServer",
    "PostgresStartError",
    "find_postgres_bindir",
    "postgres_dsn",
    "postgres_server",
    "start_postgres",
]

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
USER = "logto"
DBNAME = "postgres"


class PostgresStartError(RuntimeError):
    """PostgreSQL is not installed, or ``initdb`` / the server failed or did not answer."""


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def find_postgres_bindir() -> Path:
    """The folder holding ``initdb`` and ``postgres``, or a clear error."""
    candidates: list[str] = []
    if os.environ.get("POSTGRES_BINDIR"):  # when set, nothing else is tried
        candidates.append(os.environ["POSTGRES_BINDIR"])
    else:
        if shutil.which("pg_config"):
            found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
            candidates.append(found.stdout.strip())
        versions = Path("/usr/lib/postgresql").glob("*/bin")
        newest = sorted(versions, key=lambda p: [int(n) for n in p.parent.name.split(".") if n.isdigit()])
        candidates.extend(str(p) for p in reversed(newest))
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists() and (Path(candidate) / "postgres").exists():
            return Path(candidate)
    raise PostgresStartError(
        "PostgreSQL is not installed: the PostgresStore tests need a real server. "
        "Install Debian's package (apt-get install postgresql, or `make install`), "
        "or set POSTGRES_BINDIR to the folder holding initdb and postgres"
    )


def _run_as() -> dict[str, Any]:
    """``subprocess`` arguments that drop root to the ``postgres`` user (nothing otherwise)."""
    if os.geteuid() != 0:
        return {}
    try:
        account = pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresStartError(
            "running as root, and PostgreSQL refuses root: the `postgres` user is missing "
            "(Debian's postgresql package creates it)"
        ) from None
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


@dataclass
class PostgresServer:
    """One PostgreSQL server process; its data directory outlives restarts."""

    bindir: Path
    directory: Path
    host: str = "127.0.0.1"
    port: int = 0
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12), repr=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.port:
            self.port = _free_port(self.host)

    @property
    def dsn(self) -> str:
        """``postgresql://logto:<password>@127.0.0.1:<port>/postgres``."""
        return f"postgresql://{USER}:{self.password}@{self.host}:{self.port}/{DBNAME}"

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The postmaster's PID while it runs."""
        return self._process.pid if self._process is not None and self.running else None

    def log_tail(self, limit: int = 3000) -> str:
        """The end of what the server wrote to its log."""
        path = self.directory / "postgres.log"
        return path.read_text("utf-8", "replace")[-limit:] if path.exists() else ""

    def init(self) -> None:
        """``initdb`` once: superuser ``logto`` with the password, SCRAM over TCP."""
        if (self.data / "PG_VERSION").exists():
            return
        as_postgres = _run_as()
        if as_postgres:
            os.chown(self.directory, as_postgres["user"], as_postgres["group"])
        self.directory.chmod(0o700)
        pwfile = self.directory / "password"
        pwfile.write_text(self.password)
        if as_postgres:
            os.chown(pwfile, as_postgres["user"], as_postgres["group"])
        command = [
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", USER, f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C", "--no-sync",
        ]  # fmt: skip
        done = subprocess.run(
            command, cwd=self.directory, capture_output=True, text=True, check=False, **as_postgres
        )
        pwfile.unlink()
        if done.returncode != 0:
            raise PostgresStartError(
                f"initdb failed ({done.returncode}): {command}\n{done.stdout}{done.stderr}"
            )

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start (or restart) on the same port and data; return once it accepts the DSN."""
        if self.running:
            return
        self.init()
        command = [
            str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port),
            "-c", f"listen_addresses={self.host}",
            "-c", f"unix_socket_directories={self.directory}",
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "max_connections=200", "-c", "logging_collector=off",
        ]  # fmt: skip
        with (self.directory / "postgres.log").open("ab") as log:
            self._process = subprocess.Popen(
                command, cwd=self.directory, stdin=subprocess.DEVNULL, stdout=log, stderr=log, **_run_as()
            )
        atexit.register(self.stop)
        self._wait_ready(command, timeout)

    def _wait_ready(self, command: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.dsn, connect_timeout=2).close()
                return
            except psycopg.OperationalError as exc:
                error = exc
            assert self._process is not None
            if self._process.poll() is not None:
                raise PostgresStartError(
                    f"postgres exited with code {self._process.returncode}; command: {command}\n"
                    f"{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise PostgresStartError(
                    f"postgres did not accept connections on port {self.port} in {timeout:.0f}s: {error}\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """Fast shutdown by PID (SIGINT: sessions are cut, data kept), SIGKILL after a grace period."""
        atexit.unregister(self.stop)
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)

    def restart(self) -> None:
        self.stop()
        self.start()


def start_postgres(directory: Path) -> PostgresServer:
    """A fresh server on a free port, its data in ``directory`` (which it may chown)."""
    server = PostgresServer(find_postgres_bindir(), directory)
    server.start()
    return server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL on a free loopback port (fails, never skips, when it cannot start)."""
    # Not under pytest's tmp_path: its parents are private to root, and postgres must enter.
    directory = Path(tempfile.mkdtemp(prefix="logto-pg-"))
    try:
        server = start_postgres(directory)
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer) -> Iterator[str]:
    """The shared server's DSN; restarts it after a test that stopped it."""
    yield postgres_server.dsn
    if not postgres_server.running:
        postgres_server.start()
