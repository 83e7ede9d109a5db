"""``StoreOps``: every call the middleware makes to a ``SessionStore``, in one place.

It decides once, when built, whether the store is an ``AtomicStore`` (atomic add,
compare-and-delete and small sets) or needs the read-then-write fallback — correct in one
process, racy across several, as the docs say — and it is the one place where a store's
own exception becomes ``StoreUnavailable`` (503, session kept).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import TypeVar

from ..errors import LogtoError, StoreUnavailable
from .base import AtomicStore, ClosableStore, SessionStore

T = TypeVar("T")


async def _guard(call: Awaitable[T]) -> T:
    try:
        return await call
    except LogtoError:
        raise
    except Exception as exc:
        raise StoreUnavailable("the session store cannot be reached") from exc


class StoreOps:
    """The store operations, atomic where the store offers them, errors mapped."""

    __slots__ = ("_closable", "atomic", "store")

    def __init__(self, store: SessionStore) -> None:
        self.store = store
        #: Whether the store offers the atomic operations (checked once, here).
        self.atomic: AtomicStore | None = store if isinstance(store, AtomicStore) else None
        self._closable: ClosableStore | None = store if isinstance(store, ClosableStore) else None

    async def get(self, key: str) -> bytes | None:
        return await _guard(self.store.get(key))

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await _guard(self.store.set(key, value, ttl))

    async def delete(self, key: str) -> None:
        await _guard(self.store.delete(key))

    async def add(self, key: str, value: bytes, ttl: float) -> bool:
        """Store ``value`` only if ``key`` is absent; ``True`` when this call stored it."""
        if self.atomic is not None:
            return bool(await _guard(self.atomic.add(key, value, ttl)))
        if await self.get(key) is not None:
            return False
        await self.set(key, value, ttl)
        return True

    async def delete_if(self, key: str, value: bytes) -> None:
        """Delete ``key`` only while it still holds ``value`` (release one's own lock)."""
        if self.atomic is not None:
            await _guard(self.atomic.delete_if(key, value))
        elif await self.get(key) == value:
            await self.delete(key)

    async def set_add(self, key: str, member: str, ttl: float) -> None:
        """Add ``member`` to the set at ``key`` and keep the set for ``ttl`` seconds."""
        if self.atomic is not None:
            await _guard(self.atomic.set_add(key, member, ttl))
            return
        raw = await self.get(key)
        members = set(json.loads(raw)) if raw else set()
        members.add(member)
        await self.set(key, json.dumps(sorted(members)).encode(), ttl)

    async def set_pop_all(self, key: str) -> list[str]:
        """Every member of the set at ``key``; the set is deleted."""
        if self.atomic is not None:
            return list(await _guard(self.atomic.set_pop_all(key)))
        raw = await self.get(key)
        await self.delete(key)
        return [str(m) for m in json.loads(raw)] if raw else []

    async def aclose(self) -> None:
        """Close the store's connections, if it has any to close."""
        if self._closable is not None:
            await self._closable.aclose()
