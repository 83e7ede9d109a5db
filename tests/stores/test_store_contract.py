"""One contract for every ``SessionStore``: the built-in ``MemoryStore``, ``RedisStore`` and
``PostgresStore``, and a store a user would write with only the protocol's ``get``/``set``/``delete``.

The coordination operations of ``sessions/_ops.py``'s ``StoreOps`` (``add``, ``delete_if``, ``set_add``,
``set_pop_all``) use a store's atomic versions when it has them and a get/set fallback
otherwise; both paths must behave the same.

Time: the stores that take a clock (memory, user, postgres) get a fake one that the TTL
tests move forward; Redis keeps its TTLs on the server, so for it they wait for real.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import pytest

from logto_asgi import ConfigurationError, LogtoConfig, MemoryStore, SessionStore
from logto_asgi._hoststore import HostStore
from logto_asgi.sessions._ops import StoreOps
from logto_asgi.sessions.postgres import PostgresStore
from logto_asgi.sessions.redis import RedisStore

pytestmark = pytest.mark.anyio

TTL = 30.0
SHORT = 0.2  # long enough for a round trip to Redis, short enough to wait out


class Clock:
    """The time the stores under test read: moved by the tests, or real for Redis."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0
        self.real = False

    def __call__(self) -> float:
        return self.now

    async def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass: move the fake clock, or sleep when time is real."""
        if self.real:
            await anyio.sleep(seconds)
        else:
            self.now += seconds


class DictStore:
    """What a user writes for their own backend: the protocol's three methods, nothing more."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.data: dict[str, tuple[float, bytes]] = {}
        self.clock = clock

    async def get(self, key: str) -> bytes | None:
        entry = self.data.get(key)
        if entry is None or entry[0] <= self.clock():
            self.data.pop(key, None)
            return None
        return entry[1]

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        self.data[key] = (self.clock() + ttl, value)

    async def delete(self, key: str) -> None:
        self.data.pop(key, None)


@pytest.fixture
def clock() -> Clock:
    """The clock of the store under test (the same instance as the ``store`` fixture's)."""
    return Clock()


@pytest.fixture(
    params=[
        "memory",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("postgres", marks=pytest.mark.postgres),
        "host",
        "user",
    ]
)
async def store(request: pytest.FixtureRequest, clock: Clock, tmp_path: Path) -> AsyncIterator[SessionStore]:
    """Each store under test, empty."""
    if request.param == "memory":
        yield MemoryStore(clock=clock)
    elif request.param == "redis":
        # Asked for here, not in the signature, so the other stores run without Redis.
        clock.real = True
        redis = RedisStore(request.getfixturevalue("redis_url"), prefix=f"contract-{uuid.uuid4().hex[:8]}:")
        try:
            yield redis
        finally:
            await redis.aclose()
    elif request.param == "postgres":
        # A table of its own per test: the tables of other tests never interfere.
        dsn = request.getfixturevalue("postgres_dsn")
        postgres = PostgresStore(dsn, table=f"contract_{uuid.uuid4().hex[:12]}", clock=clock)
        try:
            yield postgres
        finally:
            await postgres.aclose()
    elif request.param == "host":
        host = HostStore(tmp_path / "host" / "store.db", clock=clock)
        try:
            yield host
        finally:
            await host.aclose()
    else:
        yield DictStore(clock=clock)


async def test_is_a_session_store(store: SessionStore) -> None:
    """The store satisfies the protocol and LogtoConfig accepts it."""
    assert isinstance(store, SessionStore)
    config = LogtoConfig(endpoint="https://id.example.com", app_id="a", cookie_secret="s" * 32, store=store)
    assert config.store is store


async def test_missing_key_is_none(store: SessionStore) -> None:
    """An unknown key reads as None and deleting it is not an error."""
    assert await store.get("nothing-here") is None
    await store.delete("nothing-here")
    assert await store.get("nothing-here") is None


async def test_set_get_delete_round_trip(store: SessionStore) -> None:
    """Every byte value comes back unchanged, and delete forgets it."""
    value = bytes(range(256)) * 4
    await store.set("k", value, TTL)
    assert await store.get("k") == value
    await store.delete("k")
    assert await store.get("k") is None


async def test_keys_are_independent(store: SessionStore) -> None:
    """Writing or deleting one key leaves the others alone."""
    await store.set("a", b"1", TTL)
    await store.set("b", b"2", TTL)
    await store.delete("a")
    assert await store.get("a") is None
    assert await store.get("b") == b"2"


