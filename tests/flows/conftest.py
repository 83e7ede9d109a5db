"""The real test provider, started once for the flow tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from support.app import Harness, make_harness
from support.provider import OidcTestProvider, start_provider


@pytest.fixture(scope="session")
def provider() -> Iterator[OidcTestProvider]:
    """npm's oidc-provider configured like Logto, on a free loopback port."""
    with start_provider() as running:
        yield running


@pytest.fixture
async def harness(provider: OidcTestProvider) -> AsyncIterator[Harness]:
    """A fresh client registration and app for one test."""
    h = await make_harness(provider)
    try:
        yield h
    finally:
        await h.aclose()
        await provider.reset_ttl()
