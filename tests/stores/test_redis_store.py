"""What only ``RedisStore`` does: Redis expiry, key prefixes, URLs with a password and
TLS, who closes the connection pool, and an import that does not need redis-py."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import redis.asyncio
from redis.exceptions import AuthenticationError
from redis.exceptions import ConnectionError as RedisConnectionError
from starlette.applications import Starlette
from starlette.types import Message

from logto_asgi import ConfigurationError, LogtoConfig, LogtoMiddleware, RedisStore
from logto_asgi.sessions.redis import RedisStoreWriteNotAcknowledged
from support.provider import OidcTestProvider
from support.redis_server import RedisServer, make_tls_files, start_redis

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

PASSWORD = "s3cret-pass/word"  # a '/' shows that credentials are URL-decoded


@pytest.fixture
def secured_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A second Redis that wants a password and speaks only TLS."""
    server = start_redis(tmp_path, args=["--requirepass", PASSWORD], tls=make_tls_files(tmp_path))
    try:
        yield server
    finally:
        server.stop()


async def connections_named(admin: redis.asyncio.Redis, name: str) -> int:
    clients: list[dict[str, Any]] = await admin.client_list()
    return sum(1 for c in clients if c.get("name") == name)


async def test_set_expires_with_ttl_in_milliseconds(
    redis_store: RedisStore, admin: redis.asyncio.Redis
) -> None:
    """set and add write PX expiries; set_add keeps the set for its TTL."""
    await redis_store.set("k", b"v", 12.5)
    await redis_store.add("lock", b"t", 0.0001)  # rounds up to 1 ms, never 0 (refused by Redis)
    await redis_store.set_add("index", "m", 60)
    pttl = await admin.pttl(f"{redis_store.prefix}k")
    assert 12_000 < pttl <= 12_500
    assert 59_000 < await admin.pttl(f"{redis_store.prefix}index") <= 60_000


async def test_keys_carry_the_prefix(redis_url: str, admin: redis.asyncio.Redis) -> None:
    """Two stores with different prefixes share one Redis without seeing each other."""
    one, two = RedisStore(redis_url, prefix="app-one:"), RedisStore(redis_url, prefix="app-two:")
    try:
        await one.set("session:x", b"1", 60)
        assert await two.get("session:x") is None
        assert await admin.get("app-one:session:x") == b"1"
        await two.delete("session:x")
        assert await one.get("session:x") == b"1"
    finally:
        await one.delete("session:x")
        await one.aclose()
        await two.aclose()


async def test_decode_responses_client_still_gives_bytes(redis_url: str) -> None:
    """A user's client with decode_responses=True works: values come back as bytes."""
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    store = RedisStore(client=client, prefix=f"t-{uuid.uuid4().hex[:6]}:")
    try:
        await store.set("k", b"sealed.value", 60)
        assert await store.get("k") == b"sealed.value"
        await store.set_add("s", "m", 60)
        assert await store.set_pop_all("s") == ["m"]
    finally:
        await client.aclose()


async def test_aclose_closes_only_a_pool_it_created(redis_url: str, admin: redis.asyncio.Redis) -> None:
    """A store built from a URL closes its connections; a client passed in stays open."""
    name = f"owned-{uuid.uuid4().hex[:8]}"
    owned = RedisStore(f"{redis_url}?client_name={name}")
    await owned.get("x")
    assert await connections_named(admin, name) == 1
    await owned.aclose()
    assert await connections_named(admin, name) == 0

    client = redis.asyncio.Redis.from_url(redis_url)
    shared = RedisStore(client=client)
    await shared.get("x")
    await shared.aclose()
    try:
        assert await client.ping()  # still usable by its owner
    finally:
        await client.aclose()


async def test_lifespan_shutdown_closes_the_pool(
    provider: OidcTestProvider, redis_url: str, admin: redis.asyncio.Redis
) -> None:
    """LogtoMiddleware's lifespan shutdown closes the store's connection pool."""
    name = f"lifespan-{uuid.uuid4().hex[:8]}"
    store = RedisStore(f"{redis_url}?client_name={name}")
    config = LogtoConfig(endpoint=provider.url, app_id="a", cookie_secret="c" * 32, store=store)
    app = LogtoMiddleware(Starlette(), config=config)
    await store.get("warm-up")
    assert await connections_named(admin, name) == 1
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return inbox.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert await connections_named(admin, name) == 0


async def test_url_with_password(tmp_path: Path) -> None:
    """redis://:password@host works; a wrong password is refused by Redis."""
    server = start_redis(tmp_path, args=["--requirepass", PASSWORD])
    try:
        quoted = PASSWORD.replace("/", "%2F")
        store = RedisStore(f"redis://:{quoted}@{server.host}:{server.port}/0")
        await store.set("k", b"v", 60)
        assert await store.get("k") == b"v"
        await store.aclose()
        wrong = RedisStore(f"redis://:nope@{server.host}:{server.port}/0")
        with pytest.raises(AuthenticationError):
            await wrong.get("k")
        await wrong.aclose()
    finally:
        server.stop()


