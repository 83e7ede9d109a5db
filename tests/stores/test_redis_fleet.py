"""``RedisStore`` on real fleets: a Redis Cluster (3 masters, 1 replica each) and a
Sentinel-managed master with its replica; acknowledged writes (``WAIT``) across a
``SENTINEL FAILOVER``; URL forms and a ``repr`` that never raises nor shows a password."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
import redis
import redis.asyncio
from redis.asyncio.connection import SSLConnection
from redis.asyncio.sentinel import Sentinel, SentinelManagedSSLConnection

from logto_asgi import ConfigurationError, StoreUnavailable
from logto_asgi.sessions._ops import StoreOps
from logto_asgi.sessions.redis import RedisStore, RedisStoreWriteNotAcknowledged
from support.redis_fleet import (
    CLUSTER_PASSWORD,
    MASTER_PASSWORD,
    SENTINEL_PASSWORD,
    SERVICE,
    ClusterFleet,
    SentinelFleet,
)

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

TTL = 30.0
SHORT = 0.2
KEYS = [f"session:{i}" for i in range(12)]  # spread over the cluster's three shards


@pytest.fixture(params=["cluster", "sentinel"])
async def fleet_store(request: pytest.FixtureRequest) -> AsyncIterator[RedisStore]:
    """A store with a prefix of its own, through the cluster URL or the sentinel URL."""
    if request.param == "cluster":
        url = request.getfixturevalue("redis_cluster").url
    else:
        url = request.getfixturevalue("redis_sentinel").url()
    store = RedisStore(url, prefix=f"fleet-{uuid.uuid4().hex[:8]}:")
    try:
        yield store
    finally:
        await store.aclose()


async def wait_calls(store: RedisStore, name: str) -> int:
    """How many WAIT commands the master holding ``name`` has run (INFO commandstats)."""
    client = store.client
    if isinstance(client, redis.asyncio.RedisCluster):
        await client.initialize()
        node = client.get_node_from_key(name)
        stats: dict[str, Any] = await client.info("commandstats", target_nodes=node)
    else:
        stats = await client.info("commandstats")
    return int(stats.get("cmdstat_wait", {}).get("calls", 0))


async def test_round_trip_and_ttl_on_every_shard(fleet_store: RedisStore) -> None:
    """set/get/delete work on keys of every shard, with PX expiries in milliseconds."""
    client = fleet_store.client
    if isinstance(client, redis.asyncio.RedisCluster):
        await client.initialize()
        owners = {client.get_node_from_key(fleet_store.prefix + k).name for k in KEYS}  # type: ignore[union-attr]
        assert len(owners) == 3
    for i, key in enumerate(KEYS):
        await fleet_store.set(key, bytes([i]) * 300, 12.5)
    assert [await fleet_store.get(k) for k in KEYS] == [bytes([i]) * 300 for i in range(len(KEYS))]
    assert 12_000 < await client.pttl(fleet_store.prefix + KEYS[0]) <= 12_500
    await fleet_store.set(KEYS[0], b"new", TTL)
    assert await fleet_store.get(KEYS[0]) == b"new"
    for key in KEYS:
        await fleet_store.delete(key)
    assert [await fleet_store.get(k) for k in KEYS] == [None] * len(KEYS)
    await fleet_store.delete("never-written")


async def test_entries_and_sets_expire(fleet_store: RedisStore) -> None:
    """A value and a set are gone once their TTL has passed."""
    await fleet_store.set("short", b"v", SHORT)
    await fleet_store.set_add("index", "m", SHORT)
    assert await fleet_store.get("short") == b"v"
    await anyio.sleep(SHORT + 0.1)
    assert await fleet_store.get("short") is None
    assert await fleet_store.set_pop_all("index") == []


async def test_add_and_delete_if(fleet_store: RedisStore) -> None:
    """add stores only when absent; delete_if deletes only with the owner's value."""
    for key in KEYS[:6]:
        assert await fleet_store.add(key, b"first", TTL)
        assert not await fleet_store.add(key, b"second", TTL)
        await fleet_store.delete_if(key, b"someone-else")
        assert await fleet_store.get(key) == b"first"
        await fleet_store.delete_if(key, b"first")
        assert await fleet_store.get(key) is None


