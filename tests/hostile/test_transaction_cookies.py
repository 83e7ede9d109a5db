"""The sign-in transaction cookie at the ASGI surface: its lifetime and SameSite, how surplus
attempts are dropped, and what a callback without a usable transaction gets.

Everything goes through the app's /sign-in and /callback against the hostile provider;
``counts`` says whether the provider's token endpoint was reached.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from hostile.harness import HostileHarness, assert_signed_in, browser, make_hostile_harness
from hostile.hostile_provider import HostileProvider
from logto_asgi import CookieStore, MemoryStore
from logto_asgi.transaction import TRANSACTION_TTL
from support.app import APP_ORIGIN, browser_cookies

pytestmark = pytest.mark.anyio

TX_PREFIX = "logto_tx."


@asynccontextmanager
async def harness(provider: HostileProvider, **overrides: Any) -> AsyncIterator[HostileHarness]:
    """A fresh app with config ``overrides`` against the well-behaved hostile provider."""
    provider.reset()
    made = make_hostile_harness(provider, **overrides)
    try:
        yield made
    finally:
        await made.aclose()
        provider.reset()


def set_cookies(response: httpx.Response) -> dict[str, dict[str, str]]:
    """Each Set-Cookie of ``response`` by name: its value and lower-cased attributes."""
    cookies: dict[str, dict[str, str]] = {}
    for line in response.headers.get_list("set-cookie"):
        first, *attributes = (part.strip() for part in line.split(";"))
        name, _, value = first.partition("=")
        attrs = {"value": value}
        for attribute in attributes:
            key, _, attr_value = attribute.partition("=")
            attrs[key.lower()] = attr_value
        cookies[name] = attrs
    return cookies


def is_deletion(attrs: dict[str, str]) -> bool:
    return attrs["value"] in ("", '""') and attrs.get("max-age") == "0"


def deleted(response: httpx.Response) -> list[str]:
    """Names of the cookies ``response`` deletes (empty value, Max-Age=0)."""
    return [name for name, attrs in set_cookies(response).items() if is_deletion(attrs)]


def tx_cookie(response: httpx.Response) -> tuple[str, dict[str, str]]:
    """The one transaction cookie a sign-in response sets."""
    created = [
        (n, a) for n, a in set_cookies(response).items() if n.startswith(TX_PREFIX) and not is_deletion(a)
    ]
    assert len(created) == 1, response.headers.get_list("set-cookie")
    return created[0]


def state_of(start: httpx.Response) -> str:
    return parse_qs(urlsplit(start.headers["location"]).query)["state"][0]


# Lifetime and SameSite -----------------------------------------------------------------


async def test_transaction_cookie_lives_as_long_as_the_transaction(h: HostileHarness) -> None:
    """The transaction cookie's Max-Age is TRANSACTION_TTL (600 s), HttpOnly, on the whole site."""
    start = await h.start()
    name, attrs = tx_cookie(start)
    assert name == f"{TX_PREFIX}{state_of(start)}"
    assert attrs["max-age"] == str(TRANSACTION_TTL) == "600"
    assert "httponly" in attrs and attrs["path"] == "/"
    assert attrs["samesite"] == "Lax"


async def cross_site_get(h: HostileHarness, url: str, *, withheld: set[str]) -> httpx.Response:
    """A top-level navigation arriving from another site: the browser sends the app's cookies
    except the SameSite=Strict ones (``withheld``), and keeps what the answer sets."""
    sent = {n: v for n, v in browser_cookies(h.client).items() if n not in withheld}
    async with browser(h.middleware) as elsewhere:
        header = "; ".join(f"{n}={v}" for n, v in sent.items())
        response = await elsewhere.get(url, headers={"cookie": header} if header else {})
    h.client.cookies.extract_cookies(response)
    return response


