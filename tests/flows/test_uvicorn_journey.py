"""The whole journey through a real uvicorn server, with a cookie-keeping httpx client."""

from __future__ import annotations

import secrets
import uuid

import httpx
import pytest

from logto_asgi import LogtoConfig, LogtoMiddleware
from support.app import build_app
from support.provider import OidcTestProvider, provider_login, provider_logout
from support.server import listen, serve

pytestmark = pytest.mark.anyio


async def test_sign_in_read_user_sign_out_through_uvicorn(provider: OidcTestProvider) -> None:
    """Over real HTTP: sign in with return_to, read the user, sign out, the provider session is gone."""
    with listen() as listener:
        client_id = f"uv-{uuid.uuid4().hex[:10]}"
        secret = secrets.token_urlsafe(24)
        await provider.register_client(
            client_id=client_id,
            client_secret=secret,
            redirect_uris=[f"{listener.url}/callback"],
            post_logout_redirect_uris=[f"{listener.url}/"],
        )
        config = LogtoConfig(
            endpoint=provider.url,
            app_id=client_id,
            app_secret=secret,
            cookie_secret=secrets.token_urlsafe(32),
            base_url=listener.url,
            scopes=["email"],
        )
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