async def test_concurrent_add_has_one_winner(fleet_store: RedisStore) -> None:
    """Fifty concurrent adds of one key: exactly one stores its value."""
    wins: list[int] = []

    async def contend(i: int) -> None:
        if await fleet_store.add("lock", str(i).encode(), TTL):
            wins.append(i)

    async with anyio.create_task_group() as tg:
        for i in range(50):
            tg.start_soon(contend, i)
    assert len(wins) == 1
    assert await fleet_store.get("lock") == str(wins[0]).encode()


async def test_set_add_and_pop_all(fleet_store: RedisStore) -> None:
    """Sets on several shards keep members once, keep their TTL, and pop whole."""
    for key in KEYS[:4]:
        for member in ("s1", "s2", "s1", "s3"):
            await fleet_store.set_add(key, member, 60)
        assert 59_000 < await fleet_store.client.pttl(fleet_store.prefix + key) <= 60_000
        assert await fleet_store.set_pop_all(key) == ["s1", "s2", "s3"]
        assert await fleet_store.set_pop_all(key) == []


async def test_writes_wait_for_a_replica_reads_do_not(fleet_store: RedisStore) -> None:
    """Each write runs WAIT on the master that holds the key; reads do not."""
    for key in KEYS[:6]:
        name = fleet_store.prefix + key
        before = await wait_calls(fleet_store, name)
        await fleet_store.set(key, b"v", TTL)
        await fleet_store.add(key + ":lock", b"t", TTL)  # same name, another slot: a second WAIT
        assert await fleet_store.get(key) == b"v"
        after = await wait_calls(fleet_store, name)
        assert after - before in (1, 2)  # the lock may live on the same master


async def test_missing_ack_is_an_error_that_store_ops_map_to_503(fleet_store: RedisStore) -> None:
    """Asking for more replicas than exist fails the write, and StoreOps answers 503."""
    strict = RedisStore(
        client=fleet_store.client, prefix=fleet_store.prefix, wait_replicas=2, wait_timeout=0.05
    )
    with pytest.raises(RedisStoreWriteNotAcknowledged, match="1 of 2 replica"):
        await strict.set("k", b"v", TTL)
    with pytest.raises(StoreUnavailable):
        await StoreOps(strict).set("k", b"v", TTL)
    with pytest.raises(StoreUnavailable):
        await StoreOps(strict).set_add("index", "m", TTL)
    assert not await StoreOps(strict).add("k", b"other", TTL)  # stored nothing: nothing to confirm


async def test_cluster_write_follows_a_moved_redirect(redis_cluster: ClusterFleet) -> None:
    """With a stale slot map (as after resharding) a write is redirected and WAITs on the key's master."""
    store = RedisStore(redis_cluster.url, prefix=f"moved-{uuid.uuid4().hex[:8]}:", wait_replicas=1)
    client = store.client
    assert isinstance(client, redis.asyncio.RedisCluster)
    try:
        await client.initialize()
        name = store.prefix + "k"
        owner = client.get_node_from_key(name)
        before = await wait_calls(store, name)
        client.nodes_manager.slots_cache[client.keyslot(name)] = [
            next(n for n in client.get_primaries() if n != owner)
        ]
        await store.set("k", b"v", TTL)
        assert client.get_node_from_key(name) == owner  # learned again from the MOVED
        assert await wait_calls(store, name) == before + 1
        assert await store.get("k") == b"v"
    finally:
        await store.aclose()


@dataclass
class Run:
    """What one writer saw across a failover."""

    attempted: int = 0
    acknowledged: list[str] = field(default_factory=list)
    errored: int = 0
    lost: int = 0
    first_error: float | None = None
    last_error: float | None = None


