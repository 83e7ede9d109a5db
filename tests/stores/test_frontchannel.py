"""OpenID Connect Front-Channel Logout 1.0 against the real provider's sessions.

The provider's logout page would load ``/frontchannel-logout?iss=…&sid=…`` in an iframe;
here the browser (httpx) makes that request itself, with or without its cookie (a
third-party frame may not send it). The ``sid`` is the real one from the ID token (the
client is registered for session-bound logout, so the provider puts ``sid`` in it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from logto_asgi import CookieStore, MemoryStore, SessionStore
from logto_asgi._crypto import fingerprint
from logto_asgi.frontchannel import MAX_PARAM_LENGTH
from logto_asgi.hooks import SignOutEvent
from support.app import APP_ORIGIN, Harness, make_harness
from support.provider import OidcTestProvider
from support.redis_server import redis_store

pytestmark = pytest.mark.anyio

PATH = "/frontchannel-logout"


@pytest.fixture(params=["cookie", "memory", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[CookieStore | SessionStore]:
    if request.param == "cookie":
        yield CookieStore()
    elif request.param == "memory":
        yield MemoryStore()
    else:
        async with redis_store(request.getfixturevalue("redis_url"), "fcl") as redis:
            yield redis


@pytest.fixture
async def harness(provider: OidcTestProvider, store: CookieStore | SessionStore) -> AsyncIterator[Harness]:
    h = await make_harness(
        provider,
        store=store,
        frontchannel_logout_path=PATH,
        register={"backchannel_logout_uri": f"{APP_ORIGIN}/unused"},
    )
    try:
        yield h
    finally:
        await h.aclose()


async def signed_in(harness: Harness, client: httpx.AsyncClient | None = None) -> dict[str, Any]:
    response = await harness.sign_in("alice", client=client)
    assert response.status_code == 302, response.text
    user: dict[str, Any] = (await (client or harness.client).get(f"{APP_ORIGIN}/me")).json()["user"]
    assert isinstance(user.get("sid"), str) and user["sid"]
    return user


async def frame(harness: Harness, *, cookies: bool, **params: str) -> httpx.Response:
    """The provider's iframe request: from this browser (its cookies) or a cookieless one."""
    client = harness.client if cookies else harness.browser()
    return await client.get(f"{APP_ORIGIN}{PATH}", params=params, headers={"sec-fetch-site": "cross-site"})


async def is_signed_in(harness: Harness, client: httpx.AsyncClient | None = None) -> bool:
    response = await (client or harness.client).get(f"{APP_ORIGIN}/me")
    return bool(response.status_code == 200 and response.json()["user"])


@pytest.mark.parametrize("with_cookie", [True, False])
async def test_the_providers_frame_ends_the_session(
    harness: Harness, provider: OidcTestProvider, with_cookie: bool
) -> None:
    """With or without the cookie in the frame, the session of that sid is over."""
    user = await signed_in(harness)
    response = await frame(harness, cookies=with_cookie, iss=provider.issuer, sid=user["sid"])
    assert response.status_code == 200
    assert b"<title>Signed out</title>" in response.content
    assert "x-frame-options" not in response.headers
    assert response.headers["content-security-policy"] == "default-src 'none'"
    assert "no-store" in response.headers["cache-control"]
    assert not await is_signed_in(harness)


async def test_the_cookie_in_the_frame_is_cleared(harness: Harness, provider: OidcTestProvider) -> None:
    user = await signed_in(harness)
    response = await frame(harness, cookies=True, iss=provider.issuer, sid=user["sid"])
    assert any(h.startswith("logto=;") or 'logto=""' in h for h in response.headers.get_list("set-cookie"))


async def test_another_sid_ends_nothing(harness: Harness, provider: OidcTestProvider) -> None:
    """A frame naming some other provider session (or a guessed one) leaves this one alone."""
    await signed_in(harness)
    for cookies in (True, False):
        response = await frame(harness, cookies=cookies, iss=provider.issuer, sid="not-our-sid")
        assert response.status_code == 200
    assert await is_signed_in(harness)
    # A made-up sid writes nothing into the shared store (no storage flood by GET).
    assert await harness.middleware.core.shared.get(f"ended-sid:{fingerprint('not-our-sid')}") is None


