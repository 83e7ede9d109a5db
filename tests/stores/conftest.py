"""Fixtures for the server-side store tests: one real Redis and the real provider per run."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio

from logto_asgi.sessions.redis import RedisStore
from support.provider import OidcTestProvider, start_provider
from support.redis_fleet import ClusterFleet, SentinelFleet, start_cluster, start_sentinel
from support.redis_server import RedisServer, start_redis
from support.redis_server import redis_store as prefixed_redis_store


@pytest.fixture(scope="session")
def provider() -> Iterator[OidcTestProvider]:
    """npm's oidc-provider configured like Logto, on a free loopback port."""
    with start_provider() as running:
        yield running


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real ``redis-server`` on a free loopback port (fails, never skips, when missing)."""
    server = start_redis(Path(tmp_path_factory.mktemp("redis")))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The shared Redis's URL; restarts it after a test that stopped it."""
    yield redis_server.url
    if not redis_server.running:
        redis_server.start()


@pytest.fixture
async def admin(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    """A plain redis-py client to look at what the store wrote."""
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def redis_store(redis_url: str) -> AsyncIterator[RedisStore]:
    """A ``RedisStore`` with a prefix of its own, so tests never see each other's keys."""
    async with prefixed_redis_store(redis_url) as store:
        yield store


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterFleet]:
    """A real Redis Cluster, 3 masters with 1 replica each (fails, never skips, when it cannot start)."""
    fleet = start_cluster(Path(tmp_path_factory.mktemp("redis-cluster")))
    try:
        yield fleet
    finally:
        fleet.stop()


@pytest.fixture(scope="session")
def redis_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelFleet]:
    """A real master, replica and 3 sentinels (fails, never skips, when they cannot start)."""
    fleet = start_sentinel(Path(tmp_path_factory.mktemp("redis-sentinel")))
    try:
        yield fleet
    finally:
        fleet.stop()


@pytest.fixture
async def short_tokens(provider: OidcTestProvider) -> AsyncIterator[None]:
    """Access tokens start at 2 s at the provider: served processes' clocks are not ours to shift."""
    await provider.set_ttl(AccessToken=2)
    try:
        yield
    finally:
        await provider.reset_ttl()