async def test_strict_samesite_still_signs_in_with_a_lax_transaction_cookie(
    hostile_provider: HostileProvider,
) -> None:
    """cookie_samesite="strict": the transaction cookie is still Lax, so the provider's redirect
    back (cross-site) carries it and the sign-in completes; the session cookie is Strict."""
    async with harness(hostile_provider, cookie_samesite="strict") as h:
        start = await h.start(return_to="/orders")
        name, attrs = tx_cookie(start)
        assert attrs["samesite"] == "Lax"
        strict = {n for n, a in set_cookies(start).items() if a.get("samesite", "").lower() == "strict"}
        assert name not in strict
        back = await h.client.get(start.headers["location"])
        callback = await cross_site_get(h, back.headers["location"], withheld=strict)
        assert_signed_in(callback)
        assert callback.headers["location"] == "/orders"
        sessions = {n: a for n, a in set_cookies(callback).items() if n == "logto" or n.startswith("logto.")}
        assert sessions and all(a["samesite"] == "Strict" for a in sessions.values() if not is_deletion(a))
        assert (await h.get("/orders")).text == "orders of user-hostile"


# Surplus pending sign-ins --------------------------------------------------------------

MAX_PENDING = 3
#: Orders in which the browser may list the pending cookies (index 0 = oldest).
ORDERS: dict[str, Callable[[list[str]], list[str]]] = {
    "oldest-first": lambda names: names,
    "newest-first": lambda names: names[::-1],
    "oldest-in-the-middle": lambda names: [names[1], names[0], names[2]],
}


async def pending_sign_ins(h: HostileHarness, count: int) -> list[tuple[str, str]]:
    """Start ``count`` sign-ins ten seconds apart: their (name, value) cookies, oldest first."""
    started = []
    for _ in range(count):
        start = await h.start()
        assert deleted(start) == []
        name, attrs = tx_cookie(start)
        started.append((name, attrs["value"]))
        h.advance(10)
    return started


@pytest.mark.parametrize("order", list(ORDERS))
async def test_surplus_sign_in_drops_the_oldest_pending_one(
    hostile_provider: HostileProvider, order: str
) -> None:
    """With max_pending_sign_ins already pending, a new sign-in deletes the oldest one's cookie
    (whatever order the browser sends them in) and keeps the newer ones."""
    async with harness(hostile_provider, max_pending_sign_ins=MAX_PENDING) as h:
        started = await pending_sign_ins(h, MAX_PENDING)
        values = dict(started)
        names = ORDERS[order]([name for name, _ in started])
        async with browser(h.middleware) as tab:
            header = "; ".join(f"{name}={values[name]}" for name in names)
            start = await tab.get(f"{APP_ORIGIN}/sign-in", headers={"cookie": header})
        assert start.status_code == 302
        assert deleted(start) == [started[0][0]]
        assert tx_cookie(start)[0] not in values


async def test_surplus_sign_ins_keep_the_newest_in_the_browser(hostile_provider: HostileProvider) -> None:
    """Starting max_pending_sign_ins + 2 sign-ins leaves the newest max_pending_sign_ins cookies."""
    async with harness(hostile_provider, max_pending_sign_ins=MAX_PENDING) as h:
        names = []
        for _ in range(MAX_PENDING + 2):
            names.append(tx_cookie(await h.start())[0])
            h.advance(10)
        kept = {n for n in browser_cookies(h.client) if n.startswith(TX_PREFIX)}
        assert kept == set(names[-MAX_PENDING:])


async def test_unreadable_pending_cookie_is_dropped_before_the_oldest(
    hostile_provider: HostileProvider,
) -> None:
    """A pending transaction cookie that does not decrypt goes first; genuine ones stay."""
    async with harness(hostile_provider, max_pending_sign_ins=MAX_PENDING) as h:
        started = await pending_sign_ins(h, MAX_PENDING - 1)
        forged = f"{TX_PREFIX}{'F' * 43}"
        cookies = [*started, (forged, "garbage.value")]
        async with browser(h.middleware) as tab:
            header = "; ".join(f"{name}={value}" for name, value in cookies)
            start = await tab.get(f"{APP_ORIGIN}/sign-in", headers={"cookie": header})
        assert deleted(start) == [forged]


