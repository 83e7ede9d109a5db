"""Channels websockets see the user: Chromium opens a real websocket to the test project
(uvicorn, wsproto) carrying the session cookie; the consumer reports ``scope["user"]``."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Page, expect

from support.provider import OidcTestProvider

from .launcher import PASSWORDS, DjangoSite

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

WHOAMI = """url => new Promise((resolve, reject) => {
  const socket = new WebSocket(url);
  socket.onmessage = event => { resolve(JSON.parse(event.data)); socket.close(); };
  socket.onerror = () => reject(new Error("websocket failed"));
  setTimeout(() => reject(new Error("no message within 5 s")), 5000);
})"""


async def whoami(page: Page, site: DjangoSite) -> dict[str, Any]:
    ws_url = site.url.replace("http://", "ws://") + "/ws/whoami/"
    found: dict[str, Any] = await page.evaluate(WHOAMI, ws_url)
    return found


async def sign_in(page: Page, site: DjangoSite, provider: OidcTestProvider, username: str) -> None:
    await page.goto(f"{site.url}/sign-in?return_to=/")
    await expect(page).to_have_url(re.compile(rf"^{re.escape(provider.url)}/interaction/"))
    await page.fill('input[name="username"]', username)
    await page.fill('input[name="password"]', PASSWORDS[username])
    await page.click("#sign-in")
    await expect(page).to_have_url(f"{site.url}/")


async def test_websocket_sees_the_database_user(
    page: Page, database_site: DjangoSite, e2e_provider: OidcTestProvider
) -> None:
    """Database mode: ``scope["user"]`` is alice's ``User`` row; signed out, ``AnonymousUser``."""
    await page.goto(f"{database_site.url}/")
    assert await whoami(page, database_site) == {
        "is_authenticated": False,
        "username": "",
        "kind": "AnonymousUser",
        "is_staff": False,
    }
    await sign_in(page, database_site, e2e_provider, "alice")
    assert await whoami(page, database_site) == {
        "is_authenticated": True,
        "username": "alice",
        "kind": "User",
        "is_staff": True,
    }


async def test_websocket_sees_the_lightweight_user(
    page: Page, lightweight_site: DjangoSite, e2e_provider: OidcTestProvider
) -> None:
    """Lightweight mode: the consumer's ``scope["user"]`` is the claims' ``LogtoDjangoUser``."""
    await sign_in(page, lightweight_site, e2e_provider, "bob")
    assert await whoami(page, lightweight_site) == {
        "is_authenticated": True,
        "username": "user-bob",
        "kind": "LogtoDjangoUser",
        "is_staff": False,
    }
