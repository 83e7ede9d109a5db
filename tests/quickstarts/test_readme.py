"""The README's quick starts, copied as they are, sign a user in and out end to end."""

from __future__ import annotations

import pytest
from starlette.types import ASGIApp

from docs.markdown import block_after
from quickstarts.quickstart import APP_ORIGIN, load_app, serve
from support.app import register_app
from support.provider import OidcTestProvider

pytestmark = pytest.mark.anyio


async def readme_app(label: str, provider: OidcTestProvider, monkeypatch: pytest.MonkeyPatch) -> ASGIApp:
    """The app of the README's quick start under ``label``, for a new client."""
    app: ASGIApp = load_app(block_after("README.md", label), await register_app(provider), monkeypatch)
    return app


async def test_starlette(provider: OidcTestProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    """``/`` sends a signed-out browser to sign in and back; then it says hello."""
    app = await readme_app("**Starlette**", provider, monkeypatch)
    async with serve(app) as site:
        first = await site.get("/")
        assert first.status_code in (302, 303, 307), first.text
        assert first.headers["location"].startswith("/sign-in")
        callback = await site.sign_in("/")
        assert callback.status_code == 302 and callback.headers["location"] == "/"
        assert (await site.get("/")).text == "Hello Alice Liddell"
        landed = await site.sign_out()
        assert landed.url == f"{APP_ORIGIN}/" and landed.status_code in (302, 303, 307)
        assert landed.headers["location"].startswith("/sign-in")  # signed out: / asks again
        assert "logto" not in site.cookies()


async def test_fastapi(provider: OidcTestProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sign-in lands on ``/``; ``/me`` and ``/orders`` (the API resource's token) answer."""
    app = await readme_app("**FastAPI**", provider, monkeypatch)
    async with serve(app) as site:
        assert (await site.get("/")).json() == {"sign_in": "/sign-in?return_to=/me"}
        assert (await site.get("/me")).status_code == 401
        assert (await site.get("/orders")).status_code == 401
        schemes = (await site.get("/openapi.json")).json()["components"]["securitySchemes"]
        assert schemes["logto"]["openIdConnectUrl"] == f"{provider.issuer}/.well-known/openid-configuration"

        callback = await site.sign_in("/sign-in?return_to=/me")
        assert callback.status_code == 302 and callback.headers["location"] == "/me"
        assert (await site.get("/me")).json() == {"sub": "user-alice", "name": "Alice Liddell"}
        assert (await site.get("/")).json() == {
            "hello": "Alice Liddell",
            "orders": "/orders",
            "sign_out": "/sign-out",
        }
        orders = await site.get("/orders")
        assert orders.status_code == 200 and orders.json() == []

        landed = await site.sign_out()
        assert landed.url == f"{APP_ORIGIN}/" and landed.json() == {"sign_in": "/sign-in?return_to=/me"}
        assert (await site.get("/me")).status_code == 401


async def test_fastapi_sign_in_without_return_to_lands_on_a_page(
    provider: OidcTestProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain ``/sign-in`` lands on ``/`` (``post_sign_in_redirect``): the snippet has it."""
    app = await readme_app("**FastAPI**", provider, monkeypatch)
    async with serve(app) as site:
        callback = await site.sign_in()
        assert callback.headers["location"] == "/"
        home = await site.get("/")
        assert home.status_code == 200 and home.json()["hello"] == "Alice Liddell"


async def test_quart(provider: OidcTestProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    """As the Starlette one, in Quart (``current()`` in a handler without a request)."""
    app = await readme_app("**Quart**", provider, monkeypatch)
    async with serve(app) as site:
        first = await site.get("/")
        assert first.status_code in (302, 303, 307) and first.headers["location"].startswith("/sign-in")
        callback = await site.sign_in("/")
        assert callback.headers["location"] == "/"
        assert (await site.get("/")).text == "Hello Alice Liddell"
        landed = await site.sign_out()
        assert landed.url == f"{APP_ORIGIN}/" and landed.headers["location"].startswith("/sign-in")
        assert "logto" not in site.cookies()
