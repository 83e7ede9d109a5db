"""A failing provider at sign-in, callback, refresh and userinfo.

Each fault gives a plain 502/503/504 page (or a ``ProviderError`` in a handler that calls a
context method), leaves nothing bad cached, and the app recovers fully once the provider
behaves again (for discovery and the JWKS, once their backoff has elapsed: see
``test_outages``). Refused connections come from ``FaultyTransport``; everything else is a
real HTTP answer from the hostile provider (a timeout is a provider slower than the
middleware's ``http_timeout``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hostile.harness import (
    API,
    HostileHarness,
    assert_plain_page,
    assert_signed_in,
    heal,
    inject,
    make_hostile_harness,
    session_cookies_set,
)
from hostile.hostile_provider import HostileProvider
from logto_asgi import ProviderError, get_context
from logto_asgi._backoff import INITIAL_DELAY
from support.app import cookie_names

pytestmark = pytest.mark.anyio

NETWORK_FAULTS = ["refused", "timeout", "500", "html", "truncated"]
TOKEN_FAULTS = [*NETWORK_FAULTS, "no_access_token", "no_id_token"]
EXPECTED = {
    "refused": (503, "provider_unavailable"),
    "timeout": (504, "provider_timeout"),
    "500": (502, "provider_error"),
    "html": (502, "provider_error"),
    "truncated": (502, "provider_error"),
    "no_access_token": (502, "provider_error"),
    "no_id_token": (502, "provider_error"),
}
#: Discovery and the JWKS: an answer that is no document at all is an outage (503).
DOCUMENT_EXPECTED = {
    "refused": (503, "provider_unavailable"),
    "timeout": (504, "provider_timeout"),
    "500": (503, "provider_unavailable"),
    "html": (503, "provider_unavailable"),
    "truncated": (503, "provider_unavailable"),
}


@pytest.mark.parametrize("fault", NETWORK_FAULTS)
async def test_discovery_fault_at_sign_in(h: HostileHarness, fault: str) -> None:
    """Discovery failing at sign-in: plain 5xx page with Retry-After, no redirect; nothing
    bad cached, recovery once the backoff elapsed."""
    inject(h, "discovery", fault)
    response = await h.start()
    assert_plain_page(response, *DOCUMENT_EXPECTED[fault])
    assert response.headers["retry-after"] == "1"
    assert "location" not in response.headers and "set-cookie" not in response.headers
    heal(h)
    h.advance(INITIAL_DELAY)
    before = h.provider.counts["discovery"]
    assert_signed_in(await h.sign_in())
    assert h.provider.counts["discovery"] == before + 1
    assert (await h.get("/me")).status_code == 200


async def callback_url(h: HostileHarness) -> str:
    start = await h.start()
    back = await h.client.get(start.headers["location"])
    return str(back.headers["location"])


@pytest.mark.parametrize("fault", TOKEN_FAULTS)
async def test_token_endpoint_fault_at_callback(h: HostileHarness, fault: str) -> None:
    """The code exchange failing: plain 5xx page, no session, transaction cleared; then recovery."""
    url = await callback_url(h)
    inject(h, "token", fault)
    response = await h.client.get(url)
    assert_plain_page(response, *EXPECTED[fault])
    assert session_cookies_set(response) == [] and cookie_names(h.client) == set()
    assert h.provider.counts["userinfo"] == 0
    heal(h)
    assert_signed_in(await h.sign_in())
    assert (await h.get("/me")).status_code == 200


@pytest.mark.parametrize("fault", NETWORK_FAULTS)
async def test_jwks_fault_at_callback(h: HostileHarness, fault: str) -> None:
    """The JWKS failing at the callback: plain 5xx page with Retry-After, no session; the
    next sign-in after the backoff succeeds."""
    url = await callback_url(h)
    inject(h, "jwks", fault)
    response = await h.client.get(url)
    assert_plain_page(response, *DOCUMENT_EXPECTED[fault])
    assert response.headers["retry-after"] == "1"
    assert session_cookies_set(response) == []
    heal(h)
    h.advance(INITIAL_DELAY)
    assert_signed_in(await h.sign_in())


@pytest.mark.parametrize("fault", [*NETWORK_FAULTS, "no_access_token"])
async def test_token_endpoint_fault_at_refresh(h: HostileHarness, fault: str) -> None:
    """The refresh grant failing: plain 5xx page, the session kept as is; the next try succeeds."""
    assert_signed_in(await h.sign_in())
    inject(h, "refresh", fault)
    response = await h.get("/token", resource=API, raw="1")
    assert_plain_page(response, *EXPECTED[fault])
    assert "set-cookie" not in response.headers
    assert (await h.get("/me")).status_code == 200
    heal(h)
    response = await h.get("/token", resource=API, raw="1")
    assert response.status_code == 200 and session_cookies_set(response) == ["logto"]


@pytest.mark.parametrize("fault", NETWORK_FAULTS)
async def test_userinfo_fault(h: HostileHarness, fault: str) -> None:
    """The userinfo endpoint failing: plain 5xx page, the session kept; then recovery."""
    assert_signed_in(await h.sign_in())
    inject(h, "userinfo", fault)
    response = await h.get("/userinfo")
    assert_plain_page(response, *EXPECTED[fault])
    assert "set-cookie" not in response.headers
    heal(h)
    assert (await h.get("/userinfo")).json()["sub"] == "user-hostile"


async def catching(request: Request) -> Response:
    """A handler that catches what a context method raises."""
    try:
        token = await get_context(request).get_access_token(API)
    except ProviderError as exc:
        return JSONResponse({"raised": type(exc).__name__, "status": exc.status_code})
    return JSONResponse({"token_suffix": token[-4:]})


@pytest.fixture
async def catching_app(hostile_provider: HostileProvider) -> AsyncIterator[HostileHarness]:
    hostile_provider.reset()
    harness = make_hostile_harness(hostile_provider, app=Starlette(routes=[Route("/catch", catching)]))
    try:
        yield harness
    finally:
        await harness.aclose()
        hostile_provider.reset()


@pytest.mark.parametrize(
    ("fault", "raised"),
    [("refused", "ProviderUnavailable"), ("timeout", "ProviderTimeout"), ("500", "ProviderError")],
)
async def test_handler_sees_a_provider_error(catching_app: HostileHarness, fault: str, raised: str) -> None:
    """A handler calling get_access_token() during a provider fault gets the ProviderError subclass."""
    h = catching_app
    assert_signed_in(await h.sign_in())
    inject(h, "refresh", fault)
    assert (await h.get("/catch")).json() == {"raised": raised, "status": EXPECTED[fault][0]}
    heal(h)
    assert "token_suffix" in (await h.get("/catch")).json()
