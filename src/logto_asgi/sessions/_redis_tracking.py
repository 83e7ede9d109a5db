"""``RedisStore(local_cache=…)``: session entries kept in this process while Redis tells
it of every change.

Redis's client tracking in broadcast mode (``CLIENT TRACKING ON BCAST PREFIX …``) names
every key under a prefix that anyone writes, deletes or lets expire. One dedicated
connection per store asks for it, redirected to itself, and listens on
``__redis__:invalidate`` (RESP2, so any redis-py from 5.0 on and any Redis from 6.0 on).
Three rules make a kept value safe to serve instead of a ``GET``:

1. **Invalidation.** A key named in a message is dropped; a message naming none
   (``FLUSHDB``) drops everything.
2. **No lost race.** A ``GET`` that was in flight while any invalidation arrived is not
   kept (a counter, ``epoch``): its value may predate the write.
3. **Freshness.** The listener sends ``PING`` every ``staleness / 4``; a value is served
   only while a ``PONG`` has answered a ``PING`` sent at most ``staleness`` seconds ago.
   Redis answers one connection in order, so that ``PONG`` came after the invalidation of
   every write finished before the ``PING`` reached Redis: a write (a sign-out on another
   host) acknowledged more than ``staleness`` ago is never hidden — also when the
   listener's connection died silently (a partition, a failover), which only stops the
   PONGs. Without them for ten times ``staleness`` (at least a second) the connection is
   dropped and made again.

A new connection starts empty: what was kept before may have changed meanwhile. Until it
is subscribed and has its first ``PONG``, every read goes to Redis. A Redis that refuses
tracking (an ACL without ``CLIENT``) leaves the store working without the local cache
(a warning, then another try every 30 s).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from .._cache import BoundedCache

logger = logging.getLogger("logto_asgi")

__all__ = ["TrackedValues"]

_CHANNEL = b"__redis__:invalidate"
_RETRY_FIRST, _RETRY_MAX = 0.05, 2.0
_REFUSED_RETRY = 30.0


class TrackedValues:
    """Values of keys under ``prefix``, kept while Redis's tracking vouches for them."""

    def __init__(
        self,
        connect: Callable[[], Any],
        prefix: str,
        *,
        size: int,
        staleness: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connect = connect  # a new redis-py asyncio Connection (RESP2), not connected
        self._prefix = prefix
        self._values: BoundedCache[str, bytes] = BoundedCache(size)
        self._staleness = staleness
        self._clock = clock
        #: Bumped by every invalidation and every change of connection.
        self.epoch = 0
        self._confirmed = -math.inf  # when the PING behind the latest PONG was sent
        self._sent: deque[float] = deque()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Counters (tests and ``make bench``): served here, connections made, invalidations.
        self.hits = 0
        self.connections = 0
        self.invalidations = 0

    # Reads and writes (the store's side) ------------------------------------------------

    def fresh(self) -> bool:
        """Whether kept values may be served now (rule 3)."""
        return self._clock() - self._confirmed <= self._staleness

    def get(self, name: str) -> bytes | None:
        """The kept value of ``name``, when there is one and it may be served."""
        self._ensure_listening()
        if not self.fresh():
            return None
        value = self._values.get(name)
        if value is not None:
            self.hits += 1
        return value

    def keep(self, name: str, value: bytes, epoch: int) -> None:
        """Keep what a ``GET`` that started at ``epoch`` read (rule 2)."""
        if epoch == self.epoch and self.fresh():
            self._values.put(name, value)

    def forget(self, name: str) -> None:
        """This process writes ``name``: drop it now, before Redis's message comes."""
        self.epoch += 1
        self._values.pop(name)

    def __len__(self) -> int:
        return len(self._values)

    def _drop_all(self) -> None:
        self.epoch += 1
        self._values.clear()

    # The listener -----------------------------------------------------------------------

    def _ensure_listening(self) -> None:
        task = self._task
        if task is not None and not task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - the store is only used from a loop
            return
        self._loop = loop
        self._task = loop.create_task(self._run(), name="logto-asgi redis tracking")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        self._drop_all()
        self._confirmed = -math.inf
        if task is not None and not task.done() and self._loop is asyncio.get_running_loop():
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        delay = _RETRY_FIRST
        failing = False
        while True:
            try:
                await self._listen()
                delay = _RETRY_FIRST
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                refused = "tracking" in str(exc).lower() or "noperm" in str(exc).lower()
                if not failing or refused:
                    logger.warning("RedisStore local cache off until Redis tracking works again: %s", exc)
                failing = True
                delay = _REFUSED_RETRY if refused else delay
            finally:
                self._drop_all()
                self._confirmed = -math.inf
                self._sent.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX) if delay < _REFUSED_RETRY else delay

    async def _listen(self) -> None:
        connection = self._connect()
        try:
            await connection.connect()
            await connection.send_command("CLIENT", "ID")
            client_id = await connection.read_response()
            await connection.send_command(
                "CLIENT", "TRACKING", "ON", "REDIRECT", client_id, "BCAST", "PREFIX", self._prefix
            )
            if await connection.read_response() != b"OK":
                raise RuntimeError("CLIENT TRACKING was not accepted")
            await connection.send_command("SUBSCRIBE", _CHANNEL)
            await connection.read_response()
            self._drop_all()  # (rule: a new connection starts empty)
            self.connections += 1
            pinger = asyncio.get_running_loop().create_task(self._ping(connection))
            try:
                while True:
                    self._on_message(await connection.read_response(timeout=math.inf))
            finally:
                pinger.cancel()
                with suppress(asyncio.CancelledError, Exception):
                    await pinger
        finally:
            with suppress(Exception):
                await connection.disconnect()

    async def _ping(self, connection: Any) -> None:
        interval = self._staleness / 4
        give_up = max(1.0, 10 * self._staleness)
        started = self._clock()
        while True:
            now = self._clock()
            if now - max(self._confirmed, started) > give_up:
                logger.warning("RedisStore local cache: Redis stopped answering; reconnecting")
                await connection.disconnect()  # the reader's next read fails: a new connection
                return
            self._sent.append(now)
            await connection.send_command("PING", check_health=False)
            await asyncio.sleep(interval)

    def _on_message(self, message: Any) -> None:
        if not isinstance(message, list) or not message:
            return
        kind = message[0]
        if kind == b"pong" and self._sent:
            self._confirmed = self._sent.popleft()
        elif kind == b"message" and len(message) == 3 and message[1] == _CHANNEL:
            self.invalidations += 1
            keys = message[2]
            if keys is None:
                self._drop_all()
                return
            self.epoch += 1
            for key in keys:
                self._values.pop(key.decode("utf-8", "surrogateescape"))
