"""A real sign-in, traced: the sign-in and callback spans, their children down to every
provider request, the sign-in counter and the provider-request metrics; and, under
OpenTelemetry's own ASGI middleware, the callback span inside the server's request span."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import Span

from docs.markdown import block_after
from observability.otel import Spans, Telemetry, attrs, is_error, parent_id, span_id, span_text, trace_id
from support.app import APP_ORIGIN, Harness, new_browser
from support.provider import OidcTestProvider

pytestmark = pytest.mark.anyio


def provider_request(spans: Spans, under: ReadableSpan, endpoint: str) -> ReadableSpan:
    found = spans.under(under, "logto.provider.request", **{"logto.provider.endpoint": endpoint})
    assert len(found) == 1, f"{endpoint} requests under {under.name}: {spans.summary()}"
    return found[0]


async def test_sign_in_and_callback_spans(
    harness: Harness, provider: OidcTestProvider, otel: Telemetry
) -> None:
    """sign_in (redirect) fetched discovery; callback (signed_in) holds the code exchange,
    the ID token validation and the JWKS fetch; every provider request says what it was,
    its method, its status and the host only."""
    response = await harness.sign_in("alice")
    assert response.status_code == 302, response.text
    spans = otel.spans()

    sign_in = spans.one("logto.sign_in")
    assert attrs(sign_in)["logto.outcome"] == "redirect"
    assert attrs(sign_in)["logto.silent"] is False
    assert not is_error(sign_in)
    discovery = provider_request(spans, sign_in, "discovery")

    callback = spans.one("logto.callback")
    assert attrs(callback)["logto.outcome"] == "signed_in"
    assert "logto.error_code" not in attrs(callback)
    assert not is_error(callback)
    assert trace_id(callback) != trace_id(sign_in)  # two requests, two traces (no server span)

    exchange = spans.one("logto.code_exchange")
    assert parent_id(exchange) == span_id(callback)
    assert not is_error(exchange)
    validate = spans.one("logto.id_token.validate")
    assert spans.is_under(validate, callback)
    assert not is_error(validate) and "logto.check" not in attrs(validate)
    token = provider_request(spans, exchange, "code exchange")
    jwks = provider_request(spans, callback, "JWKS")

    host = provider.url.split("://", 1)[1].rsplit(":", 1)[0]
    for request, method in ((discovery, "GET"), (jwks, "GET"), (token, "POST")):
        values = attrs(request)
        assert values["http.request.method"] == method
        assert values["http.response.status_code"] == 200
        assert values["server.address"] == host
        assert values["logto.outcome"] == "ok"
        assert not is_error(request)
    assert len(spans.named("logto.provider.request")) == 3  # nothing else was asked

    gained = otel.metrics()
    assert gained.total("logto.sign_ins", outcome="signed_in") == 1
    assert gained.total("logto.sign_ins") == 1
    assert gained.total("logto.callback.errors") == 0
    for endpoint in ("discovery", "JWKS", "code exchange"):
        assert gained.total("logto.provider.requests", endpoint=endpoint, status="200") == 1
        assert gained.total("logto.provider.duration", endpoint=endpoint) == 1  # one histogram point
    for point in gained.points("logto.provider.requests") + gained.points("logto.provider.duration"):
        assert set(point) <= {"endpoint", "status"}, point


async def test_signed_in_request_makes_no_span(harness: Harness, otel: Telemetry) -> None:
    """The hot path (a request with a valid session cookie) sends nothing and traces nothing."""
    await harness.sign_in("alice")
    otel.reset()
    for _ in range(5):
        assert (await harness.client.get(f"{APP_ORIGIN}/me")).status_code == 200
    assert otel.spans().summary() == []
    assert otel.metrics().gained == {}


async def test_cancelled_sign_in_counts_its_outcome(harness: Harness, otel: Telemetry) -> None:
    """The provider sends the user back with access_denied: callback outcome cancelled, the
    OAuth code kept as logto.provider_error, the counter by outcome."""
    start = await harness.client.get(f"{APP_ORIGIN}{harness.config.sign_in_path}")
    state = httpx.URL(start.headers["location"]).params["state"]
    otel.reset()
    back = await harness.client.get(
        f"{APP_ORIGIN}/callback",
        params={"error": "access_denied", "state": state, "iss": harness.provider.issuer},
    )
    assert back.status_code == 303, back.text
    callback = otel.spans().one("logto.callback")
    assert attrs(callback)["logto.outcome"] == "cancelled"
    assert attrs(callback)["logto.provider_error"] == "access_denied"
    assert otel.metrics().total("logto.sign_ins", outcome="cancelled") == 1


async def test_callback_error_carries_the_code_not_the_text(harness: Harness, otel: Telemetry) -> None:
    """A forged callback (no transaction): error span whose status description is the
    error code alone, the callback error counter by code."""
    otel.reset()
    bad = await harness.client.get(f"{APP_ORIGIN}/callback", params={"code": "x" * 40, "state": "s" * 43})
    assert bad.status_code == 400
    callback = otel.spans().one("logto.callback")
    code = attrs(callback)["logto.error_code"]
    assert attrs(callback)["logto.outcome"] == "error"
    assert is_error(callback) and callback.status.description == code
    assert callback.events == ()  # record_exception is not used
    gained = otel.metrics()
    assert gained.total("logto.callback.errors", error_code=code) == 1
    assert gained.total("logto.sign_ins", outcome="error") == 1


def documented_hook() -> Callable[[Span, dict[str, Any]], None]:
    """The server_request_hook docs/observability.md gives (its own block, run as is)."""
    block = block_after("docs/observability.md", "### Inside the request's trace")
    namespace: dict[str, Any] = {"__name__": "observability_docs_app"}
    exec(compile(block.code, block.name, "exec"), namespace)
    hook: Callable[[Span, dict[str, Any]], None] = namespace["redact_callback_query"]
    return hook


async def test_callback_span_is_a_child_of_the_asgi_server_span(harness: Harness, otel: Telemetry) -> None:
    """Behind OpenTelemetry's ASGI middleware the library's spans join the request's trace:
    logto.sign_in and logto.callback are children of their server spans. With the hook
    the docs give, the server span does not keep the callback's code or state."""
    app = OpenTelemetryMiddleware(harness.middleware, server_request_hook=documented_hook())
    browser = new_browser(app)
    try:
        callback = await harness.sign_in("alice", client=browser)
        assert callback.status_code == 302
    finally:
        await browser.aclose()
    spans = otel.spans()
    servers = {span_id(s): s for s in spans.servers()}
    for name in ("logto.sign_in", "logto.callback"):
        ours = spans.one(name)
        parent = parent_id(ours)
        assert parent in servers, f"{name}'s parent is not a server span: {spans.summary()}"
        assert trace_id(servers[parent]) == trace_id(ours)
    callback_parent = parent_id(spans.one("logto.callback"))
    assert callback_parent is not None
    callback_server = servers[callback_parent]
    assert "/callback" in callback_server.name or attrs(callback_server).get("url.path") == "/callback"
    # the provider requests of the callback are in the same trace
    exchange = spans.one("logto.provider.request", **{"logto.provider.endpoint": "code exchange"})
    assert trace_id(exchange) == trace_id(callback_server)
    text = span_text(spans)
    for secret in (callback.request.url.params["code"], callback.request.url.params["state"]):
        assert secret not in text
