"""Litestar: the middleware wraps a Litestar app and a user signs in end to end."""

from __future__ import annotations

from typing import cast

import pytest
from litestar import Litestar, Request, get
from starlette.types import ASGIApp

from logto_asgi import get_context
from support.app import APP_ORIGIN, make_harness
from support.provider import OidcTestProvider

pytestmark = pytest.mark.anyio


@get("/")
async def home(request: Request) -> str:  # type: ignore[type-arg]
    logto = get_context(request.scope)
    return f"hello {logto.user.sub}" if logto.user else "not signed in"


@get("/orders")
async def orders(request: Request) -> str:  # type: ignore[type-arg]
    token = await get_context(request.scope).get_access_token("https://shopping.example.com/api")
    return f"token of {len(token.split('.'))} parts"


async def test_litestar_sign_in_and_tokens(provider: OidcTestProvider) -> None:
    """A Litestar app sees the user after sign-in and gets a resource token."""
    app = cast("ASGIApp", Litestar(route_handlers=[home, orders]))
    harness = await make_harness(provider, app=app)
    try:
        assert (await harness.client.get(f"{APP_ORIGIN}/")).text == "not signed in"
        callback = await harness.sign_in("alice", return_to="/orders")
        assert callback.headers["location"] == "/orders"
        assert (await harness.client.get(f"{APP_ORIGIN}/")).text == "hello user-alice"
        assert (await harness.client.get(f"{APP_ORIGIN}/orders")).text == "token of 3 parts"
        await harness.sign_out()
        assert (await harness.client.get(f"{APP_ORIGIN}/")).text == "not signed in"
    finally:
        await harness.aclose()
