"""``PostgresStore`` against a real PostgreSQL, beyond the shared store contract: two
instances (two pools, as two hosts would have) racing, TTLs and the purge moved by the
store's clock, an unreachable or stopped database, timeouts, and what ``repr`` shows."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import psycopg
import pytest
from psycopg import sql

import logto_asgi
import logto_asgi.sessions
from logto_asgi import ConfigurationError, StoreUnavailable
from logto_asgi.sessions._ops import StoreOps
from logto_asgi.sessions.base import AtomicStore, ClosableStore, SessionStore
from logto_asgi.sessions.postgres import PostgresStore

if TYPE_CHECKING:  # imported for real by pytest_plugins (before it, pytest could not rewrite it)
    from support.postgres_server import PostgresServer

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

TTL = 30.0
PROMPT = 10.0  # generous: an unreachable database must answer in seconds, not minutes


class FakeClock:
    """Epoch seconds that only move when a test says so."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _table() -> str:
    return f"pg_{uuid.uuid4().hex[:12]}"


async def _connect(dsn: str) -> psycopg.AsyncConnection[tuple[object, ...]]:
    return await psycopg.AsyncConnection.connect(dsn, autocommit=True)


async def _rows(dsn: str, table: str) -> int:
    """How many rows a table holds, expired or not."""
    async with await _connect(dsn) as conn:
        cur = await conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        row = await cur.fetchone()
    assert row is not None
    return int(str(row[0]))


@asynccontextmanager
async def _store(dsn: str, **options: Any) -> AsyncIterator[PostgresStore]:
    store = PostgresStore(dsn, **options)
    try:
        yield store
    finally:
        await store.aclose()


@pytest.fixture
async def store(postgres_dsn: str) -> AsyncIterator[PostgresStore]:
    """A store on a table of its own."""
    async with _store(postgres_dsn, table=_table()) as store:
        yield store


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A loopback port that accepts TCP connections and never answers (a hung host)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_offers_every_protocol(store: PostgresStore) -> None:
    """The store is a SessionStore, an AtomicStore and a ClosableStore."""
    assert isinstance(store, SessionStore)
    assert isinstance(store, AtomicStore)
    assert isinstance(store, ClosableStore)
    assert StoreOps(store).atomic is store


async def test_tables_are_created_on_first_use(store: PostgresStore, postgres_dsn: str) -> None:
    """First use creates both tables (text keys, bytea values, float expiry) and expiry indexes."""
    await store.get("anything")
    async with await _connect(postgres_dsn) as conn:
        cur = await conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_name IN (%s, %s) ORDER BY table_name, ordinal_position",
            (store.table, f"{store.table}_members"),
        )
        columns = [tuple(row) for row in await cur.fetchall()]
        cur = await conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename IN (%s, %s) AND indexdef LIKE %s",
            (store.table, f"{store.table}_members", "%(expires_at)"),
        )
        indexes = sorted(str(row[0]) for row in await cur.fetchall())
    entries, members = store.table, f"{store.table}_members"
    assert columns == [
        (entries, "key", "text"),
        (entries, "value", "bytea"),
        (entries, "expires_at", "double precision"),
        (members, "key", "text"),
        (members, "member", "text"),
        (members, "expires_at", "double precision"),
    ]
    assert indexes == [f"{entries}_expires_idx", f"{members}_expires_idx"]


async def test_two_instances_racing_add_have_one_winner(postgres_dsn: str) -> None:
    """Fifty adds of one key split over two stores (two pools, a new table): one winner."""
    table = _table()
    wins: list[int] = []
    async with _store(postgres_dsn, table=table) as one, _store(postgres_dsn, table=table) as two:

        async def contend(i: int) -> None:
            if await (one if i % 2 else two).add("lock", str(i).encode(), TTL):
                wins.append(i)

        async with anyio.create_task_group() as tg:
            for i in range(50):
                tg.start_soon(contend, i)
        assert len(wins) == 1
        assert await two.get("lock") == await one.get("lock") == str(wins[0]).encode()


