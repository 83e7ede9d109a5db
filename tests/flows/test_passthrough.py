"""Everything that is not an auth path passes through: streaming, websockets, lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from starlette.applications import Starlette

from logto_asgi import LogtoConfig, LogtoMiddleware
from support.app import APP_ORIGIN, Harness
from support.asgi import lifespan, websocket_session

pytestmark = pytest.mark.anyio


async def test_streaming_response_passes_through(harness: Harness) -> None:
    """A streaming response arrives whole, anonymous or signed in."""
    assert (await harness.client.get(f"{APP_ORIGIN}/stream")).text == "chunk 0\nchunk 1\nchunk 2\n"
    await harness.sign_in("alice")
    assert (await harness.client.get(f"{APP_ORIGIN}/stream")).text == "chunk 0\nchunk 1\nchunk 2\n"


async def test_websocket_sees_the_signed_in_user(harness: Harness) -> None:
    """A websocket reaches the app with websocket.state.user, anonymous or signed in."""
    sent = await websocket_session(harness.middleware, "/ws")
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert sent[1]["text"] == "anonymous"
    await harness.sign_in("alice")
    cookie = "; ".join(f"{c.name}={c.value}" for c in harness.client.cookies.jar)
    sent = await websocket_session(harness.middleware, "/ws", headers=[(b"cookie", cookie.encode())])
    assert sent[1]["text"] == "user-alice"


async def test_lifespan_passes_through_and_startup_survives_a_down_provider(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The app's lifespan runs; an unreachable provider at startup is logged, not fatal."""
    events: list[str] = []

    @asynccontextmanager
    async def app_lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    config = LogtoConfig(endpoint="http://127.0.0.1:9", app_id="app", cookie_secret="c" * 32)
    caplog.set_level(logging.ERROR, logger="logto_asgi")
    sent = await lifespan(LogtoMiddleware(Starlette(lifespan=app_lifespan), config=config))
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert events == ["startup", "shutdown"]
    assert "could not be reached" in caplog.text
