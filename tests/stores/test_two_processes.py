"""Two uvicorn processes of one app sharing one Redis or one PostgreSQL: one sign-in works on both, and a
storm of requests with an expired access token sends exactly one refresh grant."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from support.app import register_app
from support.provider import OidcTestProvider, provider_login
from support.server import UvicornProcess, free_port, run_uvicorn

pytestmark = pytest.mark.anyio

HERE = Path(__file__).resolve().parent
RESOURCE = "https://shopping.example.com/api"  # two_process_app.RESOURCE
STORM = 200


@dataclass
class Pair:
    a: UvicornProcess
    b: UvicornProcess

    def __iter__(self) -> Iterator[UvicornProcess]:
        return iter((self.a, self.b))


@pytest.fixture(params=["redis", "postgres"])
async def pair(provider: OidcTestProvider, request: pytest.FixtureRequest) -> AsyncIterator[Pair]:
    """The same app in two uvicorn processes, one client registration, one Redis prefix
    (or one PostgreSQL table)."""
    ports = free_port(), free_port()
    registration = await register_app(provider, *(f"http://127.0.0.1:{port}" for port in ports), prefix="two")
    env = {**registration.env(), "PYTHONPATH": str(HERE.parent)}  # the app imports tests/support
    if request.param == "postgres":
        env |= {
            "POSTGRES_DSN": request.getfixturevalue("postgres_dsn"),
            "POSTGRES_TABLE": f"two_{uuid.uuid4().hex[:8]}",
        }
    else:
        env |= {
            "REDIS_URL": request.getfixturevalue("redis_url"),
            "REDIS_PREFIX": f"two-{uuid.uuid4().hex[:8]}:",
        }
    with ExitStack() as stack:
        a, b = (
            stack.enter_context(run_uvicorn("two_process_app:app", port=port, env=env, app_dir=HERE))
            for port in ports
        )
        yield Pair(a, b)
        for process in (a, b):
            assert process.running, process.output()
            assert "Traceback" not in process.output(), process.output()


async def test_one_refresh_grant_across_two_processes(
    provider: OidcTestProvider, pair: Pair, short_tokens: None
) -> None:
    """200 concurrent requests over both processes, one session, expired token: all 200 OK,
    one token, exactly one refresh grant at the provider."""
    async with httpx.AsyncClient(timeout=30) as browser:
        callback = await provider_login(
            browser, f"{pair.a.url}/sign-in", username="alice", password="alice-password"
        )
        assert callback.status_code == 302, callback.text
        cookie = browser.cookies["logto"]

    headers = {"cookie": f"logto={cookie}"}
    limits = httpx.Limits(max_connections=STORM, max_keepalive_connections=STORM)
    async with httpx.AsyncClient(timeout=30, limits=limits, headers=headers) as client:
        for process in pair:  # one sign-in, seen by both processes
            me = await client.get(f"{process.url}/me")
            assert me.status_code == 200 and me.json()["sub"] == "user-alice"
        first = await client.get(f"{pair.b.url}/token", params={"resource": RESOURCE})
        assert first.status_code == 200, first.text
        await asyncio.sleep(1.5)  # the 2 s token is kept until 1 s before it expires
        # The refreshed token must outlive the storm, or late requests rightly refresh again.
        await provider.set_ttl(AccessToken=300)
        await provider.reset_counts()
        started = time.monotonic()
        urls = [f"{process.url}/token" for process in pair] * (STORM // 2)
        responses = await asyncio.gather(*(client.get(url, params={"resource": RESOURCE}) for url in urls))
        assert [r.status_code for r in responses] == [200] * STORM, [
            r.text for r in responses if r.status_code != 200
        ][:3]
        print(f"\n{STORM} requests over two processes in {time.monotonic() - started:.2f} s")
        bodies = [r.json() for r in responses]
        assert len({b["pid"] for b in bodies}) == 2
        suffixes = {b["token_suffix"] for b in bodies}
        assert len(suffixes) == 1 and first.json()["token_suffix"] not in suffixes
        assert (await provider.counts()).get("token:refresh_token") == 1

        # Both processes hold the rotated refresh token: the sign-in's opaque token (2 s,
        # expired) is refreshed with it, once, whichever process asks.
        await provider.reset_counts()
        later = await asyncio.gather(*(client.get(f"{process.url}/token") for process in pair))
        assert [r.status_code for r in later] == [200, 200]
        assert (await provider.counts()).get("token:refresh_token") == 1