async def test_two_instances_popping_a_set_get_each_member_once(postgres_dsn: str) -> None:
    """Ten concurrent set_pop_all over two stores: every member is returned exactly once."""
    table = _table()
    members = sorted(f"session-{i:03}" for i in range(200))
    popped: list[str] = []
    async with _store(postgres_dsn, table=table) as one, _store(postgres_dsn, table=table) as two:
        async with anyio.create_task_group() as tg:
            for i, member in enumerate(members):
                tg.start_soon((one if i % 2 else two).set_add, "index", member, TTL)

        async def pop(store: PostgresStore) -> None:
            popped.extend(await store.set_pop_all("index"))

        async with anyio.create_task_group() as tg:
            for i in range(10):
                tg.start_soon(pop, one if i % 2 else two)
    assert sorted(popped) == members


async def test_adding_and_popping_at_once_loses_nothing(postgres_dsn: str) -> None:
    """set_add and set_pop_all racing over two stores: no deadlock, each member popped once."""
    clock, table = FakeClock(), _table()
    members = [f"s{i:03}" for i in range(150)]
    popped: list[str] = []
    options: dict[str, Any] = {"table": table, "clock": clock, "purge_interval": 0}  # purges race too
    async with _store(postgres_dsn, **options) as one, _store(postgres_dsn, **options) as two:

        async def add(i: int) -> None:
            await (one if i % 2 else two).set_add("index", members[i], TTL)
            if i % 10 == 0:
                popped.extend(await (two if i % 2 else one).set_pop_all("index"))

        async with anyio.create_task_group() as tg:
            for i in range(len(members)):
                tg.start_soon(add, i)
        popped.extend(await one.set_pop_all("index"))
    assert sorted(popped) == members


async def test_ttl_is_enforced_on_read_and_rows_are_purged_by_writes(postgres_dsn: str) -> None:
    """Expired rows read as absent at once, stay until a write purges them, at most once a minute."""
    clock, table = FakeClock(), _table()
    async with _store(postgres_dsn, table=table, clock=clock, purge_interval=60) as store:
        await store.set("short", b"v", 10)  # the first write purges (nothing yet)
        await store.set("long", b"v", 1000)
        await store.set_add("index", "s1", 10)
        clock.now += 20
        assert await store.get("short") is None
        assert await store.set_pop_all("never") == []
        assert await _rows(postgres_dsn, table) == 2  # reads never purge
        await store.set("other", b"v", 1000)  # 20 s since the last purge: none
        assert await _rows(postgres_dsn, table) == 3
        assert await _rows(postgres_dsn, f"{table}_members") == 1
        clock.now += 41
        await store.add("lock", b"v", 1000)  # 61 s: this write purges both tables
        assert await _rows(postgres_dsn, table) == 3  # long, other, lock
        assert await _rows(postgres_dsn, f"{table}_members") == 0
        assert await store.get("long") == b"v"


async def test_purge_works_in_bounded_batches(postgres_dsn: str) -> None:
    """A purge deletes at most purge_batch rows; a full batch makes the next write purge again."""
    clock, table = FakeClock(), _table()
    async with _store(postgres_dsn, table=table, clock=clock, purge_batch=2) as store:
        for i in range(5):
            await store.set(f"k{i}", b"v", 10)
        clock.now += 61
        remaining = []
        for i in range(4):
            await store.set_add("index", f"s{i}", 1000)
            remaining.append(await _rows(postgres_dsn, table))
    assert remaining == [3, 1, 0, 0]


async def test_closed_port_raises_promptly(postgres_server: PostgresServer) -> None:
    """A DSN to a port nobody listens on fails at once; StoreOps turns it into StoreUnavailable."""
    dsn = f"postgresql://logto:secret@127.0.0.1:{_closed_port()}/postgres"
    async with _store(dsn) as store:
        started = time.monotonic()
        with pytest.raises(psycopg.OperationalError):
            await store.get("k")
        with pytest.raises(StoreUnavailable):
            await StoreOps(store).get("k")
        assert time.monotonic() - started < PROMPT


async def test_hung_host_times_out(black_hole: int) -> None:
    """A host that accepts TCP and never answers fails after connect_timeout, not minutes."""
    dsn = f"postgresql://logto:secret@127.0.0.1:{black_hole}/postgres"
    async with _store(dsn, connect_timeout=1, statement_timeout=1) as store:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as caught:
            await StoreOps(store).set("k", b"v", TTL)
        assert time.monotonic() - started < PROMPT
    assert isinstance(caught.value.__cause__, (psycopg.OperationalError, TimeoutError))


