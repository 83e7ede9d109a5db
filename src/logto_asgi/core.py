"""``LogtoCore``: what one middleware instance shares across requests — configuration,
provider client, codecs, session backend, refresh coordinator and the clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ._crypto import JweCodec
from ._http import CookieJar
from ._refresh import RefreshCoordinator, SharedRefreshCoordinator
from .config import LogtoConfig
from .errors import TokenValidationError
from .flows import TokenResponse
from .provider import ProviderClient
from .sessions._backends import StoreBackend, make_backend
from .sessions.base import CachedToken, Session, SessionStore
from .tokens import check_id_token, verify_signature


class LogtoCore:
    """Shared, long-lived state of one ``LogtoMiddleware``."""

    def __init__(self, config: LogtoConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.provider = ProviderClient(config, clock=clock)
        self.jar = CookieJar(
            path=config.cookie_path,
            domain=config.cookie_domain,
            samesite=config.cookie_samesite,
            secure=config.cookie_secure,
        )
        self.backend = make_backend(config, self.jar)
        self.transactions = JweCodec(config.cookie_secrets, "sign-in transaction")
        self.store: SessionStore | None = None
        if isinstance(self.backend, StoreBackend):
            self.store = self.backend.store
            self.refresher: RefreshCoordinator = SharedRefreshCoordinator(
                self.store, JweCodec(config.cookie_secrets, "refresh result"), clock=clock
            )
        else:
            self.refresher = RefreshCoordinator(clock=clock)
        self.renew_after = min(config.session_idle_timeout / 20, 900.0)

    async def validate_id_token(
        self, id_token: str, *, nonce: str | None, expected_sub: str | None = None
    ) -> dict[str, Any]:
        """Signature and claims of an ID token; ``expected_sub`` for refreshed ones."""
        metadata = await self.provider.metadata()
        claims = await verify_signature(id_token, self.provider)
        check_id_token(
            claims,
            issuer=metadata.issuer,
            client_id=self.config.app_id,
            nonce=nonce,
            now=self.clock(),
            leeway=self.config.clock_skew,
        )
        if expected_sub is not None and claims.get("sub") != expected_sub:
            raise TokenValidationError("the refreshed ID token is for another user", check="sub")
        return claims

    def cached_token(self, tokens: TokenResponse, *, now: float) -> CachedToken:
        """Keep a token until shortly before it expires (``clock_skew``, at most half its
        lifetime, so short-lived test tokens stay usable)."""
        lifetime = max(0.0, tokens.expires_at - now)
        margin = min(self.config.clock_skew, lifetime / 2)
        return CachedToken(tokens.access_token, tokens.expires_at - margin, tokens.scope or "")

    def new_session(
        self, *, id_token: str, claims: dict[str, Any], tokens: TokenResponse, now: float
    ) -> Session:
        config = self.config
        session = Session(
            id_token=id_token,
            claims=claims,
            refresh_token=tokens.refresh_token,
            scope=tokens.scope or " ".join(config.all_scopes),
            created_at=int(now),
            updated_at=int(now),
            expires_at=int(now + config.session_max_age),
        )
        session.access_tokens[""] = self.cached_token(tokens, now=now)
        return session

    async def aclose(self) -> None:
        """Close the provider's HTTP client (if ours) and the store's connections."""
        await self.provider.aclose()
        closer = getattr(self.store, "aclose", None)
        if closer is not None:
            await closer()
