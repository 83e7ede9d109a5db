"""``RedisStore(local_cache=…)`` against real Redis: session entries served from the
process while Redis's client tracking vouches for them; every change made elsewhere
(another instance, another client, a flush, a failover) seen within the staleness bound."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest
import redis.asyncio

from logto_asgi.sessions._redis_tracking import TrackedValues
from logto_asgi.sessions.redis import RedisStore
from support.redis_fleet import MASTER_PASSWORD, SentinelFleet

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

KEY = "session:abc"
TTL = 60.0
#: The default bound (local_cache_staleness).
WITHIN = 0.1


async def until(check: Callable[[], Awaitable[bool] | bool], *, limit: float = 5.0) -> float:
    """Seconds until ``check()`` holds (polled every 5 ms); fails after ``limit`` seconds."""
    started = time.monotonic()
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return time.monotonic() - started
        if time.monotonic() - started > limit:
            raise AssertionError(f"not within {limit} s")
        await anyio.sleep(0.005)


async def gets(client: redis.asyncio.Redis) -> int:
    """GET commands the server has run (INFO commandstats)."""
    stats: dict[str, Any] = await client.info("commandstats")
    return int(stats.get("cmdstat_get", {}).get("calls", 0))


@pytest.fixture
def prefix() -> str:
    return f"local-{uuid.uuid4().hex[:8]}:"


@pytest.fixture
async def warm_store(redis_url: str, prefix: str) -> AsyncIterator[tuple[RedisStore, TrackedValues]]:
    """A store with a local cache that serves ``KEY`` (``b"v1"``) from the process."""
    store = RedisStore(redis_url, prefix=prefix, local_cache=100)
    assert store.local_cache is not None
    try:
        await store.set(KEY, b"v1", TTL)
        await warm(store)
        yield store, store.local_cache
    finally:
        await store.aclose()


async def warm(store: RedisStore, key: str = KEY) -> bytes | None:
    """Read ``key`` until the local cache serves it (listener up, first PONG, value kept)."""
    tracked = store.local_cache
    assert tracked is not None
    await store.get(key)  # (the first read starts the listener)
    await until(tracked.fresh)
    value = await store.get(key)  # kept now
    hits = tracked.hits
    if value is not None:
        assert await store.get(key) == value
        assert tracked.hits == hits + 1
    return value


async def test_a_kept_entry_is_read_without_a_get(
    redis_url: str, admin: redis.asyncio.Redis, prefix: str
) -> None:
    store = RedisStore(redis_url, prefix=prefix, local_cache=100)
    try:
        await store.set(KEY, b"v1", TTL)
        assert await warm(store) == b"v1"
        before = await gets(admin)
        values = [await store.get(KEY) for _ in range(50)]
        assert await gets(admin) == before
        assert values == [b"v1"] * 50
    finally:
        await store.aclose()


async def test_without_local_cache_every_read_is_a_get(
    redis_url: str, admin: redis.asyncio.Redis, prefix: str
) -> None:
    store = RedisStore(redis_url, prefix=prefix)
    try:
        await store.set(KEY, b"v1", TTL)
        before = await gets(admin)
        for _ in range(10):
            assert await store.get(KEY) == b"v1"
        assert await gets(admin) == before + 10
        assert store.local_cache is None
    finally:
        await store.aclose()


async def test_only_session_entries_are_kept(redis_url: str, admin: redis.asyncio.Redis, prefix: str) -> None:
    """Locks and markers are read from Redis every time (their readers poll them)."""
    store = RedisStore(redis_url, prefix=prefix, local_cache=100)
    try:
        await store.set("lock:abc", b"held", TTL)
        await warm(store)  # (an absent session entry: the listener is up)
        before = await gets(admin)
        for _ in range(5):
            assert await store.get("lock:abc") == b"held"
        assert await gets(admin) == before + 5
    finally:
        await store.aclose()


@pytest.mark.parametrize("change", ["set", "delete", "expire", "flush"])
async def test_a_change_made_elsewhere_is_seen_within_the_bound(
    redis_url: str, admin: redis.asyncio.Redis, prefix: str, change: str
) -> None:
    """Another instance's write or sign-out, a key's expiry, a FLUSHDB."""
    store = RedisStore(redis_url, prefix=prefix, local_cache=100)
    other = RedisStore(redis_url, prefix=prefix)
    try:
        await store.set(KEY, b"v1", TTL)
        await warm(store)
        if change == "set":
            await other.set(KEY, b"v2", TTL)
            expected: bytes | None = b"v2"
        elif change == "delete":
            await other.delete(KEY)
            expected = None
        elif change == "expire":
            await admin.pexpire(prefix + KEY, 20)
            await until(lambda: _gone(admin, prefix + KEY))
            expected = None
        else:
            await admin.flushdb()
            expected = None
        assert await until(lambda: _reads(store, expected)) < WITHIN
        assert await store.get(KEY) == expected
    finally:
        await store.aclose()
        await other.aclose()


async def _gone(admin: redis.asyncio.Redis, name: str) -> bool:
    return await admin.exists(name) == 0


async def _reads(store: RedisStore, expected: bytes | None) -> bool:
    return await store.get(KEY) == expected


async def test_own_writes_are_seen_at_once(warm_store: tuple[RedisStore, TrackedValues]) -> None:
    store, _ = warm_store
    await store.set(KEY, b"v2", TTL)
    assert await store.get(KEY) == b"v2"
    await store.delete(KEY)
    assert await store.get(KEY) is None


async def test_a_lost_listener_loses_no_change(
    warm_store: tuple[RedisStore, TrackedValues], admin: redis.asyncio.Redis, prefix: str
) -> None:
    """The listener's connection killed, a write while it is down: the new connection
    starts empty, so the write is read from Redis."""
    store, tracked = warm_store
    connections = tracked.connections
    await admin.client_kill_filter(_type="pubsub")
    await admin.set(prefix + KEY, b"v2")
    await until(lambda: tracked.connections > connections and tracked.fresh())
    assert await store.get(KEY) == b"v2"


async def test_no_value_is_served_while_redis_does_not_answer(
    warm_store: tuple[RedisStore, TrackedValues], admin: redis.asyncio.Redis
) -> None:
    """CLIENT PAUSE stops the PONGs: after the bound nothing kept is served (reads wait
    for Redis like any GET); when Redis answers again, the cache serves again."""
    store, tracked = warm_store
    await admin.execute_command("CLIENT", "PAUSE", 500, "ALL")  # type: ignore[no-untyped-call]
    stale_for = await until(lambda: not tracked.fresh(), limit=0.45)
    assert stale_for <= WITHIN + 0.05
    await until(tracked.fresh)
    assert await store.get(KEY) == b"v1"


async def test_a_redis_that_refuses_tracking_leaves_the_store_working(
    redis_url: str, admin: redis.asyncio.Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An ACL user without CLIENT: a warning, every read a GET, nothing kept."""
    user = f"notrack-{uuid.uuid4().hex[:6]}"
    await admin.execute_command("ACL", "SETUSER", user, "on", ">pw", "~*", "&*", "+@all", "-client")  # type: ignore[no-untyped-call]
    url = redis_url.replace("redis://", f"redis://{user}:pw@", 1)
    store = RedisStore(url, prefix=prefix, local_cache=100)
    tracked = store.local_cache
    assert tracked is not None
    try:
        await store.set(KEY, b"v1", TTL)
        before = await gets(admin)
        for _ in range(5):
            assert await store.get(KEY) == b"v1"
            await anyio.sleep(0.02)
        assert await gets(admin) == before + 5
        assert tracked.hits == 0 and len(tracked) == 0
        await until(lambda: "local cache off" in caplog.text)
    finally:
        await store.aclose()
        await admin.execute_command("ACL", "DELUSER", user)  # type: ignore[no-untyped-call]


async def test_after_a_sentinel_failover_writes_on_the_new_master_are_seen(
    redis_sentinel: SentinelFleet,
) -> None:
    await anyio.to_thread.run_sync(redis_sentinel.wait_settled)
    prefix = f"local-failover-{uuid.uuid4().hex[:8]}:"
    store = RedisStore(redis_sentinel.url(), prefix=prefix, local_cache=100)
    tracked = store.local_cache
    assert tracked is not None
    try:
        await store.set(KEY, b"v1", TTL)
        await warm(store)
        old = redis_sentinel.master_port()
        await anyio.to_thread.run_sync(redis_sentinel.failover)
        await anyio.to_thread.run_sync(redis_sentinel.wait_settled)
        new = redis_sentinel.master_port()
        assert new != old
        master = redis.asyncio.Redis(port=new, password=MASTER_PASSWORD)
        try:
            await master.set(prefix + KEY, b"v2")
        finally:
            await master.aclose()
        await until(lambda: _reads(store, b"v2"), limit=10.0)
        assert await store.get(KEY) == b"v2"
    finally:
        await store.aclose()
