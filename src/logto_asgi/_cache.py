"""``BoundedCache``: the one per-process cache shape used across the package.

Every cache here answers the same question — "have I already done this work for this
exact input?" — and must stay bounded whatever clients send. Entries are dropped oldest
first once ``max_entries`` is reached; an entry may carry a deadline on an injected
clock, after which it is gone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_FOREVER = float("inf")


class BoundedCache(Generic[K, V]):
    """A dict with a size bound (oldest out first) and optional per-entry deadlines."""

    __slots__ = ("_clock", "_entries", "_max")

    def __init__(self, max_entries: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: dict[K, tuple[float, V]] = {}
        self._max = max_entries
        self._clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        """The live value for ``key``, or ``None``."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        deadline, value = entry
        if deadline is not _FOREVER and deadline <= self._clock():
            del self._entries[key]
            return None
        return value

    def put(self, key: K, value: V, *, ttl: float | None = None) -> None:
        """Remember ``value`` (for ``ttl`` seconds when given), evicting the oldest entry
        when full."""
        entries = self._entries
        if key not in entries and len(entries) >= self._max:
            del entries[next(iter(entries))]
        entries[key] = (_FOREVER if ttl is None else self._clock() + ttl, value)

    def pop(self, key: K) -> None:
        """Forget ``key`` (no error when absent)."""
        self._entries.pop(key, None)
