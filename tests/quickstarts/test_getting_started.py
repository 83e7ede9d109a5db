"""Each getting-started page's main example (its first ```python block), and the home
page's, as written, sign a user in and out end to end and show what the page says."""

from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp

from docs.markdown import ROOT, Block, page_blocks
from quickstarts.quickstart import APP_ORIGIN, load_app, serve
from support.app import register_app
from support.provider import OidcTestProvider

pytestmark = pytest.mark.anyio


def main_example(page: str) -> Block:
    return page_blocks(ROOT / "docs" / "getting-started" / page)[0]


async def test_starlette(provider: OidcTestProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    app: ASGIApp = load_app(main_example("starlette.md"), await register_app(provider), monkeypatch)
    async with serve(app) as site:
        assert (await site.get("/")).text == "Not authenticated · <a href='/sign-in'>Sign in</a>"
        callback = await site.sign_in()
        assert callback.headers["location"] == "/"
        assert (await site.get("/")).text == "Hello Alice Liddell · <a href='/sign-out'>Sign out</a>"
        landed = await site.sign_out()
        assert landed.url == f"{APP_ORIGIN}/"
        assert landed.text == "Not authenticated · <a href='/sign-in'>Sign in</a>"
        assert "logto" not in site.cookies()


async def test_starlette_conventions(provider: OidcTestProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the page says of ``request.user`` and ``request.auth.scopes`` (the email scope
    it configures included), on a route added to the page's app."""
    app = load_app(main_example("starlette.md"), await register_app(provider), monkeypatch)

    async def who(request: Request) -> JSONResponse:
        return JSONResponse(
            {"display_name": request.user.display_name, "email": "email" in request.auth.scopes}
        )

    app.app.add_route("/who", who)
    async with serve(app) as site:
        await site.sign_in()
        assert (await site.get("/who")).json() == {"display_name": "Alice Liddell", "email": True}


async def test_fastapi(provider: OidcTestProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    app: ASGIApp = load_app(main_example("fastapi.md"), await register_app(provider), monkeypatch)
    async with serve(app) as site:
        assert (await site.get("/")).json() == {"signed_in": False}
        assert (await site.get("/me")).status_code == 401
        assert (await site.get("/api/orders")).status_code == 401
        bad_token = await site.get("/api/orders", headers={"authorization": "Bearer not-a-token"})
        assert bad_token.status_code == 401

        callback = await site.sign_in()
        assert callback.headers["location"] == "/"
        assert (await site.get("/")).json() == {"signed_in": True}
        me = (await site.get("/me")).json()
        assert me["sub"] == "user-alice" and me["name"] == "Alice Liddell"
        orders = await site.get("/api/orders")
        assert orders.status_code == 200 and orders.json() == []

        landed = await site.sign_out()
        assert landed.url == f"{APP_ORIGIN}/" and landed.json() == {"signed_in": False}


async def test_quart(provider: OidcTestProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    app: ASGIApp = load_app(main_example("quart.md"), await register_app(provider), monkeypatch)
    async with serve(app) as site:
        assert (await site.get("/")).text == "Not authenticated <a href='/sign-in'>Sign in</a>"
        await site.sign_in()
        assert (await site.get("/")).text == "Authenticated as Alice Liddell <a href='/sign-out'>Sign out</a>"
        landed = await site.sign_out()
        assert landed.text == "Not authenticated <a href='/sign-in'>Sign in</a>"


async def test_litestar(provider: OidcTestProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    app: ASGIApp = load_app(main_example("litestar.md"), await register_app(provider), monkeypatch)
    async with serve(app) as site:
        assert (await site.get("/")).text == "Not authenticated: /sign-in"
        await site.sign_in()
        assert (await site.get("/")).text == "Hello Alice Liddell"
        landed = await site.sign_out()
        assert landed.text == "Not authenticated: /sign-in"


async def test_plain_asgi(provider: OidcTestProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's app has no secret: a public client (PKCE only)."""
    block = main_example("asgi.md")
    assert "app_secret" not in block.code
    app: ASGIApp = load_app(block, await register_app(provider, public=True), monkeypatch)
    async with serve(app) as site:
        assert (await site.get("/")).text == "hello stranger"
        await site.sign_in()
        assert (await site.get("/")).text == "hello user-alice"
        landed = await site.sign_out()
        assert landed.text == "hello stranger"


async def test_home_page(provider: OidcTestProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/index.md's example."""
    app: ASGIApp = load_app(
        page_blocks(ROOT / "docs" / "index.md")[0], await register_app(provider), monkeypatch
    )
    async with serve(app) as site:
        assert (await site.get("/")).text == "Hello stranger: /sign-in"
        await site.sign_in()
        assert (await site.get("/")).text == "Hello Alice Liddell"
        assert (await site.sign_out()).text == "Hello stranger: /sign-in"
