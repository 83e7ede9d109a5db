"""Traces, metrics and structured log fields, through OpenTelemetry when it is installed.

The only module that imports ``opentelemetry``, and only when
``importlib.util.find_spec("opentelemetry")`` finds it and the import works: otherwise
every helper is a no-op and nothing of it is imported. With the API installed, the
tracer and the meter come from the global providers at each call, so an SDK configured
after this import (or replaced by a test) is used at once; without an SDK (the API's
proxy provider) a span is not even started.

What may be recorded: names of endpoints, checks and error codes, outcomes, counts,
durations, the provider's host. Never a token, code, state, nonce, verifier, secret,
cookie value, session id, ``sub`` or email: a session appears only as
``logto.session`` = ``fingerprint(session id)``. A span's status description is an
error code, never an error's description (it may echo the provider's text), and
exceptions are not recorded on spans (their messages may hold anything).

Spans are made where there is I/O (a provider request, a store call, a refresh, an
action route), never on the signed-in request path that needs none.
"""

from __future__ import annotations

import importlib.util
import os
import re
import time
from types import TracebackType
from typing import TypedDict

from ._crypto import fingerprint
from ._version import __version__
from .errors import AuthorizationError, LogtoError, TokenValidationError

__all__ = [
    "ENABLED",
    "NO_SPAN",
    "AttributeValue",
    "LogFields",
    "SpanHandle",
    "count",
    "error_label",
    "failure_span",
    "log_fields",
    "provider_error",
    "record",
    "span",
]

AttributeValue = str | bool | int | float


def _importable() -> bool:
    try:
        return importlib.util.find_spec("opentelemetry") is not None
    except (ImportError, ValueError):
        return False


#: Whether OpenTelemetry's API is importable (checked once, first in every helper).
ENABLED = False
if _importable():
    try:
        from opentelemetry import context as otel_context
        from opentelemetry import metrics as otel_metrics
        from opentelemetry import trace as otel_trace
        from opentelemetry.trace import Status, StatusCode
    except ImportError:
        pass
    else:
        ENABLED = True

#: The longest provider error code kept on a span (it is the provider's text).
MAX_PROVIDER_ERROR = 64
#: OAuth error codes (RFC 6749, 6750, 8707, OIDC): the only provider codes a metric may carry.
_OAUTH_CODES = frozenset(
    {
        "access_denied",
        "insufficient_scope",
        "interaction_required",
        "invalid_client",
        "invalid_grant",
        "invalid_request",
        "invalid_scope",
        "invalid_target",
        "invalid_token",
        "login_required",
        "server_error",
        "temporarily_unavailable",
        "unauthorized_client",
        "unsupported_grant_type",
    }
)
#: RFC 6749's error code characters (printable ASCII but ``"`` and ``\``).
_OAUTH_ERROR = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]+")
_DESCRIPTIONS = {
    "logto.sign_ins": "Sign-in callbacks, by outcome",
    "logto.sign_outs": "Sessions ended, by reason",
    "logto.callback.errors": "Sign-in callbacks answered with an error, by error code",
    "logto.refresh.grants": "Refresh grants sent to the provider, by outcome",
    "logto.refresh.joined": "Refreshes served by another caller's grant or a recent result",
    "logto.refresh.wait": "Time a caller spent on a refresh (waiting, or its own grant)",
    "logto.provider.requests": "HTTP requests to the provider, by endpoint and status",
    "logto.provider.duration": "Duration of HTTP requests to the provider, by endpoint",
    "logto.store.errors": "Session or coordination store failures, by operation",
    "logto.backchannel_logouts": "Back-channel logout requests, by outcome",
    "logto.bearer.rejections": "Bearer tokens refused, by failed check",
}
_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def provider_error(code: str) -> str:
    """The provider's error code as a span attribute: at most 64 characters, ``invalid``
    when it is no OAuth error code at all (anyone can put anything in a callback URL)."""
    code = code[:MAX_PROVIDER_ERROR]
    return code if _OAUTH_ERROR.fullmatch(code) else "invalid"


