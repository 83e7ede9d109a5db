"""Single-flight refresh, keyed by the refresh token being spent.

Logto revokes a user's whole grant when a consumed refresh token is presented again. So:

* however many concurrent requests want to spend the same refresh token, one refresh
  grant goes out and every caller gets its result;
* the result is remembered for ``RESULT_TTL`` seconds under a hash of the token it
  consumed, so a request that still carries the pre-refresh cookie takes that result
  instead of replaying the consumed token.

Who may reuse what: a result goes to the callers that asked for the same refresh token
while it was in flight, and to callers presenting that same (now spent) token within
``RESULT_TTL``. A failure is shared only with the callers already waiting on that flight
and never remembered. A leader that is *cancelled* (its client went away) shares
nothing: a waiting caller then starts its own attempt, since it was never cancelled.

Observed: a caller that did not send the grant itself (it waited on a flight here, or on
another process through the store, or reused a recent result) is *joined*
(``logto.refresh.joined``: the span attribute always, the counter when it got a session);
every caller's time in ``refresh`` goes to the histogram ``logto.refresh.wait``.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio

from . import telemetry
from ._cache import ExpiringCache
from ._crypto import InvalidToken, JweCodec, fingerprint
from .errors import LogtoError, ProviderTimeout
from .sessions._ops import StoreOps
from .sessions.base import Session

#: How long a refresh result stays reusable by requests still carrying the spent token:
#: long enough for a browser's parallel requests and a response whose Set-Cookie came late;
#: a result is reused only while the token it was asked for is still valid anyway.
logger = logging.getLogger("logto_asgi")

RESULT_TTL = 120.0
#: How long sign-out waits for a refresh in flight, to revoke its newest token.
SETTLE_TIMEOUT = 5.0
#: Recent results kept per process (a result is one session record).
RESULTS_SIZE = 4096

Grant = Callable[[], Awaitable[Session]]
Usable = Callable[[Session], bool]


def _always(session: Session) -> bool:
    return True


def _reusable(result: Session | None, spent: str, usable: Usable) -> bool:
    """A recent result serves a caller presenting the ``spent`` token when the token was
    rotated (spending it again would be a replay: the caller goes on with its successor)
    or when the result still has what the caller wants (providers that don't rotate)."""
    return result is not None and (result.refresh_token != spent or usable(result))


@dataclass
class _Flight:
    done: anyio.Event = field(default_factory=anyio.Event)
    result: Session | None = None
    error: Exception | None = None


class RefreshCoordinator:
    """One refresh per refresh token in this process; recent results reused."""

    def __init__(self, *, clock: Callable[[], float] = time.time, result_ttl: float = RESULT_TTL) -> None:
        self._clock = clock
        self._ttl = result_ttl
        self._flights: dict[str, _Flight] = {}
        self._results: ExpiringCache[str, Session] = ExpiringCache(RESULTS_SIZE, ttl=result_ttl, clock=clock)

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
        return self._results.get(key)

    async def settled(self, session: Session) -> Session:
        """``latest(session)`` once a refresh of its token in flight here has finished
        (waiting at most ``SETTLE_TIMEOUT``): what sign-out must revoke."""
        with anyio.move_on_after(SETTLE_TIMEOUT):
            await self._wait_idle(session.refresh_token)
        return await self.latest(session)

    async def _wait_idle(self, refresh_token: str | None) -> None:
        """Until no refresh of ``refresh_token`` is in flight here."""
        flight = self._flights.get(fingerprint(refresh_token)) if refresh_token else None
        if flight is not None:
            await flight.done.wait()

    async def refresh(
        self,
        refresh_token: str,
        grant: Grant,
        usable: Usable = _always,
        *,
        span: telemetry.SpanHandle = telemetry.NO_SPAN,
    ) -> Session:
        """``grant()``'s session, run at most once for ``refresh_token`` however many ask.
        A recent result is reused when the token was rotated, or while ``usable`` says it
        still serves the caller (its token for the caller's resource is valid): with a
        provider that does not rotate refresh tokens, the same token is spent again.
        ``span`` (the caller's ``logto.refresh``) learns whether this caller joined."""
        sent = False

        async def sending() -> Session:
            nonlocal sent
            sent = True
            return await grant()

        started = time.perf_counter()
        try:
            result = await self._single_flight(
                refresh_token, self._across_processes(refresh_token, sending, usable), usable
            )
        finally:
            span.set("logto.refresh.joined", not sent)
            telemetry.record("logto.refresh.wait", time.perf_counter() - started)
        if not sent:
            telemetry.count("logto.refresh.joined")
        return result

    def _across_processes(self, refresh_token: str, grant: Grant, usable: Usable) -> Grant:
        """What this process's flight runs: here, the grant itself."""
        return grant

    async def _single_flight(self, refresh_token: str, grant: Grant, usable: Usable) -> Session:
        key = fingerprint(refresh_token)
        while True:
            recent = self._results.get(key)
            if recent is not None and _reusable(recent, refresh_token, usable):
                return recent
            flight = self._flights.get(key)
            if flight is None:
                return await self._lead(key, grant)
            await flight.done.wait()
            if flight.result is not None:
                return flight.result
            if flight.error is not None:
                raise flight.error
            # The leader was cancelled: nothing to share. Go round: lead, or join anew.

    async def _lead(self, key: str, grant: Grant) -> Session:
        flight = self._flights[key] = _Flight()
        try:
            result = await grant()
        except Exception as exc:
            flight.error = exc
            raise
        else:
            flight.result = result
            self._results.put(key, result)
            return result
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
        ops: StoreOps,
        codec: JweCodec,
        *,
        clock: Callable[[], float] = time.time,
        result_ttl: float = RESULT_TTL,
    ) -> None:
        super().__init__(clock=clock, result_ttl=result_ttl)
        self._ops = ops
        self._codec = codec

    def _across_processes(self, refresh_token: str, grant: Grant, usable: Usable) -> Grant:
        """What this process's flight runs: the grant, under the store's lock."""
        return lambda: self._shared(refresh_token, grant, usable)

    async def _wait_idle(self, refresh_token: str | None) -> None:
        """Until no refresh of ``refresh_token`` is in flight here or on another process."""
        await super()._wait_idle(refresh_token)
        if refresh_token:
            lock_key = f"refresh-lock:{fingerprint(refresh_token)}"
            while await self._ops.get(lock_key) is not None:  # noqa: ASYNC110 - another process writes it
                await anyio.sleep(self.POLL_INTERVAL)

    async def _successor(self, key: str) -> Session | None:
        return await super()._successor(key) or await self._read(f"refresh:{key}")

    async def _read(self, key: str) -> Session | None:
        raw = await self._ops.get(key)
        if raw is None:
            return None
        try:
            return Session.from_json(self._codec.decrypt(raw.decode("ascii")))
        except (InvalidToken, ValueError, UnicodeDecodeError):
            return None

    async def _shared(self, refresh_token: str, grant: Grant, usable: Usable) -> Session:
        handle = fingerprint(refresh_token)
        result_key, lock_key = f"refresh:{handle}", f"refresh-lock:{handle}"
        deadline = self._clock() + self.LOCK_TTL * 2
        while True:
            done = await self._read(result_key)
            if done is not None and _reusable(done, refresh_token, usable):
                return done
            token = secrets.token_urlsafe(16).encode()
            if await self._take_lock(lock_key, token):
                try:
                    return await self._grant_locked(result_key, refresh_token, grant, usable)
                finally:
                    await self._release(lock_key, token)
            if self._clock() > deadline:
                raise ProviderTimeout("another instance's token refresh did not finish in time")
            await anyio.sleep(self.POLL_INTERVAL)

    async def _take_lock(self, lock_key: str, token: bytes) -> bool:
        try:
            return await self._ops.add(lock_key, token, self.LOCK_TTL)
        except LogtoError:
            # The lock may have been stored all the same (an unacknowledged write): free it.
            await self._release(lock_key, token)
            raise

    async def _release(self, lock_key: str, token: bytes) -> None:
        """Release our lock, best effort: a store that fails now must not cost a grant that
        already succeeded (the lock expires after ``LOCK_TTL`` anyway)."""
        try:
            await self._ops.delete_if(lock_key, token)
        except LogtoError as exc:
            logger.warning(
                "could not release a refresh lock: %s",
                exc.description,
                **telemetry.log_fields("store", "error", exc.error),
            )

    async def _grant_locked(self, result_key: str, spent: str, grant: Grant, usable: Usable) -> Session:
        done = await self._read(result_key)
        if done is not None and _reusable(done, spent, usable):
            return done
        session = await grant()
        # The provider has rotated the token: from here on nothing may lose this session.
        # Sharing it with other processes is best effort; this process keeps it anyway.
        sealed = self._codec.encrypt(session.to_json()).encode("ascii")
        try:
            await self._ops.set(result_key, sealed, self._ttl)
        except LogtoError as exc:
            logger.warning(
                "could not share a refresh result: %s",
                exc.description,
                **telemetry.log_fields("store", "error", exc.error),
            )
        return session
