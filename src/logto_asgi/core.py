"""``LogtoCore``: what one ``LogtoMiddleware`` shares across requests — configuration,
the clock, the provider client, the token service, the session backend and the codecs."""

from __future__ import annotations

import time
from collections.abc import Callable

from ._crypto import JweCodec
from ._http import CookieJar
from ._refresh import RefreshCoordinator, SharedRefreshCoordinator
from .config import LogtoConfig
from .provider import ProviderClient
from .sessions._backends import CookieBackend, SessionBackend, StoreBackend
from .sessions.cookie import CookieStore
from .token_service import TokenService


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
        #: The server-side store's backend, when sessions live in a store.
        self.server_sessions: StoreBackend | None = None
        if isinstance(config.store, CookieStore):
            self.backend: SessionBackend = CookieBackend(config, config.store, self.jar)
            refresher = RefreshCoordinator(clock=clock)
        else:
            self.server_sessions = StoreBackend(config, config.store, self.jar)
            self.backend = self.server_sessions
            refresher = SharedRefreshCoordinator(
                self.server_sessions.ops, JweCodec(config.cookie_secrets, "refresh result"), clock=clock
            )
        self.tokens = TokenService(config, self.provider, refresher, clock=self.now)
        self.renew_after = min(config.session_idle_timeout / 20, 900.0)

    def now(self) -> float:
        return self.clock()

    async def aclose(self) -> None:
        """Close the provider's HTTP client (if ours) and the store's connections."""
        await self.provider.aclose()
        if self.server_sessions is not None:
            await self.server_sessions.ops.aclose()
