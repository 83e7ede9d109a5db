"""The Hooks page's examples (docs/hooks.md), as written, against the real provider: the
user's row, the welcome page, app data in the session, the sign-out log, the refusal."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from docs.markdown import ROOT, page_blocks
from logto_asgi import LogtoMiddleware, get_user
from quickstarts.quickstart import load_app, load_module, serve
from support.app import register_app
from support.provider import OidcTestProvider

pytestmark = pytest.mark.anyio

PAGE = ROOT / "docs" / "hooks.md"


async def test_the_users_row_the_welcome_page_and_the_sign_out_log(
    provider: OidcTestProvider,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.chdir(tmp_path)  # the example's shop.db
    app: ASGIApp = load_app(page_blocks(PAGE)[0], await register_app(provider), monkeypatch)
    async with serve(app) as site:
        first = await site.sign_in("/")
        assert first.headers["location"] == "/welcome"  # a new row
        assert (await site.get("/welcome")).text == "Welcome, Alice Liddell!"
        assert (await site.get("/")).text == "Hello Alice Liddell (user #1)"
        with caplog.at_level(logging.INFO, logger="shop"):
            await site.sign_out()
        assert "user 1 signed out (sign_out)" in caplog.messages

        again = await site.sign_in("/")
        assert again.headers["location"] == "/"  # the row exists: where the user was going
        assert (await site.get("/")).text == "Hello Alice Liddell (user #1)"
        await site.sign_out()

        assert (await site.sign_in("/", username="bob")).headers["location"] == "/welcome"
        assert (await site.get("/")).text == "Hello Bob Builder (user #2)"
    assert (tmp_path / "shop.db").exists()


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"hello {get_user(request).sub}")


async def test_staff_only_refuses_who_is_not_in_the_organization(
    provider: OidcTestProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """alice is in the organization and signs in; bob is not: 403 with the reason."""
    namespace = load_module(page_blocks(PAGE)[1], await register_app(provider), monkeypatch)
    app = LogtoMiddleware(Starlette(routes=[Route("/", hello)]), config=namespace["config"])
    async with serve(app) as site:
        await site.sign_in()
        assert (await site.get("/")).text == "hello user-alice"
        await site.sign_out()

        refused = await site.sign_in(username="bob")
        assert refused.status_code == 403
        assert "This app is for staff: sign in with your work account." in refused.text
        assert "logto" not in site.cookies()
