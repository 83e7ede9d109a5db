"""Provider outages are not amplified: failed discovery and JWKS fetches are remembered.

The app's clock is frozen (it moves only with ``advance``), so every count here is exact:
a burst during an outage costs one request per endpoint, the backoff doubles from 1 s to
30 s and resets on success, cached documents are served on while the provider fails, and
every answer in between is at once a 503 with ``Retry-After`` — or, for a bearer token no
cached key verifies, a 401.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import anyio
import httpx
import pytest
from joserfc import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hostile.harness import (
    API,
    NORMAL_TIMEOUT,
    HostileHarness,
    LoopbackFaultyTransport,
    assert_signed_in,
    browser,
    heal,
    inject,
    make_hostile_harness,
    requests_to,
    session_cookies_set,
)
from hostile.hostile_provider import EC_KEY, HostileProvider, Key, alg_for, new_key
from logto_asgi import BearerAuthMiddleware
from logto_asgi._backoff import INITIAL_DELAY, MAX_DELAY
from logto_asgi.provider import JWKS_REFETCH_INTERVAL, JWKS_TTL, METADATA_TTL, STALE_IF_ERROR
from support.app import APP_ORIGIN
from support.faults import FaultyTransport

pytestmark = pytest.mark.anyio

OUTAGES = ["refused", "timeout", "500", "html", "truncated"]
FORGER = new_key("EC", None)


async def gather(count: int, request: Callable[[], Awaitable[httpx.Response]]) -> list[httpx.Response]:
    """``count`` concurrent requests."""
    responses: list[httpx.Response] = []

    async def one() -> None:
        responses.append(await request())

    async with anyio.create_task_group() as group:
        for _ in range(count):
            group.start_soon(one)
    return responses


def answers(responses: list[httpx.Response]) -> dict[tuple[int, str | None], int]:
    """How many responses had each (status, Retry-After)."""
    counted: dict[tuple[int, str | None], int] = {}
    for response in responses:
        key = (response.status_code, response.headers.get("retry-after"))
        counted[key] = counted.get(key, 0) + 1
    return counted


def outage_answers(fault: str, count: int, retry_after: str = "1") -> dict[tuple[int, str | None], int]:
    """Every answer a 503 with Retry-After, except the one request that waited on a
    timed-out fetch: a 504 (with Retry-After too)."""
    if fault == "timeout":
        return {(504, retry_after): 1, (503, retry_after): count - 1}
    return {(503, retry_after): count}


@pytest.fixture
async def frozen(hostile_provider: HostileProvider) -> AsyncIterator[HostileHarness]:
    """A fresh app whose clock moves only when the test says so."""
    hostile_provider.reset()
    harness = make_hostile_harness(hostile_provider, frozen_clock=True)
    try:
        yield harness
    finally:
        await harness.aclose()
        hostile_provider.reset()


# Sign-in and callback --------------------------------------------------------------------


@pytest.mark.parametrize("fault", OUTAGES)
async def test_a_thousand_sign_ins_during_an_outage_make_one_discovery_request(
    frozen: HostileHarness, fault: str
) -> None:
    """Discovery down: 1,000 concurrent sign-ins send it one request and all get 503 (one
    504 for a timeout) with Retry-After 1 at once, never a redirect."""
    h = frozen
    inject(h, "discovery", fault)
    responses = await gather(1000, h.start)
    assert requests_to(h, "discovery") == 1
    assert answers(responses) == outage_answers(fault, 1000)
    assert not any("location" in response.headers for response in responses)


async def test_the_backoff_doubles_to_its_cap_and_resets_on_success(frozen: HostileHarness) -> None:
    """Each failure in a row doubles the wait (1, 2, 4 … 30 s); within it nothing is
    sent and Retry-After counts down; a success forgets the failures."""
    h = frozen
    inject(h, "discovery", "refused")
    delays = [1, 2, 4, 8, 16, 30, 30]
    for sent, delay in enumerate(delays, start=1):
        response = await h.start()
        assert (response.status_code, response.headers["retry-after"]) == (503, str(delay))
        assert requests_to(h, "discovery") == sent
        h.advance(0.25)
        assert (await h.start()).headers["retry-after"] == str(delay)  # rounded up
        h.advance(delay - 0.75)
        waiting = await h.start()
        assert (waiting.status_code, waiting.headers["retry-after"]) == (503, "1")
        assert requests_to(h, "discovery") == sent
        h.advance(0.5)
    assert MAX_DELAY == delays[-1]
    heal(h)
    assert_signed_in(await h.sign_in())
    assert requests_to(h, "discovery") == len(delays) + 1
    h.advance(METADATA_TTL + STALE_IF_ERROR)
    inject(h, "discovery", "refused")
    response = await h.start()
    assert (response.status_code, response.headers["retry-after"]) == (503, str(int(INITIAL_DELAY)))


async def test_recovery_right_after_the_backoff(frozen: HostileHarness) -> None:
    """Once the provider is back, the first request after the wait fetches again and
    signs in; one second earlier it would still get the remembered 503."""
    h = frozen
    inject(h, "discovery", "500")
    assert (await h.start()).status_code == 503
    heal(h)
    h.advance(INITIAL_DELAY - 0.001)
    assert (await h.start()).status_code == 503
    h.advance(0.001)
    assert_signed_in(await h.sign_in())
    assert requests_to(h, "discovery") == 2


async def test_stale_discovery_is_served_while_the_provider_is_down(frozen: HostileHarness) -> None:
    """Past its TTL, a cached discovery document is used on while discovery fails (one
    request per backoff), and only past STALE_IF_ERROR does sign-in answer 503."""
    h = frozen
    assert (await h.start()).status_code == 302
    h.advance(METADATA_TTL + 1)
    inject(h, "discovery", "refused")
    responses = await gather(100, h.start)
    assert [r.status_code for r in responses] == [302] * 100
    assert requests_to(h, "discovery") == 2
    h.advance(STALE_IF_ERROR)
    response = await h.start()
    assert (response.status_code, response.headers["retry-after"]) == (503, "2")
    assert requests_to(h, "discovery") == 3


async def test_an_unusable_discovery_document_is_remembered_as_a_502(frozen: HostileHarness) -> None:
    """A document for another issuer is no outage but a misconfiguration: 502, remembered
    and replayed as a 502 with Retry-After, one request per wait."""
    h = frozen
    h.provider.discovery = {"issuer": "http://evil.test/oidc"}
    responses = await gather(50, h.start)
    assert answers(responses) == {(502, "1"): 50}
    assert requests_to(h, "discovery") == 1
    assert all("evil.test" in response.text for response in responses)
    h.advance(INITIAL_DELAY)
    assert answers([await h.start()]) == {(502, "2"): 1}
    assert requests_to(h, "discovery") == 2


@pytest.mark.parametrize("fault", OUTAGES)
async def test_callbacks_during_a_jwks_outage_make_one_jwks_request(
    frozen: HostileHarness, fault: str
) -> None:
    """No keys yet and the JWKS down: 20 callbacks send it one request, each answers 503 (a
    timeout's one 504) with Retry-After, and no session is made."""
    h = frozen
    browsers = [browser(h.middleware) for _ in range(20)]
    urls = []
    for client in browsers:
        start = await client.get(f"{APP_ORIGIN}/sign-in")
        urls.append((client, str((await client.get(start.headers["location"])).headers["location"])))
    inject(h, "jwks", fault)
    try:
        responses = await gather(20, lambda: (lambda pair: pair[0].get(pair[1]))(urls.pop()))
    finally:
        for client in browsers:
            await client.aclose()
    assert requests_to(h, "jwks") == 1
    assert answers(responses) == outage_answers(fault, 20)
    assert all(session_cookies_set(response) == [] for response in responses)


async def test_a_new_signing_key_during_a_jwks_outage_is_a_503_at_the_callback(
    frozen: HostileHarness,
) -> None:
    """Keys cached, the provider rotates and the JWKS is down: the new ID token cannot be
    checked yet, so the callback answers 503 with Retry-After, not a 400."""
    h = frozen
    assert_signed_in(await h.sign_in())
    h.provider.rotate("EC")
    inject(h, "jwks", "refused")
    h.advance(JWKS_REFETCH_INTERVAL)
    response = await h.sign_in()
    assert (response.status_code, response.headers["retry-after"]) == (503, "1")
    assert session_cookies_set(response) == []
    assert requests_to(h, "jwks") == 2


async def test_a_refresh_during_a_jwks_outage_keeps_the_rotated_tokens(frozen: HostileHarness) -> None:
    """A refresh whose new ID token no cached key verifies while the JWKS is down keeps
    the new refresh and access tokens (the old refresh token is spent) and the previous
    ID token: 200 and a new session cookie, never a sign-out."""
    h = frozen
    assert_signed_in(await h.sign_in())
    h.provider.rotate("EC")
    inject(h, "jwks", "500")
    h.advance(JWKS_REFETCH_INTERVAL)
    response = await h.get("/token", resource=API, raw="1")
    assert response.status_code == 200, response.text
    assert session_cookies_set(response) == ["logto"]
    assert h.provider.counts["refresh"] == 1 and requests_to(h, "jwks") == 2
    assert (await h.get("/me")).status_code == 200


# Bearer tokens --------------------------------------------------------------------------


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.user.display_name if request.user.is_authenticated else None})


