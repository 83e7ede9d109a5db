"""Section 4: what a session weighs — in the browser, in Redis, and in process memory."""

from __future__ import annotations

import dataclasses
import gc
import secrets
import shutil
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

from bench.report import Report
from bench.signin import Baseline, SignedIn
from logto_asgi import MemoryStore
from logto_asgi.sessions._backends import StoreBackend

SECTION = "4. Size"
SESSIONS = 10_000
POSTGRES_SESSIONS = 1_000


def _chunks(signed: SignedIn) -> str:
    names = sorted(signed.cookies)
    return f"{len(names)} cookie{'s' if len(names) > 1 else ''}: {', '.join(names)}"


async def run(
    report: Report,
    *,
    typical: SignedIn,
    large: SignedIn,
    memory: SignedIn,
    baseline: Baseline,
    redis_client: Any,
    redis_key: str,
) -> None:
    report.row(SECTION, "cookie bytes, typical session", len(typical.header), "B", _chunks(typical))
    report.row(
        SECTION,
        "cookie bytes, large session (3 resource + 2 org tokens)",
        len(large.header),
        "B",
        _chunks(large),
    )
    report.row(
        SECTION,
        "cookie bytes, baseline session",
        len(baseline.header),
        "B",
        "signed, not encrypted: user + tokens (JSON, base64)",
    )
    value_bytes = int(await redis_client.strlen(redis_key))
    memory_usage = int(await redis_client.memory_usage(redis_key) or 0)
    report.row(
        SECTION,
        "bytes per session in Redis (value)",
        value_bytes,
        "B",
        f"MEMORY USAGE of the key: {memory_usage:,} B",
    )
    postgres = await _postgres_footprint(memory)
    report.row(
        SECTION,
        "bytes per session in PostgreSQL (value)",
        postgres["value"],
        "B",
        f"pg_column_size of the value; table + index + TOAST per session: {postgres['relation']:,.0f} B "
        f"({POSTGRES_SESSIONS:,} sessions)",
    )
    per_10k = await _memory_store_footprint(memory)
    report.row(
        SECTION,
        f"process memory per {SESSIONS:,} MemoryStore sessions",
        per_10k / 1e6,
        "MB",
        f"tracemalloc; {per_10k / SESSIONS:,.0f} B per session",
    )
    report.data["sizes"] = {
        "cookie_typical": len(typical.header),
        "cookie_large": len(large.header),
        "cookie_baseline": len(baseline.header),
        "redis_value": value_bytes,
        "redis_memory_usage": memory_usage,
        "memory_store_per_10k": per_10k,
        "postgres_value": postgres["value"],
        "postgres_relation_per_session": postgres["relation"],
    }


async def _memory_store_footprint(signed: SignedIn) -> int:
    """Bytes traced while a fresh MemoryStore takes SESSIONS typical sessions, written
    the way the middleware writes them (encrypted)."""
    core = signed.middleware.core
    session = await core.backend.load(signed.cookies)
    if session is None:
        raise RuntimeError("the MemoryStore session did not load")
    now = core.clock()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        store = MemoryStore(max_entries=SESSIONS * 2)
        backend = StoreBackend(dataclasses.replace(signed.config, store=store), store, core.jar)
        for _ in range(SESSIONS):
            fresh = session.replace(id=secrets.token_urlsafe(24))
            await backend.save(fresh, {}, now=now, secure=False)
        del fresh
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    if len(store) != SESSIONS:
        raise RuntimeError(f"MemoryStore holds {len(store)} sessions, expected {SESSIONS}")
    return used


async def _postgres_footprint(signed: SignedIn) -> dict[str, float]:
    """A real PostgreSQL (started here) holding POSTGRES_SESSIONS typical sessions written
    the way the middleware writes them: the value's size and the table's size per session."""
    import psycopg  # noqa: PLC0415 - the postgres extra, only for this measurement

    from logto_asgi import PostgresStore  # noqa: PLC0415
    from support.postgres_server import start_postgres  # noqa: PLC0415

    core = signed.middleware.core
    session = await core.backend.load(signed.cookies)
    if session is None:
        raise RuntimeError("the MemoryStore session did not load")
    directory = Path(tempfile.mkdtemp(prefix="logto-bench-pg-"))
    server = start_postgres(directory)
    try:
        store = PostgresStore(dsn=server.dsn, table="bench_sessions")
        backend = StoreBackend(dataclasses.replace(signed.config, store=store), store, core.jar)
        try:
            for _ in range(POSTGRES_SESSIONS):
                fresh = session.replace(id=secrets.token_urlsafe(24))
                await backend.save(fresh, {}, now=core.clock(), secure=False)
        finally:
            await store.aclose()
        async with await psycopg.AsyncConnection.connect(server.dsn, autocommit=True) as connection:
            await connection.execute("VACUUM ANALYZE bench_sessions")
            cursor = await connection.execute(
                "SELECT count(*), avg(pg_column_size(value)), pg_total_relation_size('bench_sessions')"
                " FROM bench_sessions"
            )
            row = await cursor.fetchone()
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
    if row is None or row[0] != POSTGRES_SESSIONS:
        raise RuntimeError(f"PostgreSQL holds {row and row[0]} sessions, expected {POSTGRES_SESSIONS}")
    return {"value": float(row[1]), "relation": row[2] / POSTGRES_SESSIONS}
