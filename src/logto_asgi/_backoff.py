"""``Backoff``: the failure memory of one provider endpoint (discovery, JWKS).

A failed fetch is remembered: for ``INITIAL_DELAY`` seconds after it, doubling with each
failure in a row up to ``MAX_DELAY``, nobody asks that endpoint again — every caller gets
the remembered failure at once, with the seconds left in ``retry_after``. A success forgets
everything. However much traffic arrives during an outage, one process asks each endpoint
at most four times in the first ten seconds (at 0, 1, 3 and 7 s), then once per 30 s.

Who may reuse a failure: every caller of the same endpoint of the same ``ProviderClient``,
until its delay has elapsed. Only the failure's kind and description are kept, never the
exception itself (its traceback would pin the failed request's frames, and one exception
object raised in many tasks gets their tracebacks chained onto it).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import TypeVar

from . import telemetry
from .errors import ProviderError, ProviderUnavailable

__all__ = ["INITIAL_DELAY", "MAX_DELAY", "Backoff"]

logger = logging.getLogger("logto_asgi")

#: Seconds an endpoint is left alone after its first failure in a row.
INITIAL_DELAY = 1.0
#: The longest it is left alone, however many failures in a row.
MAX_DELAY = 30.0

T = TypeVar("T")


class Backoff:
    """Failure memory of one endpoint; ``what`` names it in errors and logs.

    ``call(fetch)`` runs ``fetch`` unless the endpoint is being left alone, and remembers
    how it went. A remembered answer that was no document at all (unreachable, too slow,
    HTTP 5xx, not JSON) comes back as ``ProviderUnavailable`` (503); a document we could
    not use (another issuer, a 4xx) as ``ProviderError`` (502) — either way with
    ``retry_after``. The clock is injected; a clock that went backwards ends the wait.
    """

    __slots__ = ("_clock", "_delay", "_description", "_failed_at", "_kind", "cap", "initial", "what")

    def __init__(
        self,
        what: str,
        clock: Callable[[], float],
        *,
        initial: float = INITIAL_DELAY,
        cap: float = MAX_DELAY,
    ) -> None:
        self.what = what
        self.initial = initial
        self.cap = cap
        self._clock = clock
        self._delay = 0.0
        self._failed_at = 0.0
        self._kind: type[ProviderError] = ProviderUnavailable
        self._description = ""

    def remaining(self) -> float:
        """Seconds until the endpoint may be asked again (0: now)."""
        if not self._delay:
            return 0.0
        elapsed = self._clock() - self._failed_at
        if elapsed < 0:  # the clock went backwards: do not wait for it to catch up
            return 0.0
        return max(0.0, self._delay - elapsed)

    def check(self) -> None:
        """Raise the remembered failure while the endpoint is left alone."""
        remaining = self.remaining()
        if remaining > 0:
            raise self._kind(
                f"{self._description}; the {self.what} request is not retried for {math.ceil(remaining)} s",
                retry_after=remaining,
            )

    def failed(self, exc: ProviderError) -> None:
        """Remember ``exc`` and leave the endpoint alone for the next delay, which
        ``exc.retry_after`` now says."""
        self._delay = min(self.cap, self._delay * 2) if self._delay else self.initial
        self._failed_at = self._clock()
        self._kind = ProviderError if type(exc) is ProviderError else ProviderUnavailable
        self._description = exc.description
        exc.retry_after = self._delay
        logger.warning(
            "the provider's %s request failed (%s): not retried for %g s",
            self.what,
            exc.description,
            self._delay,
            **telemetry.log_fields("provider", "backoff", exc.error),
        )

    def succeeded(self) -> None:
        """Forget every failure."""
        if self._delay:
            logger.info(
                "the provider's %s request succeeded again",
                self.what,
                **telemetry.log_fields("provider", "ok"),
            )
        self._delay = 0.0

    async def call(self, fetch: Callable[[], Awaitable[T]]) -> T:
        """``fetch()``, unless backing off; its ``ProviderError`` is remembered."""
        self.check()
        try:
            result = await fetch()
        except ProviderError as exc:
            self.failed(exc)
            raise
        self.succeeded()
        return result
