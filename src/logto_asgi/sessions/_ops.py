"""``StoreOps``: every call the middleware makes to a ``SessionStore``, in one place.

It decides once, when built, whether the store is an ``AtomicStore`` (atomic add,
compare-and-delete and small sets) or needs the read-then-write fallback — correct in one
process, racy across several, as the docs say — and it is the one place where a store's
own exception becomes ``StoreUnavailable`` (503, session kept).

Each operation is the span ``logto.store.<operation>`` (``logto.store``: the store's
class; ``logto.store.role``: ``sessions`` or ``coordination``); each failure counts in
``logto.store.errors``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Literal, TypeVar

from .. import telemetry
from ..errors import LogtoError, StoreUnavailable
from .base import AtomicStore, ClosableStore, SessionStore

T = TypeVar("T")


async def _guard(operation: str, call: Awaitable[T]) -> T:
    try:
        return await call
    except LogtoError:
        telemetry.count("logto.store.errors", operation=operation)
        raise
    except Exception as exc:
        telemetry.count("logto.store.errors", operation=operation)
        raise StoreUnavailable("the session store cannot be reached") from exc


class StoreOps:
    """The store operations, atomic where the store offers them, errors mapped."""

    __slots__ = ("_closable", "_observed", "atomic", "store")

    def __init__(
        self, store: SessionStore, *, role: Literal["sessions", "coordination"] = "sessions"
    ) -> None:
        self.store = store
        #: The attributes of this store's spans.
        self._observed: dict[str, telemetry.AttributeValue] = {
            "logto.store": type(store).__name__,
            "logto.store.role": role,
        }
        #: Whether the store offers the atomic operations (checked once, here).
        self.atomic: AtomicStore | None = store if isinstance(store, AtomicStore) else None
        self._closable: ClosableStore | None = store if isinstance(store, ClosableStore) else None

    def _span(self, operation: str) -> telemetry.SpanHandle:
        return telemetry.span(f"logto.store.{operation}", **self._observed)

    async def get(self, key: str) -> bytes | None:
        with self._span("get"):
            return await _guard("get", self.store.get(key))

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        with self._span("set"):
            await _guard("set", self.store.set(key, value, ttl))

    async def delete(self, key: str) -> None:
        with self._span("delete"):
            await _guard("delete", self.store.delete(key))

    async def add(self, key: str, value: bytes, ttl: float) -> bool:
        """Store ``value`` only if ``key`` is absent; ``True`` when this call stored it."""
        with self._span("add"):
            if self.atomic is not None:
                return bool(await _guard("add", self.atomic.add(key, value, ttl)))
            if await self.get(key) is not None:
                return False
            await self.set(key, value, ttl)
            return True

    async def delete_if(self, key: str, value: bytes) -> None:
        """Delete ``key`` only while it still holds ``value`` (release one's own lock)."""
        with self._span("delete_if"):
            if self.atomic is not None:
                await _guard("delete_if", self.atomic.delete_if(key, value))
            elif await self.get(key) == value:
                await self.delete(key)

    async def set_add(self, key: str, member: str, ttl: float) -> None:
        """Add ``member`` to the set at ``key`` and keep the set for ``ttl`` seconds."""
        with self._span("set_add"):
            if self.atomic is not None:
                await _guard("set_add", self.atomic.set_add(key, member, ttl))
                return
            raw = await self.get(key)
            members = set(json.loads(raw)) if raw else set()
            members.add(member)
            await self.set(key, json.dumps(sorted(members)).encode(), ttl)

    async def set_pop_all(self, key: str) -> list[str]:
        """Every member of the set at ``key``; the set is deleted."""
        with self._span("set_pop_all"):
            if self.atomic is not None:
                return list(await _guard("set_pop_all", self.atomic.set_pop_all(key)))
            raw = await self.get(key)
            await self.delete(key)
            return [str(m) for m in json.loads(raw)] if raw else []

    async def aclose(self) -> None:
        """Close the store's connections, if it has any to close."""
        if self._closable is not None:
            await self._closable.aclose()
