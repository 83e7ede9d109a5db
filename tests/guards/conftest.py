"""The real provider, and the guarded app behind both middlewares."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from flows.conftest import harness, provider
from support.guards_apps import Guarded, make_guarded
from support.provider import OidcTestProvider

__all__ = ["guarded", "harness", "provider"]


@pytest.fixture
async def guarded(provider: OidcTestProvider) -> AsyncIterator[Guarded]:
    """LogtoMiddleware(BearerAuthMiddleware(app)) with a fresh client registration."""
    g = await make_guarded(provider)
    try:
        yield g
    finally:
        await g.aclose()
        await provider.reset_ttl()
