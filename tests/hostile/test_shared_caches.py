"""Shared caches (security review, finding 4): a response that carries a session
``Set-Cookie`` is ``Cache-Control: private, no-store`` whatever the app said, and a
signed-in response says ``Vary: Cookie`` (unless configured off)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from hostile.harness import HostileHarness, assert_signed_in, make_hostile_harness
from hostile.hostile_provider import HostileProvider
from logto_asgi.cache_headers import private_no_store, vary_cookie

pytestmark = pytest.mark.anyio


def page(headers: dict[str, str]) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        return PlainTextResponse("hello", headers=headers)

    return endpoint


APP = Starlette(
    routes=[
        Route("/public", page({"cache-control": "public, max-age=3600, s-maxage=600"})),
        Route("/strict", page({"cache-control": "no-cache, must-revalidate"})),
        Route("/varied", page({"vary": "Accept-Encoding"})),
        Route("/plain", page({})),
    ]
)


@asynccontextmanager
async def harness(provider: HostileProvider, **overrides: Any) -> AsyncIterator[HostileHarness]:
    provider.reset()
    made = make_hostile_harness(provider, app=APP, **overrides)
    try:
        yield made
    finally:
        await made.aclose()
        provider.reset()


def cache_control(response: httpx.Response) -> set[str]:
    return {part.strip() for part in response.headers.get("cache-control", "").split(",") if part.strip()}


async def test_rolling_renewal_makes_a_public_page_private(hostile_provider: HostileProvider) -> None:
    """The app said ``public, max-age=3600``; renewing the session cookie on that response
    turns it into ``private, no-store`` (the permissive directives dropped)."""
    async with harness(hostile_provider) as h:
        assert_signed_in(await h.sign_in())
        quiet = await h.get("/public")
        assert "set-cookie" not in quiet.headers and "public" in cache_control(quiet)
        h.advance(h.middleware.core.renew_after + 1)
        renewed = await h.get("/public")
        assert renewed.headers.get_list("set-cookie")
        assert cache_control(renewed) == {"private", "no-store"}


async def test_the_apps_stricter_directives_are_kept(hostile_provider: HostileProvider) -> None:
    """``no-cache, must-revalidate`` survive next to ours."""
    async with harness(hostile_provider) as h:
        assert_signed_in(await h.sign_in())
        h.advance(h.middleware.core.renew_after + 1)
        renewed = await h.get("/strict")
        assert renewed.headers.get_list("set-cookie")
        assert cache_control(renewed) == {"private", "no-store", "no-cache", "must-revalidate"}


async def test_a_cleared_cookie_is_private_no_store(hostile_provider: HostileProvider) -> None:
    """A deletion of an unreadable session cookie on an app page is private, no-store too."""
    async with harness(hostile_provider) as h:
        h.client.cookies.set("logto", "garbage", domain="app.test")
        response = await h.get("/public")
        assert response.headers.get_list("set-cookie")
        assert cache_control(response) == {"private", "no-store"}


async def test_signed_in_responses_vary_on_cookie(hostile_provider: HostileProvider) -> None:
    """Signed in: ``Vary: Cookie`` (merged with the app's); anonymous: the app's headers
    untouched."""
    async with harness(hostile_provider) as h:
        anonymous = await h.get("/varied")
        assert anonymous.headers["vary"] == "Accept-Encoding"
        assert_signed_in(await h.sign_in())
        assert (await h.get("/varied")).headers["vary"] == "Accept-Encoding, Cookie"
        assert (await h.get("/plain")).headers["vary"] == "Cookie"


async def test_vary_cookie_can_be_turned_off(hostile_provider: HostileProvider) -> None:
    """``vary_cookie=False``: no Vary is added."""
    async with harness(hostile_provider, vary_cookie=False) as h:
        assert_signed_in(await h.sign_in())
        assert "vary" not in (await h.get("/plain")).headers


@pytest.mark.parametrize(
    ("vary", "expected"),
    [(b"*", "*"), (b"cookie", "cookie"), (b"Accept, Origin", "Accept, Origin, Cookie")],
)
def test_vary_merging(vary: bytes, expected: str) -> None:
    """``*`` and an existing Cookie are kept as they are; other fields get Cookie appended."""
    message: dict[str, Any] = {"headers": [(b"vary", vary)]}
    vary_cookie(message)
    assert [v.decode() for k, v in message["headers"] if k == b"vary"] == [expected]


@pytest.mark.parametrize("name", [b"Vary", b"VARY"])
def test_an_apps_vary_in_any_case_is_merged_not_repeated(name: bytes) -> None:
    """The app's ``Vary`` is found whatever its case: one merged header, not a second one."""
    message: dict[str, Any] = {"headers": [(b"content-type", b"text/plain"), (name, b"Accept")]}
    vary_cookie(message)
    assert message["headers"] == [(b"content-type", b"text/plain"), (b"vary", b"Accept, Cookie")]


def test_several_cache_control_headers_merge_into_one() -> None:
    """Two Cache-Control headers (and odd casing) become one private, no-store header."""
    message: dict[str, Any] = {
        "headers": [(b"Cache-Control", b"PUBLIC"), (b"cache-control", b"max-age=60, no-transform")]
    }
    private_no_store(message)
    assert message["headers"] == [(b"cache-control", b"private, no-store, no-transform")]