async def test_stopped_server_raises_promptly_then_recovers(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    """With the server stopped every call fails in seconds; once it is back, calls succeed."""
    async with _store(postgres_dsn, table=_table()) as store:
        await store.set("k", b"v", TTL)
        postgres_server.stop()
        started = time.monotonic()
        with pytest.raises(psycopg.OperationalError):
            await store.get("k")
        with pytest.raises(StoreUnavailable):
            await StoreOps(store).get("k")
        assert time.monotonic() - started < PROMPT
        postgres_server.start()
        assert await store.get("k") == b"v"


async def test_restarted_server_costs_no_failed_call(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    """Idle connections the server closed on restart are dropped, not handed out."""
    async with _store(postgres_dsn, table=_table()) as store:
        async with anyio.create_task_group() as tg:  # several idle connections in the pool
            for i in range(5):
                tg.start_soon(store.set, f"k{i}", b"v", TTL)
        postgres_server.restart()
        assert [await store.get(f"k{i}") for i in range(5)] == [b"v"] * 5


async def test_statement_timeout_cuts_a_blocked_statement(postgres_dsn: str) -> None:
    """A write blocked by another transaction's row lock fails after statement_timeout."""
    table = _table()
    async with _store(postgres_dsn, table=table, statement_timeout=0.3) as store:
        await store.set("k", b"v", TTL)
        async with await psycopg.AsyncConnection.connect(postgres_dsn) as locker:
            await locker.execute(
                sql.SQL("SELECT 1 FROM {} WHERE key = 'k' FOR UPDATE").format(sql.Identifier(table))
            )
            started = time.monotonic()
            with pytest.raises(psycopg.errors.QueryCanceled):
                await store.set("k", b"w", TTL)
            assert time.monotonic() - started < PROMPT
            await locker.rollback()
        await store.set("k", b"w", TTL)
        assert await store.get("k") == b"w"


async def test_a_cancelled_call_leaves_no_broken_connection(postgres_dsn: str) -> None:
    """A call cancelled mid-statement closes its connection; the next call works (the
    statement the server already had may still complete, as with any database)."""
    table = _table()
    async with _store(postgres_dsn, table=table, max_connections=1) as store:
        await store.set("k", b"v", TTL)
        async with await psycopg.AsyncConnection.connect(postgres_dsn) as locker:
            await locker.execute(
                sql.SQL("SELECT 1 FROM {} WHERE key = 'k' FOR UPDATE").format(sql.Identifier(table))
            )
            with pytest.raises(TimeoutError):
                with anyio.fail_after(0.3):
                    await store.set("k", b"w", TTL)
            await locker.rollback()
        assert await store.get("k") in (b"v", b"w")


async def test_connections_stay_within_max_connections(postgres_dsn: str) -> None:
    """Forty concurrent calls share at most max_connections server connections."""
    name = f"cap-{uuid.uuid4().hex[:8]}"
    async with _store(f"{postgres_dsn}?application_name={name}", table=_table(), max_connections=3) as store:
        async with anyio.create_task_group() as tg:
            for i in range(40):
                tg.start_soon(store.set, f"k{i}", b"v", TTL)
        async with await _connect(postgres_dsn) as conn:
            cur = await conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)
            )
            row = await cur.fetchone()
        assert row is not None and 1 <= int(str(row[0])) <= 3
        await store.aclose()
        await anyio.sleep(0.1)  # the server notices the closed sockets
        async with await _connect(postgres_dsn) as conn:
            cur = await conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)
            )
            row = await cur.fetchone()
        assert row is not None and int(str(row[0])) == 0
        assert await store.get("k0") == b"v"  # usable again after aclose: it reconnects


class LentPool:
    """A caller's pool: one connection outside autocommit, lent and never closed by the store."""

    def __init__(self, conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
        self.conn = conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[tuple[object, ...]]]:
        """Lend the one connection."""
        yield self.conn


