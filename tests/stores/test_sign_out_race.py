"""Sign-out while a refresh is in flight: the refresh's late answer must not sign the
browser in again, and the refresh token it brought is revoked (cookie, memory, Redis, PostgreSQL)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import anyio
import httpx
import pytest
from starlette.types import Receive, Scope, Send

from logto_asgi import MemoryStore, PostgresStore, SessionStore
from logto_asgi.sessions.redis import RedisStore
from support.app import APP_ORIGIN, SHOPPING, Harness, browser_cookies, make_harness
from support.provider import OidcTestProvider
from support.server import serve

pytestmark = pytest.mark.anyio


class HeldRefresh(httpx.AsyncBaseTransport):
    """Real HTTP; a refresh grant's answer (already issued by the provider) is held back
    until ``release`` is set, and the refresh token it carries is kept for the test."""

    def __init__(self) -> None:
        self._real = httpx.AsyncHTTPTransport()
        self.held = anyio.Event()
        self.release = anyio.Event()
        self.issued: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._real.handle_async_request(request)
        body = request.content.decode("latin-1") if request.method == "POST" else ""
        if not request.url.path.endswith("/token") or "grant_type=refresh_token" not in body:
            return response
        raw = await response.aread()
        token = json.loads(raw).get("refresh_token")
        if isinstance(token, str):
            self.issued.append(token)
        self.held.set()
        await self.release.wait()
        return httpx.Response(response.status_code, headers=response.headers, content=raw, request=request)

    async def aclose(self) -> None:
        await self._real.aclose()


def server_store(request: pytest.FixtureRequest, kind: str) -> SessionStore:
    """A fresh server-side store of ``kind`` (its own keys or table)."""
    if kind == "memory":
        return MemoryStore()
    if kind == "postgres":
        return PostgresStore(request.getfixturevalue("postgres_dsn"), table=f"race_{uuid.uuid4().hex[:8]}")
    return RedisStore(request.getfixturevalue("redis_url"), prefix=f"race-{uuid.uuid4().hex[:8]}:")


@pytest.fixture(params=["cookie", "memory", "redis", "postgres"])
async def harness(
    request: pytest.FixtureRequest, provider: OidcTestProvider
) -> AsyncIterator[tuple[Harness, HeldRefresh]]:
    """An app whose provider connection holds refresh answers, on each kind of store."""
    transport = HeldRefresh()
    http = httpx.AsyncClient(transport=transport)
    options: dict[str, Any] = {"http_client": http}
    if request.param != "cookie":
        options["store"] = server_store(request, request.param)
    await provider.set_ttl(AccessToken=300)
    h = await make_harness(provider, **options)
    try:
        yield h, transport
    finally:
        await h.aclose()
        await http.aclose()
        await provider.reset_ttl()


async def refresh_grant_works(provider: OidcTestProvider, h: Harness, refresh_token: str) -> bool:
    """Whether the provider still accepts ``refresh_token`` (asked directly)."""
    auth = (h.config.app_id, h.config.app_secret or "")
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{provider.url}/oidc/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=auth,
        )
    return response.status_code == 200


async def test_sign_out_during_a_refresh_stays_signed_out(
    harness: tuple[Harness, HeldRefresh], provider: OidcTestProvider
) -> None:
    """The refresh answers after the sign-out began: the request gets 401, no session
    cookie is written back, the browser stays signed out, and the refresh token the late
    answer brought is revoked (sign-out waited for it)."""
    h, transport = harness
    await h.sign_in("alice")
    offset = 301.0
    h.middleware.core.clock = lambda: time.time() + offset  # the cached tokens look expired
    results: dict[str, httpx.Response] = {}

    async def refresh() -> None:
        results["token"] = await h.client.get(
            f"{APP_ORIGIN}/token", params={"resource": SHOPPING, "raw": "1"}
        )

    async def sign_out() -> None:
        results["sign_out"] = await h.client.get(
            f"{APP_ORIGIN}{h.config.sign_out_path}", headers={"sec-fetch-site": "same-origin"}
        )

    session = await h.middleware.core.backend.load(browser_cookies(h.client))
    assert session is not None
    async with anyio.create_task_group() as tg:
        tg.start_soon(refresh)
        with anyio.fail_after(15):
            await transport.held.wait()
        tg.start_soon(sign_out)
        with anyio.fail_after(15):  # the sign-out has left its marker: now the refresh answers
            while not await h.middleware.core.tokens.is_ended(session.id):  # noqa: ASYNC110 - the app writes it
                await anyio.sleep(0.01)
        transport.release.set()
    assert results["sign_out"].status_code in (302, 303)
    late = results["token"]
    assert late.status_code == 401, late.text
    assert all("Max-Age=0" in value for value in late.headers.get_list("set-cookie")), late.headers
    me = await h.client.get(f"{APP_ORIGIN}/me")
    assert me.status_code == 401
    assert transport.issued, "the provider issued no refresh token"
    assert not await refresh_grant_works(provider, h, transport.issued[-1])


class LogoutTokenCatcher:
    """Stands at the back-channel logout URI registered at the provider: keeps the real
    logout tokens the provider sends, so the test can deliver one when it chooses."""

    def __init__(self) -> None:
        self.tokens: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.tokens.extend(parse_qs(body.decode()).get("logout_token", []))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.mark.parametrize("kind", ["memory", "redis", "postgres"])
async def test_back_channel_logout_during_a_refresh_stays_signed_out(
    provider: OidcTestProvider, request: pytest.FixtureRequest, kind: str
) -> None:
    """The provider's back-channel logout arrives while a refresh is in flight: the late
    answer does not bring the session back, and the refresh token it brought is revoked."""
    transport = HeldRefresh()
    http = httpx.AsyncClient(transport=transport)
    catcher = LogoutTokenCatcher()
    with serve(catcher) as catcher_url:
        h = await make_harness(
            provider,
            store=server_store(request, kind),
            http_client=http,
            backchannel_logout_path="/backchannel-logout",
            register={"backchannel_logout_uri": f"{catcher_url}/bcl"},
        )
        await provider.set_ttl(AccessToken=30)
        try:
            await h.sign_in("alice")
            # The cached tokens look expired; the logout token (exp a few minutes) does not.
            h.middleware.core.clock = lambda: time.time() + 31
            results: dict[str, httpx.Response] = {}

            async def refresh() -> None:
                results["token"] = await h.client.get(
                    f"{APP_ORIGIN}/token", params={"resource": SHOPPING, "raw": "1"}
                )

            async with anyio.create_task_group() as tg:
                tg.start_soon(refresh)
                with anyio.fail_after(15):
                    await transport.held.wait()
                await provider.backchannel_logout(sub="user-alice", client_id=h.config.app_id)
                assert catcher.tokens, "the provider sent no logout token"
                logout = await h.client.post(
                    f"{APP_ORIGIN}/backchannel-logout", data={"logout_token": catcher.tokens[-1]}
                )
                assert logout.status_code == 200, logout.text
                transport.release.set()
            assert results["token"].status_code == 401, results["token"].text
            assert (await h.client.get(f"{APP_ORIGIN}/me")).status_code == 401
            assert transport.issued and not await refresh_grant_works(provider, h, transport.issued[-1])
        finally:
            await h.aclose()
            await http.aclose()
            await provider.reset_ttl()
