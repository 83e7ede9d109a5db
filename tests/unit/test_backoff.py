"""The failure memory of provider endpoints, without a provider: delays, replays, the
clock, the Retry-After header, which failed document is an outage, and a session's own
tokens during a JWKS outage."""

from __future__ import annotations

import time

import httpx
import pytest

from logto_asgi import InProcessCoordination, ProviderError, ProviderTimeout, ProviderUnavailable
from logto_asgi._backoff import INITIAL_DELAY, MAX_DELAY, Backoff
from logto_asgi.boundary import render_error
from logto_asgi.core import LogtoCore
from logto_asgi.errors import TokenValidationError
from logto_asgi.protocol import ProviderReply, json_document
from logto_asgi.provider import JWKS_REFETCH_INTERVAL
from logto_asgi.testing import TestIssuer

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


async def fail(exc: ProviderError) -> None:
    raise exc


def test_delays_double_from_one_second_to_the_cap() -> None:
    """Each failure in a row doubles the wait, up to MAX_DELAY; retry_after says it."""
    clock = Clock()
    backoff = Backoff("discovery", clock)
    seen = []
    for _ in range(8):
        exc = ProviderUnavailable("down")
        backoff.failed(exc)
        seen.append(exc.retry_after)
        clock.now += backoff.remaining()
    assert seen == [1, 2, 4, 8, 16, 30, 30, 30]
    assert (INITIAL_DELAY, MAX_DELAY) == (1.0, 30.0)


async def test_while_backing_off_the_fetch_is_not_run() -> None:
    """Within the wait, call() raises at once without running the fetch; after it, runs it."""
    clock = Clock()
    backoff = Backoff("JWKS", clock)
    runs = []

    async def fetch() -> str:
        runs.append(clock.now)
        return "keys"

    with pytest.raises(ProviderUnavailable):
        await backoff.call(lambda: fail(ProviderUnavailable("the provider could not be reached")))
    clock.now += 0.999
    with pytest.raises(ProviderUnavailable) as replay:
        await backoff.call(fetch)
    assert runs == [] and replay.value.retry_after == pytest.approx(0.001, abs=1e-6)
    clock.now += 0.001
    assert await backoff.call(fetch) == "keys" and len(runs) == 1


async def test_a_success_forgets_the_failures() -> None:
    """After a success the next failure waits the initial delay again."""
    clock = Clock()
    backoff = Backoff("JWKS", clock)
    for _ in range(4):
        backoff.failed(ProviderUnavailable("down"))
    clock.now += MAX_DELAY

    async def fetch() -> int:
        return 1

    await backoff.call(fetch)
    assert backoff.remaining() == 0
    exc = ProviderUnavailable("down")
    backoff.failed(exc)
    assert exc.retry_after == INITIAL_DELAY


@pytest.mark.parametrize(
    ("failure", "replayed"),
    [
        (ProviderUnavailable("the provider could not be reached"), ProviderUnavailable),
        (ProviderTimeout("the provider did not answer in time"), ProviderUnavailable),
        (ProviderError("the discovery document's issuer 'x' is not the expected 'y'"), ProviderError),
    ],
)
def test_a_replay_keeps_the_kind_and_the_description(failure: ProviderError, replayed: type) -> None:
    """An outage (unreachable, timeout, 5xx) replays as a 503; an unusable document as a
    502; both say what failed and for how long nothing is asked."""
    clock = Clock()
    backoff = Backoff("discovery", clock)
    backoff.failed(failure)
    clock.now += 0.25
    with pytest.raises(ProviderError) as raised:
        backoff.check()
    assert type(raised.value) is replayed
    assert raised.value.description.startswith(failure.description)
    assert "the discovery request is not retried for 1 s" in raised.value.description
    assert raised.value.__traceback__ is not None and raised.value.__cause__ is None


def test_a_clock_that_went_backwards_ends_the_wait() -> None:
    """A wall clock set back does not stretch the wait until it catches up."""
    clock = Clock()
    backoff = Backoff("discovery", clock)
    backoff.failed(ProviderUnavailable("down"))
    clock.now -= 3600
    assert backoff.remaining() == 0
    backoff.check()


@pytest.mark.parametrize(("seconds", "header"), [(0.001, "1"), (1.0, "1"), (1.5, "2"), (29.2, "30")])
def test_retry_after_is_whole_seconds_rounded_up(seconds: float, header: str) -> None:
    """Retry-After is an integer, rounded up, at least 1; absent without retry_after."""
    scope = {"type": "http", "headers": [(b"accept", b"application/json")]}
    rendered = render_error(scope, ProviderUnavailable("down", retry_after=seconds), None)
    assert (b"retry-after", header.encode()) in rendered.headers
    assert rendered.status == 503
    plain = render_error(scope, ProviderUnavailable("down"), None)
    assert not any(name == b"retry-after" for name, _ in plain.headers)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (500, b"Internal Server Error", ProviderUnavailable),
        (503, b'{"keys": []}', ProviderUnavailable),
        (200, b"<html>maintenance</html>", ProviderUnavailable),
        (200, b'{"keys": [', ProviderUnavailable),
        (404, b"not found", ProviderError),
        (200, b"[]", ProviderError),
    ],
)
def test_which_failed_document_is_an_outage(status: int, body: bytes, expected: type) -> None:
    """No document at all (5xx, not JSON) is an outage (503); a 4xx or JSON that is not an
    object is an unusable answer (502)."""
    with pytest.raises(ProviderError) as raised:
        json_document("JWKS", ProviderReply(status, "application/json", body))
    assert type(raised.value) is expected


async def test_a_session_access_token_with_an_unknown_key_during_a_jwks_outage_is_a_503() -> None:
    """A session's own access token that no cached key verifies while the JWKS is down
    (the key is likely new) is a 503 with retry_after, not an invalid token; once the JWKS
    answers again it is an invalid token."""
    issuer, other = TestIssuer(), TestIssuer()
    down = [False]

    def handle(request: httpx.Request) -> httpx.Response:
        if down[0] and request.url.path.endswith("/jwks"):
            return httpx.Response(502, text="Bad Gateway")
        return issuer.handle(request)

    clock = Clock()
    clock.now = time.time()
    http = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    core = LogtoCore(issuer.config(http_client=http, coordination=InProcessCoordination()), clock=clock)
    api = "https://api.test"
    assert (await core.tokens.access_token_claims(issuer.access_token(api), api, None)).sub
    down[0] = True
    clock.now += JWKS_REFETCH_INTERVAL
    with pytest.raises(ProviderUnavailable) as raised:
        await core.tokens.access_token_claims(other.access_token(api), api, None)
    assert raised.value.retry_after == INITIAL_DELAY
    down[0] = False
    clock.now += INITIAL_DELAY + JWKS_REFETCH_INTERVAL
    with pytest.raises(TokenValidationError):
        await core.tokens.access_token_claims(other.access_token(api), api, None)
    await core.aclose()
