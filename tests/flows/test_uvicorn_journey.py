"""The whole journey through a real uvicorn server, with a cookie-keeping httpx client."""

from __future__ import annotations

import httpx
import pytest

from logto_asgi import LogtoMiddleware
from support.app import build_app, register_app
from support.provider import OidcTestProvider, provider_login, provider_logout
from support.server import listen, serve

pytestmark = pytest.mark.anyio


async def test_sign_in_read_user_sign_out_through_uvicorn(provider: OidcTestProvider) -> None:
    """Over real HTTP: sign in with return_to, read the user, sign out, the provider session is gone."""
    with listen() as listener:
        registration = await register_app(provider, listener.url, prefix="uv")
        client_id = registration.client_id
        config = registration.config(listener.url, scopes=["email"])
        with serve(LogtoMiddleware(build_app(), config=config), listener) as url:
            async with httpx.AsyncClient(timeout=15) as browser:
                start = await browser.get(f"{url}/sign-in", params={"return_to": "/orders"})
                callback = await provider_login(
                    browser, start.headers["location"], username="alice", password="alice-password"
                )
                assert callback.status_code == 302 and callback.headers["location"] == "/orders"
                assert (await browser.get(f"{url}/orders")).text == "orders of user-alice"
                me = (await browser.get(f"{url}/me")).json()
                assert me["user"]["email"] == "alice@example.com"
                assert any(client_id in s["clients"] for s in await provider.sessions())

                back = await provider_logout(browser, f"{url}/sign-out")
                assert str(back.url) == f"{url}/"
                assert "Not authenticated" in back.text
                assert (await browser.get(f"{url}/me")).status_code == 401
                assert not any(client_id in s["clients"] for s in await provider.sessions())