# Callbacks without a usable transaction -------------------------------------------------


def token_requests(h: HostileHarness) -> list[httpx.Request]:
    return [r for r in h.transport.requests if r.url.path.endswith("/token")]


@pytest.mark.parametrize(("length", "forwarded"), [(2049, False), (10_000, False), (2048, True), (1, True)])
async def test_authorization_code_length_is_bounded(h: HostileHarness, length: int, forwarded: bool) -> None:
    """A code longer than 2048 characters is a 400 and never reaches the provider; up to 2048 it is
    sent to the token endpoint unchanged."""
    start = await h.start()
    code = "c" * length
    response = await h.get("/callback", code=code, state=state_of(start))
    assert response.status_code >= 400 and "location" not in response.headers
    requests = token_requests(h)
    if forwarded:
        assert h.provider.counts["token"] == 1 and len(requests) == 1
        assert parse_qs(requests[0].content.decode())["code"] == [code]
    else:
        assert response.status_code == 400 and "invalid_transaction" in response.text
        assert h.provider.counts["token"] == 0 and requests == []


@pytest.mark.parametrize(
    ("store", "name", "value"),
    [
        pytest.param(CookieStore(), "logto", "garbage", id="cookie-store"),
        pytest.param(CookieStore(), "logto.0", "garbage", id="cookie-store-chunk"),
        pytest.param(CookieStore(), "logto", "a.b.c.d.e", id="cookie-store-jwe-shaped"),
        pytest.param(MemoryStore(), "logto", "forged-id.forged-mac", id="memory-store"),
    ],
)
async def test_garbage_session_with_a_stale_callback_is_400(
    hostile_provider: HostileProvider, store: Any, name: str, value: str
) -> None:
    """A session cookie that does not load, on a callback with no transaction: 400, not a redirect."""
    async with harness(hostile_provider, store=store) as h:
        h.client.cookies.set(name, value, domain="app.test")
        response = await h.get("/callback", code="x", state="s" * 43)
        assert response.status_code == 400 and "location" not in response.headers
        assert "invalid_transaction" in response.text
        assert h.provider.counts["token"] == 0


async def test_real_session_with_a_stale_callback_goes_on(h: HostileHarness) -> None:
    """Control: a signed-in browser on a stale callback is sent on into the app (303)."""
    assert_signed_in(await h.sign_in())
    response = await h.get("/callback", code="x", state="s" * 43)
    assert response.status_code == 303 and response.headers["location"] == "/"


async def test_without_iss_support_a_present_iss_must_still_match(hostile_provider: HostileProvider) -> None:
    """A provider that does not advertise RFC 9207 sends no ``iss``: accepted. One that is
    present must still be the issuer, else a 400 before any code exchange."""
    async with harness(hostile_provider) as h:
        assert_signed_in(await h.sign_in())
        start = await h.start()
        authorize = await h.client.get(start.headers["location"])
        query = dict(parse_qs(urlsplit(authorize.headers["location"]).query))
        hostile_provider.counts.clear()
        forged = {k: v[0] for k, v in query.items()} | {"iss": "http://evil.example/oidc"}
        response = await h.get("/callback", **forged)
        assert response.status_code == 400 and "invalid_transaction" in response.text
        assert hostile_provider.counts["token"] == 0


async def test_advertised_iss_support_makes_iss_required(hostile_provider: HostileProvider) -> None:
    """Once the discovery document says ``authorization_response_iss_parameter_supported``,
    a callback without ``iss`` is refused before the code exchange."""
    async with harness(hostile_provider) as h:
        hostile_provider.discovery = {"authorization_response_iss_parameter_supported": True}
        start = await h.start()
        authorize = await h.client.get(start.headers["location"])
        query = {k: v[0] for k, v in parse_qs(urlsplit(authorize.headers["location"]).query).items()}
        response = await h.get("/callback", **query)
        assert response.status_code == 400 and "is missing" in response.text
        assert hostile_provider.counts["token"] == 0
