"""``PostgresStore``: server-side sessions in PostgreSQL, shared by every instance of the app.

For teams that run PostgreSQL and not Redis. Values arrive already encrypted with the
cookie secret (the middleware seals them), so a dump or a replica shows no token. Two
tables are created on first use when missing: ``<table>`` (``key text PRIMARY KEY, value
bytea, expires_at double precision``) and ``<table>_members`` (``key text, member text,
expires_at double precision``, primary key ``(key, member)``: the small sets of the
back-channel logout index), each with an index on ``expires_at``.

``expires_at`` is in epoch seconds from the store's clock (``time.time``: the hosts of a
fleet need synchronised clocks, as they already do for token lifetimes). Every read
ignores expired rows; writes delete them, in bounded batches, at most once every
``purge_interval`` seconds per store, never on the read path.

The atomic operations the middleware uses to coordinate instances (``sessions/_ops.py``)
are single SQL statements, so they hold across processes and hosts: ``add`` is ``INSERT …
ON CONFLICT DO UPDATE … WHERE <expired>`` (an expired entry counts as absent),
``delete_if`` a ``DELETE … WHERE value = …``, ``set_pop_all`` a ``DELETE … RETURNING``.
"""

from __future__ import annotations

import math
import re
import select
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol, runtime_checkable

import anyio

try:
    import psycopg
    from psycopg import AsyncConnection, AsyncCursor, sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo
    from psycopg.pq import TransactionStatus
    from psycopg.rows import TupleRow, tuple_row
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("PostgresStore needs psycopg 3: pip install 'logto-asgi[postgres]'") from exc

from ..errors import ConfigurationError

__all__ = ["ConnectionSource", "PostgresStore"]

# A table name, optionally schema-qualified; short enough for the derived names
# (``<name>_members_expires_idx``) to stay within PostgreSQL's 63-byte identifiers.
_TABLE_NAME = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]{0,39}\.)?[A-Za-z_][A-Za-z0-9_]{0,39}")

ConnectionFactory = Callable[[], Awaitable[AsyncConnection[Any]]]


@runtime_checkable
class ConnectionSource(Protocol):
    """What ``PostgresStore(pool=…)`` accepts besides a connection factory:
    ``psycopg_pool.AsyncConnectionPool`` fits, or any object with this method."""

    def connection(self) -> AbstractAsyncContextManager[AsyncConnection[Any]]:
        """Lend one connection for the duration of an ``async with`` block."""
        ...


def _healthy(conn: AsyncConnection[Any]) -> bool:
    """An idle connection still usable: open, outside a transaction, and with nothing to
    read (a server that shut down or restarted has sent an error or closed the socket)."""
    if conn.closed or conn.broken or conn.info.transaction_status != TransactionStatus.IDLE:
        return False
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


async def _close(conn: AsyncConnection[Any]) -> None:
    with anyio.CancelScope(shield=True):  # even while the caller is being cancelled
        await conn.close()


class _Pool:
    """At most ``size`` connections, opened on demand and kept while they stay healthy.

    A connection that saw an exception (or a cancellation) is closed, never reused, and
    opening one fails at once when the server refuses it (so the caller answers 503
    now, not after a pool timeout).
    """

    def __init__(self, connect: ConnectionFactory, size: int) -> None:
        self._connect = connect
        self._slots = anyio.Semaphore(size)
        self._idle: list[AsyncConnection[Any]] = []
        self._closed = False

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        async with self._slots:
            conn = await self._checkout()
            try:
                yield conn
            except BaseException:
                await _close(conn)
                raise
            if self._closed:
                await _close(conn)
            else:
                self._idle.append(conn)

    async def _checkout(self) -> AsyncConnection[Any]:
        while self._idle:
            conn = self._idle.pop()
            if _healthy(conn):
                return conn
            await _close(conn)
        return await self._connect()

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            await _close(conn)


