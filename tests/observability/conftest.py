"""Fixtures: the OpenTelemetry SDK installed once (in-memory exporter and reader), the
real provider, a fresh app per test, and the ``logto_asgi`` log records."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from observability.otel import RecordingHandler, SwitchableSpanExporter, Telemetry
from support.app import Harness, make_harness
from support.provider import OidcTestProvider, start_provider


@pytest.fixture(scope="package")
def sdk() -> Iterator[Telemetry]:
    """The SDK as an app would configure it, set as the global providers once per process
    (OpenTelemetry refuses a second ``set_*_provider``); spans are dropped again once this
    folder's tests are done."""
    exporter = SwitchableSpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    if trace.get_tracer_provider() is not tracer_provider:
        pytest.fail("another tracer provider was set globally before the observability tests")
    if metrics.get_meter_provider() is not meter_provider:
        pytest.fail("another meter provider was set globally before the observability tests")
    try:
        yield Telemetry(exporter, reader)
    finally:
        exporter.recording = False
        exporter.clear()


@pytest.fixture
def otel(sdk: Telemetry) -> Telemetry:
    """The telemetry of this test only: spans cleared, metrics read as deltas from here."""
    sdk.reset()
    return sdk


@pytest.fixture
def logs() -> Iterator[RecordingHandler]:
    """Every record of the ``logto_asgi`` loggers, at DEBUG."""
    logger = logging.getLogger("logto_asgi")
    handler = RecordingHandler()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture(scope="session")
def provider() -> Iterator[OidcTestProvider]:
    """npm's oidc-provider configured like Logto, on a free loopback port."""
    with start_provider() as running:
        yield running


@pytest.fixture
async def harness(provider: OidcTestProvider) -> AsyncIterator[Harness]:
    """A fresh client registration and app (empty discovery and JWKS caches) for one test."""
    h = await make_harness(provider)
    try:
        yield h
    finally:
        await h.aclose()
        await provider.reset_ttl()
