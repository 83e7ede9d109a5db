"""Section 4: what a session weighs — in the browser, in Redis, and in process memory."""

from __future__ import annotations

import dataclasses
import gc
import secrets
import tracemalloc
from typing import Any

from bench.report import Report
from bench.signin import Baseline, SignedIn
from logto_asgi import MemoryStore
from logto_asgi.sessions._backends import StoreBackend

SECTION = "4. Size"
SESSIONS = 10_000


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
