"""A request that only renews the session must not write back a refresh token that a
concurrent request has just spent: replayed later, Logto would revoke the whole grant.
Server-side stores and cookies alike."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from logto_asgi import CookieStore, MemoryStore, SessionStore, get_context
from support.app import APP_ORIGIN, SHOPPING, STORE, Harness, browser_cookies, make_harness, token
from support.provider import OidcTestProvider
from support.redis_server import redis_store

pytestmark = pytest.mark.anyio


class Gate:
    """Holds /slow open after it has read the session, until the test lets it finish."""

    def __init__(self) -> None:
        self.entered = anyio.Event()
        self.release = anyio.Event()

    async def slow(self, request: Request) -> Response:
        user = request.state.user
        self.entered.set()
        await self.release.wait()
        return PlainTextResponse(user.sub if user else "nobody")

    async def token_then_wait(self, request: Request) -> Response:
        await get_context(request).get_access_token(STORE)
        return await self.slow(request)


@pytest.fixture(params=["cookie", "memory", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[CookieStore | SessionStore]:
    if request.param != "redis":
        yield CookieStore() if request.param == "cookie" else MemoryStore()
        return
    async with redis_store(request.getfixturevalue("redis_url"), "race") as store:
        yield store


@pytest.fixture
async def harness(
    provider: OidcTestProvider, store: CookieStore | SessionStore
) -> AsyncIterator[tuple[Harness, Gate]]:
    gate = Gate()
    app = Starlette(
        routes=[Route("/slow", gate.slow), Route("/wait", gate.token_then_wait), Route("/token", token)]
    )
    await provider.set_ttl(AccessToken=300)
    h = await make_harness(provider, app=app, store=store)
    try:
        yield h, gate
    finally:
        await h.aclose()
        await provider.reset_ttl()


async def test_renewal_does_not_overwrite_a_concurrent_refresh(
    harness: tuple[Harness, Gate], provider: OidcTestProvider
) -> None:
    """/slow reads the session, /token refreshes it meanwhile, then /slow renews: the session
    written last (store entry or cookie) holds the new refresh token and the new token."""
    h, gate = harness
    await h.sign_in("alice")
    backend = h.middleware.core.backend
    before = await backend.load(browser_cookies(h.client))
    assert before is not None
    # Past the renewal interval (and the 300 s access tokens): every request renews.
    h.middleware.core.clock = lambda: time.time() + h.middleware.core.renew_after + 301

    async with anyio.create_task_group() as tg:
        tg.start_soon(h.client.get, f"{APP_ORIGIN}/slow")
        await gate.entered.wait()
        refreshed = await h.client.get(f"{APP_ORIGIN}/token", params={"resource": SHOPPING, "raw": "1"})
        assert refreshed.status_code == 200
        gate.release.set()

    after = await backend.load(browser_cookies(h.client))
    assert after is not None and after.refresh_token != before.refresh_token
    assert SHOPPING in after.access_tokens


async def test_two_refreshes_in_flight_keep_the_last_refresh_token(
    harness: tuple[Harness, Gate], provider: OidcTestProvider
) -> None:
    """/wait refreshes for one resource and holds; /token refreshes for another meanwhile
    (joining the first refresh, then spending its successor); /wait saves last: the saved
    session has the newest refresh token and both access tokens."""
    h, gate = harness
    await h.sign_in("alice")
    backend = h.middleware.core.backend
    await provider.reset_counts()

    async with anyio.create_task_group() as tg:
        tg.start_soon(h.client.get, f"{APP_ORIGIN}/wait")
        await gate.entered.wait()
        refreshed = await h.client.get(f"{APP_ORIGIN}/token", params={"resource": SHOPPING, "raw": "1"})
        assert refreshed.status_code == 200
        newest = await backend.load(browser_cookies(h.client))
        gate.release.set()

    assert (await provider.counts()).get("token:refresh_token") == 2
    after = await backend.load(browser_cookies(h.client))
    assert newest is not None and after is not None
    assert after.refresh_token == newest.refresh_token
    assert {SHOPPING, STORE} <= set(after.access_tokens)
