"""Fixtures: the hostile provider (one per run), a fresh app per test, the real provider."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from hostile.harness import HostileHarness, make_hostile_harness
from hostile.hostile_provider import HostileProvider, run_hostile_provider
from support.app import Harness, make_harness
from support.provider import OidcTestProvider, start_provider


@pytest.fixture(scope="session")
def hostile_provider() -> Iterator[HostileProvider]:
    """The scripted hostile OpenID Provider on a free loopback port."""
    with run_hostile_provider() as provider:
        yield provider


@pytest.fixture
async def h(hostile_provider: HostileProvider) -> AsyncIterator[HostileHarness]:
    """A fresh app (empty discovery and JWKS caches) against a well-behaved hostile provider."""
    hostile_provider.reset()
    harness = make_hostile_harness(hostile_provider)
    try:
        yield harness
    finally:
        await harness.aclose()
        hostile_provider.reset()


@pytest.fixture(scope="session")
def provider() -> Iterator[OidcTestProvider]:
    """npm's oidc-provider configured like Logto, on a free loopback port."""
    with start_provider() as running:
        yield running


@pytest.fixture
async def harness(provider: OidcTestProvider) -> AsyncIterator[Harness]:
    """A fresh client registration and app against the real provider."""
    made = await make_harness(provider)
    try:
        yield made
    finally:
        await made.aclose()
