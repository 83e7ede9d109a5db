"""``LogtoCore``: what one ``LogtoMiddleware`` shares across requests — configuration,
the clock, the provider client, the token service, the session backend, the coordination
and the codecs."""

from __future__ import annotations

import time
from collections.abc import Callable

from ._crypto import JweCodec
from ._http import CookieJar
from ._refresh import RefreshCoordinator, SharedRefreshCoordinator
from .config import LogtoConfig
from .coordination import Coordination, CoordinationPlan, HostCoordination, StoreCoordination, app_key
from .provider import ProviderClient
from .sessions._backends import CookieBackend, SessionBackend, StoreBackend
from .sessions._ops import StoreOps
from .sessions.cookie import CookieStore
from .token_service import TokenService


def _coordination(config: LogtoConfig, server: StoreBackend | None) -> Coordination:
    """The configured coordination, else the store's own (atomic stores), else host-wide."""
    if config.coordination is not None:
        return config.coordination
    if server is not None and server.ops.atomic is not None:
        return StoreCoordination(server.ops.atomic)
    return HostCoordination()


class LogtoCore:
    """Shared, long-lived state of one ``LogtoMiddleware``."""

    def __init__(self, config: LogtoConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        #: Replaceable (tests move time forward); everything here reads it through ``now``.
        self.clock = clock
        self.provider = ProviderClient(config, clock=clock)
        self.jar = CookieJar(
            path=config.cookie_path,
            domain=config.cookie_domain,
            samesite=config.cookie_samesite,
            secure=config.cookie_secure,
        )
        self.transactions = JweCodec(config.cookie_secrets, "sign-in transaction")
        #: Sealed records (refresh results, callback outcomes) kept in the coordination store.
        self.records = JweCodec(config.cookie_secrets, "refresh result")
        #: The server-side store's backend, when sessions live in a store.
        self.server_sessions: StoreBackend | None = None
        if isinstance(config.store, CookieStore):
            self.backend: SessionBackend = CookieBackend(config, config.store, self.jar)
        else:
            self.server_sessions = StoreBackend(config, config.store, self.jar)
            self.backend = self.server_sessions
        key = app_key(config.app_id, config.metadata_url, config.cookie_secrets[0])
        self.coordination: CoordinationPlan = _coordination(config, self.server_sessions).connect(key)
        #: Every coordination call (locks, markers, results), errors mapped to 503.
        self.shared = StoreOps(self.coordination.store, role="coordination")
        refresher = (
            SharedRefreshCoordinator(self.shared, self.records, clock=clock)
            if self.coordination.shared
            else RefreshCoordinator(clock=clock)
        )
        self.tokens = TokenService(config, self.provider, refresher, self.shared, clock=self.now)
        self.renew_after = min(config.session_idle_timeout / 20, 900.0)

    def now(self) -> float:
        return self.clock()

    async def aclose(self) -> None:
        """Close the provider's HTTP client (if ours), the store's and the coordination's
        connections."""
        await self.provider.aclose()
        if self.server_sessions is not None:
            await self.server_sessions.ops.aclose()
        if self.server_sessions is None or self.shared.store is not self.server_sessions.store:
            await self.shared.aclose()