async def write_until(store: RedisStore, run: Run, tag: str, done: anyio.Event, deadline: float) -> None:
    """Write distinct keys (bounded: 2,000 writes, the deadline) until ``done``, recording acks."""
    while run.attempted < 2000 and time.monotonic() < deadline and not done.is_set():
        key = f"{tag}-{run.attempted}"
        run.attempted += 1
        try:
            await store.set(key, key.encode(), 300)
            run.acknowledged.append(key)
        except Exception:
            run.errored += 1
            run.last_error = time.monotonic()
            run.first_error = run.first_error or run.last_error
        await anyio.sleep(0.01)


def count_lost(fleet: SentinelFleet, prefix: str, keys: list[str]) -> int:
    """How many of ``keys`` the (new) master does not have."""
    with redis.Redis(port=fleet.master_port(), password=MASTER_PASSWORD) as master:
        values = master.mget([prefix + k for k in keys]) if keys else []
    return sum(1 for k, v in zip(keys, values, strict=True) if v != k.encode())


async def test_sentinel_failover_loses_no_acknowledged_write(redis_sentinel: SentinelFleet) -> None:
    """Across SENTINEL FAILOVER every acknowledged write is on the new master; without WAIT some are lost."""
    await anyio.to_thread.run_sync(redis_sentinel.wait_settled)
    old_master = redis_sentinel.master_port()
    prefix = f"failover-{uuid.uuid4().hex[:8]}:"
    waiting = RedisStore(redis_sentinel.url(), prefix=prefix)
    unsafe = RedisStore(redis_sentinel.url(), prefix=prefix, wait_replicas=0)
    with_wait, without_wait, done = Run(), Run(), anyio.Event()
    deadline = time.monotonic() + 30.0
    switch: dict[str, float] = {}

    async def fail_over() -> None:
        await anyio.sleep(0.5)  # both writers are under way
        switch["start"] = time.monotonic()
        await anyio.to_thread.run_sync(redis_sentinel.failover)
        await anyio.to_thread.run_sync(redis_sentinel.wait_settled)
        switch["settled"] = time.monotonic()
        await anyio.sleep(1.0)  # writes that reach the new master
        done.set()

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(fail_over)
            tg.start_soon(write_until, waiting, with_wait, "wait", done, deadline)
            tg.start_soon(write_until, unsafe, without_wait, "nowait", done, deadline)
    finally:
        await waiting.aclose()
        await unsafe.aclose()
    with_wait.lost = count_lost(redis_sentinel, prefix, with_wait.acknowledged)
    without_wait.lost = count_lost(redis_sentinel, prefix, without_wait.acknowledged)
    for name, run in (("WAIT (auto)", with_wait), ("wait_replicas=0", without_wait)):
        outage = (run.last_error or 0) - (run.first_error or 0)
        print(
            f"\n{name}: attempted={run.attempted} acknowledged={len(run.acknowledged)} "
            f"errored={run.errored} lost={run.lost} errors-for={outage:.1f}s"
        )
    print(f"switch-over (FAILOVER to settled fleet): {switch['settled'] - switch['start']:.1f}s")
    assert redis_sentinel.master_port() != old_master
    assert with_wait.lost == 0
    assert with_wait.acknowledged[-1] == f"wait-{with_wait.attempted - 1}"  # the new master takes writes