async def test_only_the_matching_browser_is_signed_out(harness: Harness, provider: OidcTestProvider) -> None:
    """Two browsers, two provider sessions: the frame for one leaves the other signed in."""
    other = harness.browser()
    first = await signed_in(harness)
    second = await signed_in(harness, client=other)
    assert first["sid"] != second["sid"]
    await frame(harness, cookies=False, iss=provider.issuer, sid=first["sid"])
    assert not await is_signed_in(harness)
    assert await is_signed_in(harness, other)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"sid": "x"},
        {"iss": "whatever"},
        {"iss": "", "sid": "x"},
        {"sid": "x" * 513, "iss": "i"},
    ],
)
async def test_a_request_without_iss_and_sid_is_refused(
    harness: Harness, provider: OidcTestProvider, params: dict[str, str]
) -> None:
    """No logout CSRF: a framed URL without the provider's iss and sid signs nobody out."""
    await signed_in(harness)
    response = await frame(harness, cookies=True, **params)
    assert response.status_code == 400
    assert "iss and sid" in response.text
    assert await is_signed_in(harness)


async def test_the_parameter_length_limit_is_exact(harness: Harness, provider: OidcTestProvider) -> None:
    await signed_in(harness)
    longest = "s" * MAX_PARAM_LENGTH
    assert (await frame(harness, cookies=True, iss=provider.issuer, sid=longest)).status_code == 200
    assert (await frame(harness, cookies=True, iss=provider.issuer, sid=longest + "s")).status_code == 400
    assert await is_signed_in(harness)


@pytest.mark.parametrize("suffix", ["/", "x", "/evil"])
async def test_another_issuer_is_refused(harness: Harness, provider: OidcTestProvider, suffix: str) -> None:
    user = await signed_in(harness)
    response = await frame(harness, cookies=True, iss=provider.issuer + suffix, sid=user["sid"])
    assert response.status_code == 400
    assert await is_signed_in(harness)


async def test_other_methods_are_refused(harness: Harness, provider: OidcTestProvider) -> None:
    user = await signed_in(harness)
    response = await harness.client.post(
        f"{APP_ORIGIN}{PATH}", params={"iss": provider.issuer, "sid": user["sid"]}
    )
    assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD"
    assert await is_signed_in(harness)


async def test_a_provider_outage_is_a_clean_503(harness: Harness, provider: OidcTestProvider) -> None:
    """The issuer cannot be checked without discovery: 503, the session stays."""
    user = await signed_in(harness)
    core = harness.middleware.core
    core.provider._metadata = None  # as if discovery had never been fetched
    core.provider._settings = type(core.provider._settings)(
        metadata_url="http://127.0.0.1:9/.well-known/openid-configuration",
        expected_issuers=core.provider.expected_issuers,
    )
    response = await frame(harness, cookies=True, iss=provider.issuer, sid=user["sid"])
    assert response.status_code == 503
    assert "Traceback" not in response.text
    assert await is_signed_in(harness)


async def test_on_sign_out_hears_of_front_channel_logouts(
    provider: OidcTestProvider, store: CookieStore | SessionStore
) -> None:
    """With a server-side store the ended session is read first so the hook sees whose it
    was; with cookies, when the frame brings the cookie."""
    heard: list[SignOutEvent] = []
    h = await make_harness(
        provider,
        store=store,
        frontchannel_logout_path=PATH,
        register={"backchannel_logout_uri": f"{APP_ORIGIN}/unused"},
        on_sign_out=heard.append,
    )
    try:
        user = await signed_in(h)
        await frame(h, cookies=isinstance(store, CookieStore), iss=provider.issuer, sid=user["sid"])
        assert [(e.reason, e.claims.sub) for e in heard] == [("frontchannel", user["sub"])]
    finally:
        await h.aclose()
