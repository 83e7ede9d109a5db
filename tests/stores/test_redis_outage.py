"""Redis goes away mid-test: requests that need the session get a clear 503, the others
keep working, nothing crashes; Redis comes back and the same session works again."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from logto_asgi import ConfigurationError, CookieStore, LogtoConfig, RedisStore
from support.app import APP_ORIGIN, Harness, make_harness
from support.provider import OidcTestProvider
from support.redis_server import RedisServer

pytestmark = pytest.mark.anyio


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


async def me(request: Request) -> Response:
    user = request.state.user
    return JSONResponse({"sub": user.sub if user else None}, status_code=200 if user else 401)


@pytest.fixture
async def harness(provider: OidcTestProvider, redis_url: str) -> AsyncIterator[Harness]:
    """A tiny app on the shared Redis: /health never reads the session, /me does."""
    store = RedisStore(redis_url, prefix=f"outage-{uuid.uuid4().hex[:8]}:")
    app = Starlette(routes=[Route("/health", health), Route("/me", me)])
    h = await make_harness(provider, app=app, store=store)
    try:
        yield h
    finally:
        await h.aclose()


@pytest.mark.redis
async def test_redis_down_then_back(
    harness: Harness, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Down: /me → 503 (JSON or HTML, no traceback), /health → 200, the cookie is kept,
    sign-in and sign-out say 503 too. Back: the same cookie is signed in again."""
    await harness.sign_in("alice")
    cookie = harness.client.cookies.get("logto", domain="app.test")
    assert (await harness.client.get(f"{APP_ORIGIN}/me")).json() == {"sub": "user-alice"}

    redis_server.stop()
    caplog.set_level(logging.INFO, logger="logto_asgi")
    html = await harness.client.get(f"{APP_ORIGIN}/me")
    assert html.status_code == 503
    assert "Traceback" not in html.text and "store_unavailable" in html.text
    assert "set-cookie" not in html.headers  # the session is kept for when Redis is back
    api = await harness.client.get(f"{APP_ORIGIN}/me", headers={"accept": "application/json"})
    assert api.status_code == 503
    assert api.json()["error"] == "store_unavailable"
    assert api.headers["cache-control"] == "no-store"
    health_check = await harness.client.get(f"{APP_ORIGIN}/health")
    assert health_check.status_code == 200 and health_check.text == "ok"
    assert (await harness.client.get(f"{APP_ORIGIN}/sign-out")).status_code == 503
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"

    redis_server.start()
    assert harness.client.cookies.get("logto", domain="app.test") == cookie
    back = await harness.client.get(f"{APP_ORIGIN}/me")
    assert back.status_code == 200 and back.json() == {"sub": "user-alice"}


def test_backchannel_logout_needs_a_server_side_store() -> None:
    """LogtoConfig(store=CookieStore(), backchannel_logout_path=…) fails at construction."""
    with pytest.raises(ConfigurationError) as info:
        LogtoConfig(
            endpoint="https://id.example.com",
            app_id="app",
            cookie_secret="c" * 32,
            store=CookieStore(),
            backchannel_logout_path="/backchannel-logout",
        )
    assert "backchannel_logout_path" in str(info.value)
    assert "server-side store" in str(info.value)
