"""``BoundedCache``: the one per-process cache shape used across the package.

Every cache here answers the same question — "have I already done this work for this
exact input?" — and must stay bounded whatever clients send. Entries are dropped oldest
first once ``max_entries`` is reached. ``ExpiringCache`` adds a deadline per entry on an
injected clock (recent refresh results), after which the entry is gone.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A dict with a size bound: the oldest entry goes when a new one needs room."""

    __slots__ = ("_entries", "_max", "get")

    def __init__(self, max_entries: int) -> None:
        # An OrderedDict: evicting its oldest entry is O(1), where a plain dict's
        # ``next(iter())`` walks past every slot freed by earlier evictions.
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._max = max_entries
        #: The value for a key, or ``None``: the dict's own ``get`` (this sits on hot paths).
        self.get: Callable[[K], V | None] = self._entries.get

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, key: K, value: V) -> None:
        """Remember ``value``, evicting the oldest entry when full."""
        entries = self._entries
        if key not in entries and len(entries) >= self._max:
            entries.popitem(last=False)
        entries[key] = value

    def pop(self, key: K) -> None:
        """Forget ``key`` (no error when absent)."""
        self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget everything."""
        self._entries.clear()


class ExpiringCache(Generic[K, V]):
    """A ``BoundedCache`` whose entries also expire ``ttl`` seconds after being put."""

    __slots__ = ("_clock", "_entries", "_ttl")

    def __init__(self, max_entries: int, *, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: BoundedCache[K, tuple[float, V]] = BoundedCache(max_entries)
        self._ttl = ttl
        self._clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        """The live value for ``key``, or ``None``."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            self._entries.pop(key)
            return None
        return entry[1]

    def put(self, key: K, value: V) -> None:
        """Remember ``value`` for the cache's ``ttl``."""
        self._entries.put(key, (self._clock() + self._ttl, value))