def error_label(exc: BaseException) -> str:
    """A bounded label for a failure: the provider's OAuth code when it is a known one
    (``invalid_grant``), else the error's code (``provider_unavailable``), else ``error``."""
    for candidate in (exc, exc.__cause__):
        if isinstance(candidate, AuthorizationError) and candidate.provider_error in _OAUTH_CODES:
            return candidate.provider_error
    return exc.error if isinstance(exc, LogtoError) else "error"


# Spans -------------------------------------------------------------------------------------


class SpanHandle:
    """The span of a ``with span(...)`` block; this base, ``NO_SPAN``, records nothing."""

    __slots__ = ()

    def set(self, key: str, value: AttributeValue) -> None:
        """Set one attribute (see the module for what may never be one)."""

    def outcome(self, outcome: str, error: LogtoError | None = None) -> None:
        """``logto.outcome``; with ``error``, its code as ``logto.error_code`` and the
        span's status (ERROR, described by the code only)."""

    def __enter__(self) -> SpanHandle:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


#: The handle of every span when tracing is off.
NO_SPAN = SpanHandle()


class _LiveSpan(SpanHandle):
    __slots__ = ("_decided", "_span", "_token")

    def __init__(self, span: otel_trace.Span) -> None:
        self._span = span
        self._decided = False
        self._token: object = None

    def set(self, key: str, value: AttributeValue) -> None:
        self._span.set_attribute(key, value)

    def outcome(self, outcome: str, error: LogtoError | None = None) -> None:
        self._decided = True
        self._span.set_attribute("logto.outcome", outcome)
        if error is not None:
            self._error(error)
        elif outcome == "error":
            self._span.set_status(Status(StatusCode.ERROR))

    def _error(self, error: LogtoError) -> None:
        span = self._span
        span.set_attribute("logto.error_code", error.error)
        if isinstance(error, TokenValidationError):
            span.set_attribute("logto.check", error.check)
        if isinstance(error, AuthorizationError) and error.provider_error:
            span.set_attribute("logto.provider_error", provider_error(error.provider_error))
        span.set_status(Status(StatusCode.ERROR, error.error))

    def _escaped(self, exc: BaseException) -> None:
        """An exception leaves the block: its code (or class), never its message."""
        if not isinstance(exc, Exception):  # cancelled (the client went away), not failed
            if not self._decided:
                self._span.set_attribute("logto.outcome", "cancelled")
            return
        if not self._decided:
            self._span.set_attribute("logto.outcome", "error")
        if isinstance(exc, LogtoError):
            self._error(exc)
        else:
            self._span.set_attribute("error.type", type(exc).__qualname__)
            self._span.set_status(Status(StatusCode.ERROR))

    def __enter__(self) -> SpanHandle:
        self._token = otel_context.attach(otel_trace.set_span_in_context(self._span))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc is not None:
                self._escaped(exc)
            elif not self._decided:
                self._span.set_attribute("logto.outcome", "ok")
        finally:
            otel_context.detach(self._token)  # type: ignore[arg-type]
            self._span.end()


class _Providers:
    """What was obtained from the global providers, kept while they stay the same."""

    tracer_provider: object = None
    tracer: otel_trace.Tracer | None = None
    meter_provider: object = None
    meter: otel_metrics.Meter | None = None
    counters: dict[str, otel_metrics.Counter] = {}  # noqa: RUF012 - replaced, never shared
    histograms: dict[str, otel_metrics.Histogram] = {}  # noqa: RUF012 - replaced, never shared


#: Whether the API would build its tracer provider from the environment (read at import).
_PROVIDER_FROM_ENV = "OTEL_PYTHON_TRACER_PROVIDER" in os.environ
_UNKNOWN = object()


def _tracer() -> otel_trace.Tracer | None:
    """The tracer of the global provider; ``None`` while no SDK is configured."""
    # While no provider is set, the API's get_tracer_provider() looks in os.environ on
    # every call (about 0.7 µs a span); its global, None until set_tracer_provider(),
    # says the same for free. (Any other value, or a changed API, takes the full path.)
    if not _PROVIDER_FROM_ENV and getattr(otel_trace, "_TRACER_PROVIDER", _UNKNOWN) is None:
        return None
    provider = otel_trace.get_tracer_provider()
    if provider is not _Providers.tracer_provider:
        off = isinstance(provider, (otel_trace.ProxyTracerProvider, otel_trace.NoOpTracerProvider))
        _Providers.tracer = None if off else provider.get_tracer("logto_asgi", __version__)
        _Providers.tracer_provider = provider
    return _Providers.tracer