async def test_rediss_url_with_tls_and_password(secured_redis: RedisServer) -> None:
    """rediss:// with a password and the server's CA: the store works over TLS."""
    assert secured_redis.tls is not None
    quoted = PASSWORD.replace("/", "%2F")
    url = f"rediss://default:{quoted}@{secured_redis.host}:{secured_redis.port}/0?ssl_ca_certs={secured_redis.tls.ca}"
    store = RedisStore(url)
    try:
        assert await store.add("k", b"v", 60)
        assert await store.get("k") == b"v"
        await store.delete_if("k", b"v")
        assert await store.get("k") is None
    finally:
        await store.aclose()
    plain = RedisStore(f"redis://:{quoted}@{secured_redis.host}:{secured_redis.port}/0")
    with pytest.raises(RedisConnectionError):  # plain text to a TLS-only port
        await plain.get("k")
    await plain.aclose()


async def test_delete_if_survives_a_flushed_script_cache(
    redis_store: RedisStore, admin: redis.asyncio.Redis
) -> None:
    """After SCRIPT FLUSH (as after a Redis restart) the compare-and-delete script reloads."""
    await redis_store.set("lock", b"mine", 60)
    await admin.script_flush()
    await redis_store.delete_if("lock", b"mine")
    assert await redis_store.get("lock") is None


def test_needs_exactly_one_of_url_or_client() -> None:
    """RedisStore() and RedisStore(url, client=…) fail with a message naming both ways."""
    with pytest.raises(ConfigurationError, match=r"url=.*client="):
        RedisStore()
    client = redis.asyncio.Redis()
    with pytest.raises(ConfigurationError, match="either"):
        RedisStore("redis://localhost", client=client)


def test_refuses_a_non_redis_url() -> None:
    """An http:// URL (a common slip) fails at construction."""
    with pytest.raises(ConfigurationError, match="redis://"):
        RedisStore("http://localhost:6379")


def test_repr_shows_where_not_secrets() -> None:
    """repr names host, port, db and prefix, never the password."""
    text = repr(RedisStore("redis://:hunter2-secret@cache.internal:6380/3", prefix="shop:"))
    assert "cache.internal:6380" in text and "db=3" in text and "shop:" in text
    assert "hunter2" not in text


def test_import_without_redis_py() -> None:
    """logto_asgi imports without redis-py; RedisStore then says which extra to install."""
    code = (
        "import sys; sys.modules['redis'] = None\n"
        "import logto_asgi\n"
        "try:\n"
        "    logto_asgi.RedisStore\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'logto-asgi[redis]'" in result.stdout


async def wait_calls(client: redis.asyncio.Redis) -> int:
    """How many WAIT commands this Redis has run (INFO commandstats)."""
    stats: dict[str, Any] = await client.info("commandstats")
    return int(stats.get("cmdstat_wait", {}).get("calls", 0))


async def test_single_redis_without_replica_sends_no_wait(
    redis_store: RedisStore, admin: redis.asyncio.Redis
) -> None:
    """On one Redis with no replica, 'auto' sends no WAIT (INFO replication says so)."""
    before = await wait_calls(admin)
    await redis_store.set("k", b"v", 60)
    assert await redis_store.add("lock", b"t", 60)
    await redis_store.set_add("index", "m", 60)
    await redis_store.delete("k")
    assert await wait_calls(admin) == before


async def test_single_redis_with_a_replica_waits_and_rechecks(tmp_path: Path) -> None:
    """'auto' WAITs for a replica it saw; once it is gone one write fails, then writes go on."""
    (tmp_path / "m").mkdir()
    (tmp_path / "r").mkdir()
    master = start_redis(tmp_path / "m", args=["--repl-diskless-sync-delay", "0"])
    # No AOF on the replica: one being rewritten after the sync makes it ignore SIGTERM.
    replica = start_redis(
        tmp_path / "r", args=["--replicaof", master.host, str(master.port), "--appendonly", "no"]
    )
    admin = redis.asyncio.Redis.from_url(master.url)
    store = RedisStore(master.url, wait_timeout=0.1)
    try:
        for _ in range(100):  # until the replica acknowledges writes
            async with admin.pipeline(transaction=False) as pipe:
                pipe.set("ready", 1)
                pipe.wait(1, 50)
                if (await pipe.execute())[1] == 1:
                    break
        before = await wait_calls(admin)
        await store.set("k", b"v", 60)
        assert await wait_calls(admin) == before + 1
        replica.stop()
        with pytest.raises(RedisStoreWriteNotAcknowledged, match="0 of 1"):
            await store.set("k", b"v2", 60)
        await store.set("k", b"v3", 60)  # asked INFO again: no replica, no WAIT
        assert await wait_calls(admin) == before + 2
        assert await store.get("k") == b"v3"
    finally:
        await store.aclose()
        await admin.aclose()
        replica.stop()
        master.stop()


async def test_explicit_wait_replicas_overrides_auto(redis_url: str) -> None:
    """wait_replicas=1 on a Redis without replica: every write fails, reads still work."""
    store = RedisStore(redis_url, prefix=f"w-{uuid.uuid4().hex[:6]}:", wait_replicas=1, wait_timeout=0.05)
    try:
        with pytest.raises(RedisStoreWriteNotAcknowledged):
            await store.set("k", b"v", 60)
        assert await store.get("k") == b"v"  # written on the master, not confirmed
    finally:
        await store.aclose()


def test_repr_never_raises() -> None:
    """A client whose pool repr does not know still gives a repr, without credentials."""
    client = redis.asyncio.Redis.from_url("redis://:hunter2@cache.internal:6380/3")
    store = RedisStore(client=client)
    client.connection_pool = SimpleNamespace()  # type: ignore[assignment]
    assert repr(store) == "RedisStore(<Redis>, prefix='logto:')"
