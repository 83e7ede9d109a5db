"""A real ``redis-server`` for the tests, on a free loopback port in a temporary directory.

Persistence is the append-only file only (``--save "" --appendonly yes``), so
:meth:`RedisServer.stop` then :meth:`RedisServer.start` on the same port and directory
brings the data back: the way to test "Redis went away, then came back".

``redis-server`` is a Debian package (``make install`` / ``.ci/run`` install it). When it
is missing, :func:`start_redis` raises :class:`RedisStartError`: the tests fail and say
so, they are never skipped.
"""

from __future__ import annotations

import atexit
import datetime
import ipaddress
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from logto_asgi.sessions.redis import RedisStore

__all__ = [
    "RedisServer",
    "RedisStartError",
    "TlsFiles",
    "find_redis_server",
    "make_tls_files",
    "redis_server",
    "start_redis",
]

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


class RedisStartError(RuntimeError):
    """``redis-server`` is not installed, or did not answer PING in time."""


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _ping(host: str, port: int, tls_ca: Path | None = None, timeout: float = 0.5) -> bool:
    """A raw RESP ``PING`` (no client library: this must work before redis-py is trusted).

    Any RESP answer counts (``+PONG``, or ``-NOAUTH`` when a password is required).
    """
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            if tls_ca is None:
                raw.sendall(b"PING\r\n")
                return raw.recv(64)[:1] in (b"+", b"-")
            context = ssl.create_default_context(cafile=str(tls_ca))
            with context.wrap_socket(raw, server_hostname=host) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64)[:1] in (b"+", b"-")
    except OSError:
        return False


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for ``redis-server --tls-port``: its certificate, key, and the CA."""

    cert: Path
    key: Path
    ca: Path


class RedisServer:
    """One ``redis-server`` process; its data directory outlives restarts.

    ``args`` are extra ``redis-server`` options (``["--requirepass", "…"]``). With ``tls``
    the server listens with TLS only, on the same port.
    """

    def __init__(
        self,
        binary: str,
        directory: Path,
        host: str = "127.0.0.1",
        port: int | None = None,
        *,
        args: Sequence[str] = (),
        tls: TlsFiles | None = None,
    ) -> None:
        self.binary = binary
        self.directory = directory
        self.host = host
        self.port = port if port is not None else _free_port(host)
        self.args = list(args)
        self.tls = tls
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0`` (``rediss://`` with TLS; no credentials)."""
        scheme = "rediss" if self.tls is not None else "redis"
        return f"{scheme}://{self.host}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_tail(self, limit: int = 3000) -> str:
        """The end of what redis-server wrote to its log file."""
        path = self.directory / "redis.log"
        return path.read_text("utf-8", "replace")[-limit:] if path.exists() else ""

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start (or restart) on the same port and directory; return once it answers PING."""
        if self.running:
            return
        if self.tls is None:
            listen = ["--port", str(self.port)]
        else:
            listen = [
                "--port", "0",
                "--tls-port", str(self.port),
                "--tls-cert-file", str(self.tls.cert),
                "--tls-key-file", str(self.tls.key),
                "--tls-ca-cert-file", str(self.tls.ca),
                "--tls-auth-clients", "no",
            ]  # fmt: skip
        command = [
            self.binary,
            *listen,
            "--bind", self.host,
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "yes",
            "--logfile", "redis.log",
            "--daemonize", "no",
            "--protected-mode", "no",
            *self.args,
        ]  # fmt: skip
        self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while not _ping(self.host, self.port, self.tls.ca if self.tls else None):
            if self._process.poll() is not None:
                err = self._process.stderr.read().decode("utf-8", "replace") if self._process.stderr else ""
                raise RedisStartError(
                    f"redis-server exited with code {self._process.returncode}; command: {command}\n"
                    f"{err}{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RedisStartError(
                    f"redis-server did not answer PING on port {self.port} in {timeout:.0f}s"
                )
            time.sleep(0.02)

    def stop(self) -> None:
        """SIGTERM (Redis flushes its append-only file), SIGKILL after a grace period."""
        atexit.unregister(self.stop)
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)
        if process.stderr is not None:
            process.stderr.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def __repr__(self) -> str:
        return f"RedisServer(url={self.url!r}, running={self.running})"


def make_tls_files(directory: Path, host: str = "127.0.0.1") -> TlsFiles:
    """A throwaway CA and a server certificate for ``host`` (an IP SAN), as PEM files."""
    now = datetime.datetime.now(datetime.timezone.utc)
    valid = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1))

    def pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "logto-asgi test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(cert=directory / "server.pem", key=directory / "server.key", ca=directory / "ca.pem")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(pem_key(key))
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return files


def find_redis_server() -> str:
    """The ``redis-server`` binary (``$REDIS_SERVER`` or on ``PATH``), or a clear error."""
    binary = shutil.which(os.environ.get("REDIS_SERVER") or "redis-server")
    if binary is None:
        raise RedisStartError(
            "redis-server is not installed: the RedisStore tests need a real Redis. "
            "Install Debian's package (sudo apt-get install redis-server, or `make install`), "
            "or set REDIS_SERVER=/path/to/redis-server"
        )
    return binary


def start_redis(directory: Path, *, args: Sequence[str] = (), tls: TlsFiles | None = None) -> RedisServer:
    """Start a fresh ``redis-server`` on a free port, keeping its data in ``directory``."""
    server = RedisServer(find_redis_server(), directory, args=args, tls=tls)
    server.start()
    return server


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A running ``redis-server`` in a temporary directory, stopped and removed on exit."""
    with tempfile.TemporaryDirectory(prefix="logto-redis-") as tmp:
        server = start_redis(Path(tmp))
        try:
            yield server
        finally:
            server.stop()


@asynccontextmanager
async def redis_store(url: str, prefix: str = "test") -> AsyncIterator[RedisStore]:
    """A ``RedisStore`` whose keys carry a prefix of their own (``{prefix}-<random>:``), so
    tests never see each other's keys; closed on exit."""
    store = RedisStore(url, prefix=f"{prefix}-{uuid.uuid4().hex[:8]}:")
    try:
        yield store
    finally:
        await store.aclose()
