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

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import anyio

from ._crypto import InvalidToken, JweCodec, fingerprint
from .errors import LogtoError, ProviderTimeout, StoreUnavailable
from .sessions import _ops
from .sessions.base import Session, SessionStore

T = TypeVar("T")

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

    async def latest(self, session: Session) -> Session:
        """``session``, or what recent refreshes made of it if its refresh token was spent
        meanwhile: a request that read the session before a concurrent refresh must save
        that refresh's result, never write the spent token back."""
        for _ in range(3):
            if not session.refresh_token:
                break
            newer = await self._successor(fingerprint(session.refresh_token))
            if newer is None:
                break
            session = newer
        return session

    async def _successor(self, key: str) -> Session | None:
        recent = self._recent(key)
        return recent.copy() if recent is not None else None

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


class SharedRefreshCoordinator(RefreshCoordinator):
    """Single-flight across processes through the session store (e.g. Redis).

    Inside a process the base class still makes callers share one flight. That flight
    then takes a short lock in the store (``add`` = SET NX with a unique token, released
    only by its owner); the winner refreshes and leaves the result, encrypted, in the
    store for ``result_ttl`` seconds; other instances wait for that result instead of
    spending the refresh token again.
    """

    LOCK_TTL = 15.0
    POLL_INTERVAL = 0.05

    def __init__(
        self,
        store: SessionStore,
        codec: JweCodec,
        *,
        clock: Callable[[], float] = time.time,
        result_ttl: float = RESULT_TTL,
    ) -> None:
        super().__init__(clock=clock, result_ttl=result_ttl)
        self._store = store
        self._codec = codec

    async def refresh(self, refresh_token: str, grant: Callable[[], Awaitable[Session]]) -> Session:
        return await super().refresh(refresh_token, lambda: self._shared(refresh_token, grant))

    async def _successor(self, key: str) -> Session | None:
        return await super()._successor(key) or await self._read(f"refresh:{key}")

    async def _read(self, key: str) -> Session | None:
        raw = await self._store_call(self._store.get(key))
        if raw is None:
            return None
        try:
            return Session.from_json(self._codec.decrypt(raw.decode("ascii")))
        except (InvalidToken, ValueError, UnicodeDecodeError):
            return None

    @staticmethod
    async def _store_call(call: Awaitable[T]) -> T:
        try:
            return await call
        except LogtoError:
            raise
        except Exception as exc:
            raise StoreUnavailable("the session store cannot be reached") from exc

    async def _shared(self, refresh_token: str, grant: Callable[[], Awaitable[Session]]) -> Session:
        handle = fingerprint(refresh_token)
        result_key, lock_key = f"refresh:{handle}", f"refresh-lock:{handle}"
        deadline = self._clock() + self.LOCK_TTL * 2
        while True:
            done = await self._read(result_key)
            if done is not None:
                return done
            token = secrets.token_urlsafe(16).encode()
            if await self._store_call(_ops.add(self._store, lock_key, token, self.LOCK_TTL)):
                try:
                    done = await self._read(result_key)
                    if done is not None:
                        return done
                    session = await grant()
                    sealed = self._codec.encrypt(session.to_json()).encode("ascii")
                    await self._store_call(self._store.set(result_key, sealed, self._ttl))
                    return session
                finally:
                    await self._store_call(_ops.delete_if(self._store, lock_key, token))
            if self._clock() > deadline:
                raise ProviderTimeout("another instance's token refresh did not finish in time")
            await anyio.sleep(self.POLL_INTERVAL)