@dataclass
class BearerRig:
    """An API behind ``BearerAuthMiddleware`` on the hostile provider, frozen clock."""

    provider: HostileProvider
    transport: FaultyTransport
    middleware: BearerAuthMiddleware
    client: httpx.AsyncClient
    offset: list[float]
    now: float

    def advance(self, seconds: float) -> None:
        self.offset[0] += seconds

    def token(self, key: Key = EC_KEY, kid: str | None = "hostile-es-1") -> str:
        """An access token for ``API``; by default the provider's own."""
        header = {"alg": alg_for(key), "typ": "at+jwt", **({"kid": kid} if kid else {})}
        claims = {
            "iss": self.provider.issuer,
            "aud": API,
            "sub": "user-api",
            "exp": int(self.now) + 86400 * 3,
        }
        return jwt.encode(header, claims, key, algorithms=[header["alg"]])

    def forged(self) -> str:
        """A token signed by a key of our own, under a random ``kid``."""
        return self.token(FORGER, kid=f"forged-{secrets.token_hex(8)}")

    async def call(self, token: str) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}", "accept": "application/json"}
        return await self.client.get("http://api.test/", headers=headers)


@pytest.fixture
async def api(hostile_provider: HostileProvider) -> AsyncIterator[BearerRig]:
    hostile_provider.reset()
    transport = LoopbackFaultyTransport(hostile_provider)
    http = httpx.AsyncClient(transport=transport, timeout=NORMAL_TIMEOUT, follow_redirects=False)
    offset, now = [0.0], time.time()
    middleware = BearerAuthMiddleware(
        Starlette(routes=[Route("/", whoami)]),
        endpoint=hostile_provider.url,
        audience=API,
        http_client=http,
        clock=lambda: now + offset[0],
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware))
    try:
        yield BearerRig(hostile_provider, transport, middleware, client, offset, now)
    finally:
        await client.aclose()
        await http.aclose()
        hostile_provider.reset()


