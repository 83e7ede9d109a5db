"""Coordination on top of a ``SessionStore``: once-only markers, locks and small sets.

A store may offer atomic versions of these (``RedisStore`` and ``MemoryStore`` do:
``add``, ``delete_if``, ``set_add``, ``set_pop_all``). A store that only has the
``get``/``set``/``delete`` of the protocol still works through a read-then-write
fallback, which is correct in one process and racy across several — the docs say so.
"""

from __future__ import annotations

import json
from typing import Any

from .base import SessionStore


async def add(store: SessionStore, key: str, value: bytes, ttl: float) -> bool:
    """Store ``value`` only if ``key`` is absent; ``True`` when this call stored it."""
    atomic: Any = getattr(store, "add", None)
    if atomic is not None:
        return bool(await atomic(key, value, ttl))
    if await store.get(key) is not None:
        return False
    await store.set(key, value, ttl)
    return True


async def delete_if(store: SessionStore, key: str, value: bytes) -> None:
    """Delete ``key`` only while it still holds ``value`` (release one's own lock)."""
    atomic: Any = getattr(store, "delete_if", None)
    if atomic is not None:
        await atomic(key, value)
    elif await store.get(key) == value:
        await store.delete(key)


async def set_add(store: SessionStore, key: str, member: str, ttl: float) -> None:
    """Add ``member`` to the set at ``key`` and keep the set for ``ttl`` seconds."""
    atomic: Any = getattr(store, "set_add", None)
    if atomic is not None:
        await atomic(key, member, ttl)
        return
    raw = await store.get(key)
    members = set(json.loads(raw)) if raw else set()
    members.add(member)
    await store.set(key, json.dumps(sorted(members)).encode(), ttl)


async def set_pop_all(store: SessionStore, key: str) -> list[str]:
    """Every member of the set at ``key``; the set is deleted."""
    atomic: Any = getattr(store, "set_pop_all", None)
    if atomic is not None:
        return list(await atomic(key))
    raw = await store.get(key)
    await store.delete(key)
    return [str(m) for m in json.loads(raw)] if raw else []