async def test_repr_hides_passwords(redis_cluster: ClusterFleet, redis_sentinel: SentinelFleet) -> None:
    """repr names where the store writes for URL, cluster and sentinel stores, never a password."""
    stores = [
        RedisStore("redis://:hunter2@cache.internal:6380/3"),
        RedisStore(redis_cluster.url),
        RedisStore(redis_sentinel.url()),
        RedisStore("rediss+sentinel://u:hunter2@s1,s2:5000/mymaster?sentinel_password=hunter3"),
        RedisStore(
            client=redis.asyncio.RedisCluster(
                "127.0.0.1", redis_cluster.nodes[0].port, password=CLUSTER_PASSWORD
            )
        ),
        RedisStore(client=Sentinel([("127.0.0.1", 1)]).master_for(SERVICE, password="hunter2")),  # type: ignore[no-untyped-call]
    ]
    texts = [repr(s) for s in stores]
    for text in texts:
        for secret in ("hunter", CLUSTER_PASSWORD, MASTER_PASSWORD, SENTINEL_PASSWORD, "pass%2F"):
            assert secret not in text
    assert "'cache.internal:6380', db=3" in texts[0]
    assert f"cluster='127.0.0.1:{redis_cluster.nodes[0].port}," in texts[1]
    assert (
        f"sentinel='127.0.0.1:{redis_sentinel.sentinels[0].port}," in texts[2]
        and "service='logto'" in texts[2]
    )
    assert "sentinel='s1:26379,s2:5000', service='mymaster', db=0" in texts[3]
    assert f"127.0.0.1:{redis_cluster.nodes[0].port}" in texts[4]
    pool: Any = stores[5].client.connection_pool  # type: ignore[union-attr]
    del pool.sentinel_manager  # a shape repr does not know
    assert repr(stores[5]).startswith("RedisStore(<Redis>")
    for store in stores:
        await store.aclose()
    await stores[4].client.aclose()
    await stores[5].client.aclose()


def test_fleet_urls_carry_credentials_and_tls() -> None:
    """Sentinel credentials go to sentinels, the master's to the master; rediss+ means TLS."""
    store = RedisStore("rediss+sentinel://app:m%2Fpw@[::1]:26380,s2/mymaster/2?sentinel_password=s%2Fpw")
    assert isinstance(store.client, redis.asyncio.Redis)
    pool = store.client.connection_pool
    assert pool.connection_class is SentinelManagedSSLConnection
    assert (pool.connection_kwargs["username"], pool.connection_kwargs["password"]) == ("app", "m/pw")
    assert pool.connection_kwargs["db"] == 2
    sentinels = [s.connection_pool.connection_kwargs for s in pool.sentinel_manager.sentinels]  # type: ignore[attr-defined]
    assert [(s["host"], s["port"], s["password"]) for s in sentinels] == [
        ("::1", 26380, "s/pw"),
        ("s2", 26379, "s/pw"),
    ]
    assert all(s.connection_pool.connection_class is SSLConnection for s in pool.sentinel_manager.sentinels)  # type: ignore[attr-defined]
    cluster = RedisStore("rediss+cluster://:pw@h1:7000,h2?ssl_cert_reqs=none").client
    assert isinstance(cluster, redis.asyncio.RedisCluster)
    assert cluster.connection_kwargs["connection_class"] is SSLConnection
    assert [(n.host, n.port) for n in cluster.startup_nodes] == [("h1", 7000), ("h2", 6379)]


@pytest.mark.parametrize(
    ("url", "kwargs", "field"),
    [
        ("redis+sentinel://s1:26379", {}, "store"),  # no service name
        ("redis+sentinel://s1:26379/mymaster/x", {}, "store"),
        ("redis+cluster://h1:7000/3", {}, "store"),  # a cluster has db 0 only
        ("redis+cluster://h1:port", {}, "store"),
        ("redis+cluster://", {}, "store"),
        ("redis+cluster://h1", {"wait_replicas": -1}, "wait_replicas"),
        ("redis+cluster://h1", {"wait_timeout": 0}, "wait_timeout"),
    ],
)
def test_bad_fleet_settings_fail_at_construction(url: str, kwargs: dict[str, Any], field: str) -> None:
    """A malformed fleet URL or WAIT setting fails at construction, naming the option."""
    with pytest.raises(ConfigurationError) as caught:
        RedisStore(url, **kwargs)
    assert caught.value.field == field
