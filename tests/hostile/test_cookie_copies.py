"""What a copy of a session cookie taken before sign-out can do (security review,
finding 11): with cookie sessions it stays signed in (documented), unless
``check_ended_sessions`` is on; with a server-side store sign-out ends it anyway."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from logto_asgi import MemoryStore
from support.app import APP_ORIGIN, browser_cookies, make_harness
from support.provider import OidcTestProvider

pytestmark = pytest.mark.anyio


async def copy_then_sign_out(provider: OidcTestProvider, **overrides: Any) -> httpx.Response:
    """Sign in, copy the session cookies, sign out in the browser, use the copy."""
    h = await make_harness(provider, **overrides)
    try:
        await h.sign_in("alice")
        copy = {k: v for k, v in browser_cookies(h.client).items() if not k.startswith("logto_tx.")}
        signed_out = await h.client.get(f"{APP_ORIGIN}/sign-out")
        assert signed_out.status_code == 302
        header = "; ".join(f"{k}={v}" for k, v in copy.items())
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=h.middleware), base_url=APP_ORIGIN
        ) as thief:
            return await thief.get("/me", headers={"cookie": header})
    finally:
        await h.aclose()


async def test_a_cookie_copy_outlives_sign_out_by_default(provider: OidcTestProvider) -> None:
    """The documented limit of cookie sessions: the copy still reads as signed in."""
    response = await copy_then_sign_out(provider)
    assert response.status_code == 200 and response.json()["user"]["sub"] == "user-alice"


async def test_check_ended_sessions_refuses_the_copy(provider: OidcTestProvider) -> None:
    """``check_ended_sessions=True``: the copy is signed out and its cookies cleared."""
    response = await copy_then_sign_out(provider, check_ended_sessions=True)
    assert response.status_code == 401
    assert response.headers.get_list("set-cookie")


async def test_a_server_side_session_copy_dies_with_sign_out(provider: OidcTestProvider) -> None:
    """With a store, sign-out deletes the entry: the copy is worthless, no option needed."""
    response = await copy_then_sign_out(provider, store=MemoryStore())
    assert response.status_code == 401