async def test_caller_pool_is_committed_and_left_open(postgres_dsn: str) -> None:
    """With pool=, each call commits (the connection is not autocommit) and aclose leaves it open."""
    table = _table()
    async with await psycopg.AsyncConnection.connect(postgres_dsn) as conn:
        store = PostgresStore(pool=LentPool(conn), table=table)
        await store.set("k", b"v", TTL)
        assert await store.add("lock", b"1", TTL)
        await store.aclose()
        assert not conn.closed
        assert repr(store) == f"PostgresStore(pool=LentPool, table={table!r})"
    async with _store(postgres_dsn, table=table) as other:  # committed: another session sees it
        assert await other.get("k") == b"v"
        assert await other.get("lock") == b"1"


async def test_connection_factory_is_pooled_and_closed(postgres_dsn: str) -> None:
    """With pool=<async factory>, the store opens connections through it and closes them."""
    opened: list[psycopg.AsyncConnection[tuple[object, ...]]] = []

    async def factory() -> psycopg.AsyncConnection[tuple[object, ...]]:
        conn = await psycopg.AsyncConnection.connect(postgres_dsn)  # not autocommit
        opened.append(conn)
        return conn

    store = PostgresStore(pool=factory, table=_table())
    await store.set("k", b"v", TTL)
    assert await store.get("k") == b"v"
    assert len(opened) == 1  # reused
    await store.aclose()
    assert all(conn.closed for conn in opened)


def test_repr_shows_where_never_the_password() -> None:
    """repr names host, port, database and table, and never the password."""
    store = PostgresStore("postgresql://app:hunter2-secret@db.internal:6543/sessions", table="web_sessions")
    text = repr(store)
    assert text == "PostgresStore('db.internal:6543', db='sessions', table='web_sessions')"
    assert "hunter2" not in text
    keyword = PostgresStore("host=db.internal dbname=app user=app password=hunter2-secret")
    assert repr(keyword) == "PostgresStore('db.internal:5432', db='app', table='logto_sessions')"


def test_a_malformed_dsn_fails_without_echoing_it() -> None:
    """A connection string that does not parse fails at construction, password not quoted."""
    with pytest.raises(ConfigurationError, match="dsn") as caught:
        PostgresStore("host=db password=hunter2-secret garbage")
    assert "hunter2" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({}, "store"),
        ({"dsn": "postgresql://h/db", "pool": object()}, "store"),
        ({"dsn": "postgresql://h/db", "table": "no-dashes"}, "table"),
        ({"dsn": "postgresql://h/db", "table": "a.b.c"}, "table"),
        ({"dsn": "postgresql://h/db", "table": "x" * 41}, "table"),
        ({"dsn": "postgresql://h/db", "purge_interval": -1}, "purge_interval"),
        ({"dsn": "postgresql://h/db", "purge_batch": 0}, "purge_batch"),
        ({"dsn": "postgresql://h/db", "max_connections": 0}, "max_connections"),
        ({"dsn": "postgresql://h/db", "statement_timeout": 0}, "timeout"),
    ],
)
def test_bad_options_fail_at_construction(options: dict[str, object], field: str) -> None:
    """Each unusable option fails when the store is built, naming the option."""
    with pytest.raises(ConfigurationError) as caught:
        PostgresStore(**options)  # type: ignore[arg-type]
    assert caught.value.field == field


async def test_schema_qualified_table_works(postgres_dsn: str) -> None:
    """table='schema.name' puts both tables in that schema."""
    schema = f"auth_{uuid.uuid4().hex[:8]}"
    async with await _connect(postgres_dsn) as conn:
        await conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    async with _store(postgres_dsn, table=f"{schema}.sessions") as store:
        await store.set("k", b"v", TTL)
        await store.set_add("index", "s1", TTL)
        assert await store.get("k") == b"v"
        assert await store.set_pop_all("index") == ["s1"]
    async with await _connect(postgres_dsn) as conn:
        cur = await conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1", (schema,)
        )
        assert [row[0] for row in await cur.fetchall()] == ["sessions", "sessions_members"]


def test_postgres_store_is_exported_lazily() -> None:
    """PostgresStore resolves from logto_asgi and logto_asgi.sessions (psycopg loaded on use)."""
    assert logto_asgi.PostgresStore is PostgresStore
    assert logto_asgi.sessions.PostgresStore is PostgresStore
    assert "PostgresStore" in logto_asgi.__all__
    assert "PostgresStore" in logto_asgi.sessions.__all__