def _parse_dsn(dsn: str, connect_timeout: float, statement_timeout: float) -> tuple[str, dict[str, Any]]:
    """The connection string to use (with timeouts added) and its parameters."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error:
        # The driver's message quotes the string, which may hold a password.
        raise ConfigurationError(
            "dsn", "not a PostgreSQL connection string: use postgresql://user:password@host:port/dbname"
        ) from None
    params.setdefault("connect_timeout", str(max(2, math.ceil(connect_timeout))))
    params.setdefault("application_name", "logto-asgi")
    options = str(params.get("options") or "")
    if "statement_timeout" not in options:
        params["options"] = f"{options} -c statement_timeout={max(1, int(statement_timeout * 1000))}".strip()
    return make_conninfo("", **params), params


def _check_options(
    table: str, purge: tuple[float, int], max_connections: int, timeouts: tuple[float, float]
) -> None:
    if not _TABLE_NAME.fullmatch(table):
        raise ConfigurationError(
            "table", "must be a table name ([A-Za-z_][A-Za-z0-9_]*, at most 40 characters, schema. optional)"
        )
    if purge[0] < 0:
        raise ConfigurationError("purge_interval", "must be zero or more seconds")
    if purge[1] < 1:
        raise ConfigurationError("purge_batch", "must be at least 1")
    if max_connections < 1:
        raise ConfigurationError("max_connections", "must be at least 1")
    if min(timeouts) <= 0:
        raise ConfigurationError("timeout", "connect_timeout and statement_timeout must be positive")


class _Queries:
    """Every statement of the store, composed once with its (quoted) table names."""

    def __init__(self, table: str) -> None:
        schema, _, name = table.rpartition(".")

        def ident(suffix: str) -> sql.Identifier:
            return sql.Identifier(schema, name + suffix) if schema else sql.Identifier(name + suffix)

        self.entries, self.members = ident(""), ident("_members")
        names = {
            "e": self.entries,
            "m": self.members,
            "e_idx": sql.Identifier(name + "_expires_idx"),
            "m_idx": sql.Identifier(name + "_members_expires_idx"),
            "lock": sql.Literal(f"logto-asgi:{table}"),
        }

        def q(text: str) -> sql.Composed:
            return sql.SQL(text).format(**names)

        self.schema = q(
            "SELECT pg_advisory_xact_lock(hashtext({lock}));"
            " CREATE TABLE IF NOT EXISTS {e} (key text PRIMARY KEY, value bytea NOT NULL,"
            " expires_at double precision NOT NULL);"
            " CREATE INDEX IF NOT EXISTS {e_idx} ON {e} (expires_at);"
            " CREATE TABLE IF NOT EXISTS {m} (key text NOT NULL, member text NOT NULL,"
            " expires_at double precision NOT NULL, PRIMARY KEY (key, member));"
            " CREATE INDEX IF NOT EXISTS {m_idx} ON {m} (expires_at)"
        )
        self.exists = sql.SQL("SELECT to_regclass(%(e)s) IS NOT NULL AND to_regclass(%(m)s) IS NOT NULL")
        self.get = q("SELECT value FROM {e} WHERE key = %(key)s AND expires_at > %(now)s")
        upsert = (
            "INSERT INTO {e} AS t (key, value, expires_at) VALUES (%(key)s, %(value)s, %(exp)s)"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at"
        )
        self.set = q(upsert)
        self.add = q(upsert + " WHERE t.expires_at <= %(now)s RETURNING true")
        self.delete = q("DELETE FROM {e} WHERE key = %(key)s")
        self.delete_if = q("DELETE FROM {e} WHERE key = %(key)s AND value = %(value)s")
        # Multi-row statements lock rows in member order, so two of them never deadlock.
        self.set_add = q(
            # The set's live members (and this one, expired or not) get the new expiry;
            # other expired members stay dead; a new member is inserted.
            "WITH live AS (SELECT member FROM {m} WHERE key = %(key)s"
            " AND (expires_at > %(now)s OR member = %(member)s) ORDER BY member FOR UPDATE),"
            " renew AS (UPDATE {m} AS t SET expires_at = %(exp)s FROM live"
            " WHERE t.key = %(key)s AND t.member = live.member)"
            " INSERT INTO {m} (key, member, expires_at) VALUES (%(key)s, %(member)s, %(exp)s)"
            " ON CONFLICT (key, member) DO NOTHING"
        )
        self.set_pop_all = q(
            "WITH doomed AS (SELECT member FROM {m} WHERE key = %(key)s ORDER BY member FOR UPDATE),"
            " gone AS (DELETE FROM {m} AS t USING doomed WHERE t.key = %(key)s AND t.member = doomed.member"
            " RETURNING t.member, t.expires_at)"
            " SELECT member FROM gone WHERE expires_at > %(now)s ORDER BY member"
        )
        # Bounded batches that skip rows other statements hold (a purge never waits, so never
        # deadlocks); the outer condition is re-checked on a row refreshed meanwhile.
        batch = (
            " WHERE expires_at <= %(now)s LIMIT %(limit)s FOR UPDATE SKIP LOCKED) AND expires_at <= %(now)s"
        )
        self.purge = (
            q("DELETE FROM {e} WHERE key IN (SELECT key FROM {e}" + batch),
            q("DELETE FROM {m} WHERE (key, member) IN (SELECT key, member FROM {m}" + batch),
        )


class PostgresStore:
    """A ``SessionStore`` in PostgreSQL, for apps running several processes or hosts.

    ``PostgresStore("postgresql://user:password@host:5432/dbname")`` opens up to
    ``max_connections`` connections on demand (in the running event loop, on first use)
    and closes them at lifespan shutdown. Connecting fails after ``connect_timeout``
    seconds (libpq's floor is 2) and a statement after ``statement_timeout`` (added to the
    connection string unless it sets them); every call is bounded by their sum. So an
    unreachable database answers within seconds: the driver's exception propagates
    (``psycopg.OperationalError``, ``TimeoutError``) and the middleware answers 503.

    Or pass ``pool=`` either a pool of your own (``psycopg_pool.AsyncConnectionPool``,
    or any :class:`ConnectionSource`), shared and left open for you to close, or an
    async callable returning a new ``psycopg.AsyncConnection`` (custom TLS, say), whose
    connections the store pools and closes. Connections outside autocommit work too: the
    store commits each call.

    ``table`` names the entries table (``schema.name`` allowed); the sets go in
    ``<table>_members``. ``clock`` gives epoch seconds (tests move it instead of waiting).
    """

    def __init__(
        self,
        dsn: str | None = None,
        *,
        pool: ConnectionSource | ConnectionFactory | None = None,
        table: str = "logto_sessions",
        clock: Callable[[], float] = time.time,
        purge_interval: float = 60.0,
        purge_batch: int = 5000,
        max_connections: int = 10,
        connect_timeout: float = 5.0,
        statement_timeout: float = 5.0,
    ) -> None:
        if (dsn is None) == (pool is None):
            raise ConfigurationError(
                "store",
                "PostgresStore needs either dsn='postgresql://…' or pool=<connection pool or factory>",
            )
        _check_options(
            table, (purge_interval, purge_batch), max_connections, (connect_timeout, statement_timeout)
        )
        self._params: Mapping[str, Any] = {}
        self._source: ConnectionSource | None = None
        self._factory: ConnectionFactory | None = None
        if dsn is not None:
            conninfo, self._params = _parse_dsn(dsn, connect_timeout, statement_timeout)
            self._factory = lambda: AsyncConnection.connect(conninfo, autocommit=True)
        elif isinstance(pool, ConnectionSource):
            self._source = pool
        else:
            self._factory = pool
        self._pool: _Pool | None = None
        self._table = table
        self._sql = _Queries(table)
        self._clock = clock
        self._purge_interval = purge_interval
        self._purge_batch = purge_batch
        self._next_purge = -math.inf
        self._max_connections = max_connections
        self._deadline = connect_timeout + statement_timeout
        self._schema_ready = False

    @property
    def table(self) -> str:
        """The entries table (the sets are in ``<table>_members``)."""
        return self._table

    def __repr__(self) -> str:
        params = self._params
        if not params:  # a pool or factory of the caller's: nothing to tell about it
            kind = type(self._source).__name__ if self._source is not None else "factory"
            return f"PostgresStore(pool={kind}, table={self._table!r})"
        where = f"{params.get('host') or '?'}:{params.get('port') or 5432}"
        return f"PostgresStore({where!r}, db={params.get('dbname') or '?'!r}, table={self._table!r})"

    # Plumbing ---------------------------------------------------------------------------

    def _connections(self) -> ConnectionSource:
        if self._source is not None:
            return self._source
        if self._pool is None:
            assert self._factory is not None
            self._pool = _Pool(self._factory, self._max_connections)
        return self._pool

    async def _create_schema(self, conn: AsyncConnection[Any], cur: AsyncCursor[TupleRow]) -> None:
        """Create the tables and indexes when missing (a user without CREATE rights can use
        tables made for it beforehand); an advisory lock serialises concurrent creators."""
        names = {"e": self._sql.entries.as_string(conn), "m": self._sql.members.as_string(conn)}
        await cur.execute(self._sql.exists, names)
        row = await cur.fetchone()
        if not (row and row[0]):
            await cur.execute(self._sql.schema)

    async def _purge(self, cur: AsyncCursor[TupleRow], now: float) -> None:
        """Delete one batch of expired rows per table, if the last purge is old enough."""
        if now < self._next_purge:
            return
        self._next_purge = now + self._purge_interval
        full = False
        for statement in self._sql.purge:
            await cur.execute(statement, {"now": now, "limit": self._purge_batch})
            full = full or cur.rowcount >= self._purge_batch
        if full:  # more to delete: purge again on the next write
            self._next_purge = -math.inf

    async def _run(
        self, query: sql.Composed, params: Mapping[str, Any], *, purge_at: float | None = None
    ) -> list[TupleRow]:
        """Run one statement (after the schema check and a purge when due); its rows."""
        with anyio.fail_after(self._deadline):
            async with self._connections().connection() as conn:
                async with conn.cursor(row_factory=tuple_row) as cur:
                    if not self._schema_ready:
                        await self._create_schema(conn, cur)
                    if purge_at is not None:
                        await self._purge(cur, purge_at)
                    await cur.execute(query, params)
                    rows = await cur.fetchall() if cur.description is not None else []
                if not conn.autocommit:
                    await conn.commit()
        self._schema_ready = True
        return rows

    # The SessionStore protocol ----------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        """The value stored under ``key``, or ``None`` (also once it has expired)."""
        rows = await self._run(self._sql.get, {"key": key, "now": self._clock()})
        return bytes(rows[0][0]) if rows else None

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds (replacing any value)."""
        now = self._clock()
        await self._run(self._sql.set, {"key": key, "value": value, "exp": now + ttl}, purge_at=now)

    async def delete(self, key: str) -> None:
        """Forget ``key``."""
        await self._run(self._sql.delete, {"key": key})

    # Atomic operations ------------------------------------------------------------------

    async def add(self, key: str, value: bytes, ttl: float) -> bool:
        """Store only if absent or expired, in one statement; ``True`` when this call stored it."""
        now = self._clock()
        params = {"key": key, "value": value, "exp": now + ttl, "now": now}
        return bool(await self._run(self._sql.add, params, purge_at=now))

    async def delete_if(self, key: str, value: bytes) -> None:
        """Delete ``key`` only while it holds ``value`` (one statement, atomic)."""
        await self._run(self._sql.delete_if, {"key": key, "value": value})

    async def set_add(self, key: str, member: str, ttl: float) -> None:
        """Add ``member`` to the set at ``key`` and keep the set ``ttl`` seconds from now."""
        now = self._clock()
        params = {"key": key, "member": member, "exp": now + ttl, "now": now}
        await self._run(self._sql.set_add, params, purge_at=now)

    async def set_pop_all(self, key: str) -> list[str]:
        """Every live member of the set at ``key``, sorted; the set is deleted (one
        ``DELETE … RETURNING``: two concurrent callers never get the same member)."""
        rows = await self._run(self._sql.set_pop_all, {"key": key, "now": self._clock()})
        return [str(row[0]) for row in rows]

    async def aclose(self) -> None:
        """Close the connections this store opened; a ``pool=`` of yours stays open."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.aclose()
