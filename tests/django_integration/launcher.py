"""The test Django project (``tests/django_site``) in its own uvicorn process.

Django's settings are process-global, so the project never runs in the test process:
:func:`run_site` migrates a fresh SQLite file, registers a client at the test provider
for a free port, and serves ``django_site.asgi:<target>`` there with ``python -m
uvicorn``. The test reads the database file directly (``sqlite3``) and the server's
output (its log lines) through :class:`DjangoSite`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx

from support.provider import OidcTestProvider, provider_login
from support.server import UvicornProcess, free_port, run_uvicorn

TESTS = Path(__file__).resolve().parents[1]
PASSWORDS = {"alice": "alice-password", "bob": "bob-password", "demo": "demo-password"}
LOG_TIMEOUT = 10.0

Users = Literal["lightweight", "database"]


@dataclass
class DjangoSite:
    """A running test project."""

    url: str
    users: Users
    db: Path
    process: UvicornProcess

    def output(self) -> str:
        """Everything the server printed so far."""
        return self.process.output(limit=10_000_000)

    def mark(self) -> int:
        """A position in the output, for :meth:`output_since`."""
        return len(self.output())

    def output_since(self, mark: int) -> str:
        return self.output()[mark:]

    def wait_for_output(self, text: str, timeout: float = LOG_TIMEOUT) -> str:
        """The output once it contains ``text`` (bounded poll: the server writes from its own process)."""
        deadline = time.monotonic() + timeout
        while text not in (output := self.output()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not in the server output:\n{output[-4000:]}")
            time.sleep(0.05)
        return output

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows of the project's database (read in this process, with ``sqlite3``)."""
        with closing(sqlite3.connect(self.db, timeout=10)) as db:
            return db.execute(sql, params).fetchall()

    def execute(self, sql: str, *params: Any) -> None:
        with closing(sqlite3.connect(self.db, timeout=10)) as db, db:
            db.execute(sql, params)

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        """A cookie-keeping client of the site (no redirects followed)."""
        return httpx.AsyncClient(base_url=self.url, timeout=15, **kwargs)

    async def sign_in(self, http: httpx.AsyncClient, username: str, return_to: str = "/") -> httpx.Response:
        """Signs ``username`` in with ``http`` (the provider's login form); the callback's response."""
        start = await http.get("/sign-in", params={"return_to": return_to})
        assert start.status_code == 302, start.text
        return await provider_login(
            http, start.headers["location"], username=username, password=PASSWORDS[username]
        )


def _env(
    provider: OidcTestProvider, url: str, db: Path, users: Users, client_id: str, secret: str
) -> dict[str, str]:
    return {
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "DJANGO_SETTINGS_MODULE": "django_site.settings",
        "DJANGO_SITE_DB": str(db),
        "DJANGO_SITE_USERS": users,
        "LOGTO_ENDPOINT": provider.url,
        "LOGTO_APP_ID": client_id,
        "LOGTO_APP_SECRET": secret,
        "LOGTO_COOKIE_SECRET": secrets.token_urlsafe(48),
        "LOGTO_BASE_URL": url,
        "PYTHONUNBUFFERED": "1",
    }


@contextmanager
def run_site(
    provider: OidcTestProvider, *, users: Users, target: str = "application", migrate: bool = True
) -> Iterator[DjangoSite]:
    """Serves ``django_site.asgi:<target>`` with ``users`` mode until the block ends."""
    workdir = Path(tempfile.mkdtemp(prefix="django-site-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    client_id, secret = f"django-{uuid.uuid4().hex[:10]}", secrets.token_urlsafe(24)
    env = _env(provider, url, workdir / "db.sqlite3", users, client_id, secret)
    try:
        if migrate:
            subprocess.run(
                [sys.executable, "-m", "django", "migrate", "--noinput", "-v", "0"],
                cwd=TESTS,
                env={**os.environ, **env},
                check=True,
                timeout=120,
            )

        async def register() -> None:
            await provider.register_client(
                client_id=client_id, client_secret=secret, redirect_uris=[f"{url}/callback"]
            )

        anyio.run(register)
        with run_uvicorn(
            f"django_site.asgi:{target}", port=port, env=env, app_dir=TESTS, ready_path="/whoami-sync"
        ) as process:
            yield DjangoSite(url, users, workdir / "db.sqlite3", process)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
