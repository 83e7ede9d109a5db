"""Single-flight refresh, keyed by the refresh token being spent.

Logto revokes a user's whole grant when a consumed refresh token is presented again. So:

* however many concurrent requests want to spend the same refresh token, one refresh
  grant goes out and every caller gets its result;
* the result is remembered for ``RESULT_TTL`` seconds under a hash of the token it
  consumed, so a request that still carries the pre-refresh cookie takes that result
  instead of replaying the consumed token.

A failure is shared with the callers waiting on that flight, and never remembered.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio

from ._crypto import fingerprint
from .sessions.base import Session

RESULT_TTL = 30.0


@dataclass
class _Flight:
    done: anyio.Event = field(default_factory=anyio.Event)
    result: Session | None = None
    error: BaseException | None = None


class RefreshCoordinator:
    """One refresh per refresh token in this process; recent results reused."""

    def __init__(self, *, clock: Callable[[], float] = time.time, result_ttl: float = RESULT_TTL) -> None:
        self._clock = clock
        self._ttl = result_ttl
        self._flights: dict[str, _Flight] = {}
        self._results: dict[str, tuple[float, Session]] = {}
        self.grants_started = 0

    def _recent(self, key: str) -> Session | None:
        now = self._clock()
        if len(self._results) > 64:  # forget expired results now and then
            for stale in [k for k, (t, _) in self._results.items() if t <= now]:
                del self._results[stale]
        entry = self._results.get(key)
        if entry is None or entry[0] <= now:
            return None
        return entry[1]

    async def refresh(self, refresh_token: str, grant: Callable[[], Awaitable[Session]]) -> Session:
        """``grant()``'s session, run at most once for ``refresh_token`` however many ask."""
        key = fingerprint(refresh_token)
        recent = self._recent(key)
        if recent is not None:
            return recent.copy()
        flight = self._flights.get(key)
        if flight is not None:
            await flight.done.wait()
            if flight.error is not None:
                raise flight.error
            assert flight.result is not None
            return flight.result.copy()
        flight = self._flights[key] = _Flight()
        try:
            self.grants_started += 1
            result = await grant()
            flight.result = result
            self._results[key] = (self._clock() + self._ttl, result)
            return result.copy()
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            del self._flights[key]
            flight.done.set()
