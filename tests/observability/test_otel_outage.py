"""A provider outage, traced: the provider's port refuses connections. Every sign-in is an
error span with logto.error_code provider_unavailable; the backoff keeps the provider
requests (spans and unreachable counts) to one per backoff window however many sign-ins."""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from logto_asgi import LogtoConfig, LogtoMiddleware
from logto_asgi._backoff import INITIAL_DELAY
from observability.otel import RecordingHandler, Telemetry, attrs, is_error
from support.app import APP_ORIGIN, build_app, new_browser

pytestmark = pytest.mark.anyio

BURST = 25


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound but not listening: connections to it are refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


class Clock:
    """The middleware's clock: frozen, moved only by the test (exact backoff windows)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def down(closed_port: int) -> AsyncIterator[tuple[httpx.AsyncClient, Clock]]:
    """An app whose provider is unreachable, and its frozen clock."""
    config = LogtoConfig(
        endpoint=f"http://127.0.0.1:{closed_port}",
        app_id="outage-app",
        app_secret=secrets.token_urlsafe(24),
        cookie_secret=secrets.token_urlsafe(32),
        base_url=APP_ORIGIN,
    )
    clock = Clock()
    middleware = LogtoMiddleware(build_app(), config=config, clock=clock)
    client = new_browser(middleware)
    try:
        yield client, clock
    finally:
        await client.aclose()
        await middleware.core.aclose()


async def burst(client: httpx.AsyncClient) -> list[int]:
    responses = await asyncio.gather(*(client.get(f"{APP_ORIGIN}/sign-in") for _ in range(BURST)))
    return [r.status_code for r in responses]


async def test_outage_is_error_spans_and_few_provider_requests(
    down: tuple[httpx.AsyncClient, Clock], otel: Telemetry, logs: RecordingHandler
) -> None:
    """Two bursts inside one backoff window, one after it: 75 error sign-in spans, two
    provider.request spans, provider.requests{status=unreachable} +2."""
    client, clock = down
    assert await burst(client) == [503] * BURST
    clock.now += INITIAL_DELAY / 2
    assert await burst(client) == [503] * BURST
    spans = otel.spans()
    sign_ins = spans.named("logto.sign_in")
    assert len(sign_ins) == 2 * BURST
    for span in sign_ins:
        assert attrs(span)["logto.outcome"] == "error"
        assert attrs(span)["logto.error_code"] == "provider_unavailable"
        assert is_error(span) and span.status.description == "provider_unavailable"
        assert span.events == ()
    [sent] = spans.named("logto.provider.request")
    assert attrs(sent)["logto.provider.endpoint"] == "discovery"
    assert attrs(sent)["logto.outcome"] == "error" and is_error(sent)
    assert "http.response.status_code" not in attrs(sent)
    assert attrs(sent)["server.address"] == "127.0.0.1"
    gained = otel.metrics()
    assert gained.total("logto.provider.requests", endpoint="discovery", status="unreachable") == 1
    assert gained.total("logto.provider.requests") == 1

    clock.now += INITIAL_DELAY
    assert await burst(client) == [503] * BURST
    spans = otel.spans()
    assert len(spans.named("logto.sign_in", **{"logto.error_code": "provider_unavailable"})) == 3 * BURST
    assert len(spans.named("logto.provider.request")) == 2
    gained = otel.metrics()
    assert gained.total("logto.provider.requests", endpoint="discovery", status="unreachable") == 2
    # the failure and the backoff are logged with the structured fields
    failing = logs.with_field("logto_error_code", "provider_unavailable")
    assert failing, logs.text()
    assert all(isinstance(getattr(r, "logto_event", None), str) for r in failing)