@pytest.mark.parametrize("fault", OUTAGES)
async def test_forged_kids_during_a_jwks_outage_without_keys(api: BearerRig, fault: str) -> None:
    """No keys cached and the JWKS down: 300 tokens with random kids send it one request
    and all get 503 (a timeout's one 504) with Retry-After, never a 401, 500 or 502; the
    genuine token too (it may well be fine)."""
    await api.middleware.provider.metadata()  # discovery answers before a short timeout is on
    inject(api, "jwks", fault)
    responses = await gather(300, lambda: api.call(api.forged()))
    responses.append(await api.call(api.token()))
    assert requests_to(api, "jwks") == 1 and requests_to(api, "discovery") == 1
    assert answers(responses) == outage_answers(fault, 301)
    assert {response.json()["error"] for response in responses} <= {
        "provider_unavailable",
        "provider_timeout",
    }


@pytest.mark.parametrize("fault", OUTAGES)
async def test_forged_kids_during_a_jwks_outage_with_keys_cached(api: BearerRig, fault: str) -> None:
    """Keys cached and the JWKS down: 300 tokens with random kids make one (failing)
    re-fetch and are all 401 invalid_token; the genuine token is still served."""
    assert (await api.call(api.token())).json() == {"sub": "user-api"}
    inject(api, "jwks", fault)
    api.advance(JWKS_REFETCH_INTERVAL)
    responses = await gather(300, lambda: api.call(api.forged()))
    assert requests_to(api, "jwks") == 2
    assert answers(responses) == {(401, None): 300}
    assert {r.headers["www-authenticate"] for r in responses} == {'Bearer error="invalid_token"'}
    assert (await api.call(api.token())).status_code == 200


async def test_forged_kids_keep_the_jwks_alone_for_the_whole_backoff(
    api: BearerRig, caplog: pytest.LogCaptureFixture
) -> None:
    """After the failed re-fetch, unknown kids do not ask again until the backoff (and the
    re-fetch interval) allow it: one request (and one log line) per wait, each answer 401."""
    caplog.set_level(logging.INFO, logger="logto_asgi")
    assert (await api.call(api.token())).status_code == 200
    inject(api, "jwks", "refused")
    api.advance(JWKS_REFETCH_INTERVAL)
    for sent, delay in enumerate([1, 2, 4, 8], start=2):
        responses = await gather(50, lambda: api.call(api.forged()))
        assert answers(responses) == {(401, None): 50}
        assert requests_to(api, "jwks") == sent
        assert caplog.text.count("re-fetching the JWKS") == sent - 1
        api.advance(delay)


async def test_stale_keys_are_served_while_the_provider_is_down(api: BearerRig) -> None:
    """Past their TTL, cached discovery and keys keep verifying the genuine token while
    the provider is down (one request each per backoff); past STALE_IF_ERROR: 503."""
    assert (await api.call(api.token())).status_code == 200
    api.advance(max(JWKS_TTL, METADATA_TTL) + 1)
    inject(api, "discovery", "refused")
    api.transport.fault_path = ""  # every request refused
    responses = await gather(100, lambda: api.call(api.token()))
    assert answers(responses) == {(200, None): 100}
    assert (requests_to(api, "discovery"), requests_to(api, "jwks")) == (2, 2)
    api.advance(STALE_IF_ERROR)
    response = await api.call(api.token())
    assert (response.status_code, response.headers["retry-after"]) == (503, "2")


async def test_bearer_recovers_after_the_backoff(api: BearerRig) -> None:
    """The JWKS back: the first request after the wait fetches it and is served."""
    inject(api, "jwks", "html")
    assert (await api.call(api.token())).status_code == 503
    heal(api)
    assert (await api.call(api.token())).status_code == 503
    api.advance(INITIAL_DELAY)
    assert (await api.call(api.token())).json() == {"sub": "user-api"}
    assert (await api.call(api.forged())).status_code == 401
    assert requests_to(api, "jwks") == 2
