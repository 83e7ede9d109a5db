"""``MemoryStore``: server-side sessions in this process (tests, single-process apps)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from ..errors import ConfigurationError

__all__ = ["MemoryStore"]


class MemoryStore:
    """A ``SessionStore`` in a dict: entries expire after their TTL, and beyond
    ``max_entries`` the least recently used entry is evicted.

    Only for one process: another instance of the app will not see these sessions.
    Safe under concurrency (every operation is synchronous inside the event loop).
    """

    def __init__(self, *, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ConfigurationError("max_entries", "must be at least 1")
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._max = max_entries
        self._clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        self._entries[key] = (self._clock() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    # Atomic operations (everything here runs without awaiting, so it is atomic in-process)

    async def add(self, key: str, value: bytes, ttl: float) -> bool:
        """Store only if absent (locks, once-only markers)."""
        if await self.get(key) is not None:
            return False
        await self.set(key, value, ttl)
        return True

    async def delete_if(self, key: str, value: bytes) -> None:
        """Delete only while the key holds ``value``."""
        if await self.get(key) == value:
            await self.delete(key)

    async def set_add(self, key: str, member: str, ttl: float) -> None:
        """Add to the set stored at ``key``."""
        raw = await self.get(key)
        members = raw.decode().split("\n") if raw else []
        if member not in members:
            members.append(member)
        await self.set(key, "\n".join(members).encode(), ttl)

    async def set_pop_all(self, key: str) -> list[str]:
        """Members of the set at ``key``; the set is deleted."""
        raw = await self.get(key)
        await self.delete(key)
        return raw.decode().split("\n") if raw else []