async def test_overwrite_replaces_value_and_ttl(store: SessionStore, clock: Clock) -> None:
    """A second set replaces the value and restarts its lifetime."""
    await store.set("k", b"old", SHORT)
    await store.set("k", b"new", TTL)
    await clock.advance(SHORT + 0.1)
    assert await store.get("k") == b"new"


async def test_entry_expires_after_ttl(store: SessionStore, clock: Clock) -> None:
    """An entry is gone once its TTL has passed, and not before."""
    await store.set("k", b"v", SHORT)
    assert await store.get("k") == b"v"
    await clock.advance(SHORT + 0.1)
    assert await store.get("k") is None


async def test_add_only_when_absent(store: SessionStore, clock: Clock) -> None:
    """add stores the first value, refuses the second, and works again after expiry."""
    assert await StoreOps(store).add("lock", b"first", SHORT)
    assert not await StoreOps(store).add("lock", b"second", SHORT)
    assert await store.get("lock") == b"first"
    await clock.advance(SHORT + 0.1)
    assert await StoreOps(store).add("lock", b"third", TTL)
    assert await store.get("lock") == b"third"


async def test_concurrent_add_has_one_winner(store: SessionStore) -> None:
    """Fifty concurrent adds of one key: exactly one reports that it stored its value."""
    wins: list[int] = []

    async def contend(i: int) -> None:
        if await StoreOps(store).add("lock", str(i).encode(), TTL):
            wins.append(i)

    async with anyio.create_task_group() as tg:
        for i in range(50):
            tg.start_soon(contend, i)
    assert len(wins) == 1
    assert await store.get("lock") == str(wins[0]).encode()


async def test_delete_if_only_with_the_owners_value(store: SessionStore) -> None:
    """delete_if leaves a key holding another value and deletes it with the right one."""
    await store.set("lock", b"mine", TTL)
    await StoreOps(store).delete_if("lock", b"someone-else")
    assert await store.get("lock") == b"mine"
    await StoreOps(store).delete_if("lock", b"mine")
    assert await store.get("lock") is None
    await StoreOps(store).delete_if("lock", b"mine")  # absent: nothing to do


async def test_set_add_and_pop_all(store: SessionStore) -> None:
    """Members are kept once each; pop_all returns them all and empties the set."""
    for member in ("s1", "s2", "s1", "s3"):
        await StoreOps(store).set_add("index", member, TTL)
    assert sorted(await StoreOps(store).set_pop_all("index")) == ["s1", "s2", "s3"]
    assert await StoreOps(store).set_pop_all("index") == []
    assert await StoreOps(store).set_pop_all("never-written") == []


async def test_sets_expire_and_stay_apart(store: SessionStore, clock: Clock) -> None:
    """A set expires with its TTL; two sets never mix."""
    await StoreOps(store).set_add("short", "a", SHORT)
    await StoreOps(store).set_add("long", "b", TTL)
    await clock.advance(SHORT + 0.1)
    assert await StoreOps(store).set_pop_all("short") == []
    assert await StoreOps(store).set_pop_all("long") == ["b"]


async def test_set_add_renews_the_set_but_never_revives_it(store: SessionStore, clock: Clock) -> None:
    """Adding a member keeps the whole live set for the new TTL; an expired set starts empty."""
    await StoreOps(store).set_add("renewed", "a", SHORT)
    await StoreOps(store).set_add("renewed", "b", TTL)
    await StoreOps(store).set_add("lapsed", "x", SHORT)
    await clock.advance(SHORT + 0.1)
    await StoreOps(store).set_add("lapsed", "y", TTL)
    assert sorted(await StoreOps(store).set_pop_all("renewed")) == ["a", "b"]
    assert await StoreOps(store).set_pop_all("lapsed") == ["y"]


async def test_memory_store_evicts_least_recently_used() -> None:
    """Beyond max_entries the least recently used entry goes; reading an entry keeps it."""
    store = MemoryStore(max_entries=3)
    for key in "abc":
        await store.set(key, key.encode(), TTL)
    assert await store.get("a") == b"a"  # now b is the least recently used
    await store.set("d", b"d", TTL)
    assert len(store) == 3
    assert await store.get("b") is None
    assert [await store.get(k) for k in "acd"] == [b"a", b"c", b"d"]


async def test_memory_store_expiry_follows_its_clock() -> None:
    """MemoryStore reads time from its injectable clock."""
    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    await store.set("k", b"v", 10)
    now[0] += 9.9
    assert await store.get("k") == b"v"
    now[0] += 0.2
    assert await store.get("k") is None
    assert len(store) == 0


def test_memory_store_refuses_zero_entries() -> None:
    """max_entries below 1 fails at construction, naming the option."""
    with pytest.raises(ConfigurationError, match="max_entries"):
        MemoryStore(max_entries=0)
