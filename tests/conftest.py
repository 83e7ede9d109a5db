"""Fixtures shared by every test folder."""

from __future__ import annotations

import pytest

#: The session-scoped PostgreSQL server (fixtures ``postgres_server``, ``postgres_dsn``).
pytest_plugins = ["support.postgres_server"]


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio (the loop every supported server uses)."""
    return "asyncio"