def span(name: str, **attributes: AttributeValue) -> SpanHandle:
    """A context manager: the span ``name``, current inside the block (a child of the
    app's request span when there is one); its handle sets attributes and the outcome.
    A block left normally without an outcome is ``ok``; an exception sets ``error``."""
    if not ENABLED:
        return NO_SPAN
    tracer = _tracer()
    if tracer is None:
        return NO_SPAN
    started = tracer.start_span(
        name, attributes=attributes, record_exception=False, set_status_on_exception=False
    )
    return _LiveSpan(started)


class _FailureSpan(SpanHandle):
    """See ``failure_span``."""

    __slots__ = ("_attributes", "_name", "_started")

    def __init__(self, name: str, attributes: dict[str, AttributeValue]) -> None:
        self._name = name
        self._attributes = attributes
        self._started = 0

    def __enter__(self) -> SpanHandle:
        self._started = time.time_ns()
        return NO_SPAN

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not isinstance(exc, LogtoError):
            return
        tracer = _tracer()
        if tracer is not None:
            late = _LiveSpan(
                tracer.start_span(self._name, attributes=self._attributes, start_time=self._started)
            )
            late.outcome("error", exc)
            late._span.end()


def failure_span(name: str, **attributes: AttributeValue) -> SpanHandle:
    """Like ``span``, for a block on a hot path without I/O: no span while it succeeds; a
    ``LogtoError`` leaving it is recorded as the span ``name`` after the fact (from the
    block's start, with no children). Costs one clock reading when the API is installed."""
    if not ENABLED:
        return NO_SPAN
    # (the tracer is looked up only on a failure: the successful path stays this cheap)
    return _FailureSpan(name, attributes)


# Metrics -----------------------------------------------------------------------------------


def _meter() -> otel_metrics.Meter:
    """The global provider's meter; instruments start over when the provider changed
    (the API's proxy instruments forward to an SDK set later, so they are kept)."""
    provider = otel_metrics.get_meter_provider()
    meter = _Providers.meter
    if provider is not _Providers.meter_provider or meter is None:
        meter = provider.get_meter("logto_asgi", __version__)
        _Providers.counters, _Providers.histograms = {}, {}
        _Providers.meter, _Providers.meter_provider = meter, provider
    return meter


def count(name: str, value: int = 1, **attributes: AttributeValue) -> None:
    """Add ``value`` to the counter ``name`` (attributes: bounded sets only)."""
    if not ENABLED:
        return
    meter = _meter()
    counter = _Providers.counters.get(name)
    if counter is None:
        counter = meter.create_counter(name, unit="1", description=_DESCRIPTIONS.get(name, ""))
        _Providers.counters[name] = counter
    counter.add(value, attributes or None)


def record(name: str, seconds: float, **attributes: AttributeValue) -> None:
    """Record a duration in the histogram ``name`` (seconds)."""
    if not ENABLED:
        return
    meter = _meter()
    histogram = _Providers.histograms.get(name)
    if histogram is None:
        histogram = meter.create_histogram(
            name,
            unit="s",
            description=_DESCRIPTIONS.get(name, ""),
            explicit_bucket_boundaries_advisory=_SECONDS_BUCKETS,
        )
        _Providers.histograms[name] = histogram
    histogram.record(seconds, attributes or None)


# Logs --------------------------------------------------------------------------------------


class LogFields(TypedDict):
    """``logger.info(message, *args, **log_fields(...))``: the record's extra attributes."""

    extra: dict[str, str | None]


def log_fields(
    event: str, outcome: str | None = None, error_code: str | None = None, session_id: str | None = None
) -> LogFields:
    """Structured fields for a log record: ``logto_event``, ``logto_outcome``,
    ``logto_error_code`` and ``logto_session`` (the session id's fingerprint, never the
    id), each ``None`` when not known. Works whether or not OpenTelemetry is installed."""
    return {
        "extra": {
            "logto_event": event,
            "logto_outcome": outcome,
            "logto_error_code": error_code,
            "logto_session": fingerprint(session_id) if session_id else None,
        }
    }
