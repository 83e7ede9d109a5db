"""``LogtoContext``: the read side a handler sees as ``request.state.logto``.

Reading the user costs nothing: it was decoded with the session. Tokens are fetched on
demand — from the session's cache, or through one refresh grant — and a refreshed
session is written back on the same response.
"""

from __future__ import annotations

import contextvars
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.types import Scope

from ._http import origin
from .errors import (
    AccessDenied,
    AuthorizationError,
    ConfigurationError,
    InsufficientScope,
    LogtoError,
    NotAuthenticated,
    ProviderError,
    SessionExpired,
    TokenValidationError,
)
from .flows import parse_token_response, refresh_params
from .models import AccessTokenClaims, IdTokenClaims, UserInfo, UserInfoScope
from .sessions.base import Session, token_key
from .tokens import check_access_token, read_header, verify_signature

if TYPE_CHECKING:
    from .core import LogtoCore

logger = logging.getLogger("logto_asgi")

_current: contextvars.ContextVar[LogtoContext | None] = contextvars.ContextVar(
    "logto_asgi_context", default=None
)

ORGANIZATION_AUDIENCE = "urn:logto:organization:"


class LogtoContext:
    """Authentication state and token accessors for one request."""

    __slots__ = (
        "_core",
        "_headers",
        "_scheme",
        "_server",
        "_session",
        "_unavailable",
        "_user",
        "changed",
        "ended",
        "user_info",
    )

    def __init__(
        self,
        core: LogtoCore,
        scope: Scope,
        session: Session | None,
        *,
        unavailable: LogtoError | None = None,
        user: IdTokenClaims | None = None,
    ) -> None:
        self._core = core
        # What the context needs of the request, not the scope itself: the scope holds the
        # context (scope["state"]["logto"]), and a cycle would leave every request's
        # objects to the cyclic garbage collector.
        self._headers: list[tuple[bytes, bytes]] = scope["headers"]
        self._scheme: str = scope.get("scheme", "http")
        self._server: tuple[str, int | None] | None = scope.get("server")
        self._session = session
        #: Set when the session store could not be read: touching the session raises it.
        self._unavailable = unavailable
        if user is None and session is not None:
            user = IdTokenClaims(session.claims)
        self._user = user
        #: True when the session changed and must be written back.
        self.changed = False
        #: True when the session ended during this request (cookies must be cleared).
        self.ended = False
        #: Filled by ``requires_auth(fetch_user_info=True)``.
        self.user_info: UserInfo | None = None

    # Read side -------------------------------------------------------------------------

    @property
    def is_authenticated(self) -> bool:
        """Whether the request carries a live session."""
        if self._unavailable is not None:
            raise self._unavailable
        return self._session is not None

    @property
    def user(self) -> IdTokenClaims | None:
        """The ID token claims of the signed-in user (``None`` when signed out)."""
        if self._unavailable is not None:
            raise self._unavailable
        return self._user

    @property
    def id_token(self) -> str | None:
        """The raw ID token."""
        return self.session.id_token if self.session is not None else None

    @property
    def scopes(self) -> frozenset[str]:
        """Scopes granted at sign-in."""
        return self.session.scopes if self.session is not None else frozenset()

    @property
    def session(self) -> Session | None:
        """The session record (tokens included): for stores and tests, not for templates."""
        if self._unavailable is not None:
            raise self._unavailable
        return self._session

    def sign_in_url(self, return_to: str | None = None, interaction_mode: str | None = None) -> str:
        """The sign-in route, with an optional same-origin ``return_to`` and mode."""
        params = {}
        if return_to:
            params["return_to"] = return_to
        if interaction_mode:
            params["interaction_mode"] = interaction_mode
        path = self._core.config.sign_in_path
        return f"{path}?{urlencode(params)}" if params else path

    def sign_out_url(self) -> str:
        """The sign-out route."""
        return self._core.config.sign_out_path

    def absolute_url(self, path: str) -> str:
        return origin(self.request_scope, self._core.config.base_url) + path

    @property
    def request_scope(self) -> Scope:
        """The parts of the request's scope this context keeps (scheme, server, headers)."""
        return {"type": "http", "scheme": self._scheme, "server": self._server, "headers": self._headers}

    # Tokens ----------------------------------------------------------------------------

    def _require_session(self) -> Session:
        if self._unavailable is not None:
            raise self._unavailable
        if self._session is None:
            raise NotAuthenticated("sign in first")
        return self._session

    async def get_access_token(self, resource: str | None = None, organization_id: str | None = None) -> str:
        """An access token for ``resource`` (``None``: the opaque userinfo token) and/or
        the organization, from the session's cache or refreshed when it expired."""
        if organization_id is not None:
            self._check_organizations_configured()
        key = token_key(resource, organization_id)
        for _ in range(3):
            session = self._require_session()
            cached = session.access_tokens.get(key)
            if cached is not None and cached.expires_at > self._core.clock():
                return cached.token
            await self._refresh(resource, organization_id)
        raise ProviderError("the provider keeps issuing tokens that are already expired")

    async def get_access_token_claims(
        self, resource: str | None = None, organization_id: str | None = None
    ) -> AccessTokenClaims:
        """The validated claims of ``get_access_token(resource, organization_id)``.

        The default (no resource) token is opaque at Logto: ask for a resource instead.
        """
        token = await self.get_access_token(resource, organization_id)
        if token.count(".") != 2:
            raise LogtoError(
                "this access token is opaque (no resource was given): pass resource=… to get a "
                "JWT access token whose claims can be read"
            )
        read_header(token)
        core = self._core
        metadata = await core.provider.metadata()
        claims = await verify_signature(token, core.provider)
        audience = resource or (f"{ORGANIZATION_AUDIENCE}{organization_id}" if organization_id else None)
        check_access_token(
            claims,
            issuer=metadata.issuer,
            audience=audience,
            now=core.clock(),
            leeway=core.config.clock_skew,
        )
        return AccessTokenClaims(claims)

    async def get_organization_token(self, organization_id: str) -> str:
        """An organization token (``aud = urn:logto:organization:<id>``)."""
        return await self.get_access_token(None, organization_id)

    async def get_organization_token_claims(self, organization_id: str) -> AccessTokenClaims:
        """The validated claims of ``get_organization_token(organization_id)``."""
        return await self.get_access_token_claims(None, organization_id)

    async def granted_scopes(
        self, resource: str | None = None, organization_id: str | None = None
    ) -> frozenset[str]:
        """The scopes this request may use: those of the access token for ``resource``
        and/or ``organization_id``, else the scopes granted at sign-in (what the guards
        check; ``BearerContext`` answers the same question for API calls)."""
        if resource is None and organization_id is None:
            self._require_session()
            return self.scopes
        return (await self.get_access_token_claims(resource, organization_id)).scopes

    async def fetch_user_info(self) -> UserInfo:
        """Every claim of the granted scopes, from the userinfo endpoint."""
        session = self._require_session()
        for attempt in range(2):
            token = await self.get_access_token()
            try:
                data = await self._core.provider.userinfo(token)
            except AuthorizationError:
                if attempt:
                    raise
                # The cached token was revoked or expired early: refresh once, then retry.
                # (copy first: loaded sessions are shared between requests and never mutated)
                stale = self._require_session().copy()
                stale.access_tokens.pop("", None)
                self._session = stale
                continue
            if data.get("sub") != session.claims.get("sub"):
                raise TokenValidationError("the userinfo response is for another user", check="sub")
            info = UserInfo(data)
            self.user_info = info
            return info
        raise AssertionError("unreachable")  # pragma: no cover

    def _check_organizations_configured(self) -> None:
        if UserInfoScope.organizations.value not in self._core.config.scopes:
            raise ConfigurationError(
                "scopes",
                "organization tokens need the organizations scope: add "
                "UserInfoScope.organizations to LogtoConfig(scopes=[...])",
            )

    async def _refresh(self, resource: str | None, organization_id: str | None) -> None:
        session = self._require_session()
        refresh_token = session.refresh_token
        if not refresh_token:
            self._end()
            raise SessionExpired(
                "the session has no refresh token (was offline_access granted?): sign in again"
            )
        core = self._core

        async def grant() -> Session:
            params = refresh_params(refresh_token, resource=resource, organization_id=organization_id)
            try:
                body = await core.provider.token_request(params, what="token refresh")
            except AuthorizationError as exc:
                raise self._refresh_error(exc, resource, organization_id) from exc
            now = core.clock()
            tokens = parse_token_response(body, now=now)
            fresh = session.copy()
            fresh.refresh_token = tokens.refresh_token or refresh_token
            fresh.access_tokens[token_key(resource, organization_id)] = core.cached_token(tokens, now=now)
            if tokens.id_token:
                try:
                    claims = await core.validate_id_token(
                        tokens.id_token, nonce=None, expected_sub=str(session.claims["sub"])
                    )
                except TokenValidationError as exc:
                    if exc.check not in ("exp", "iat"):
                        raise SessionExpired(
                            f"the provider's refreshed ID token failed the {exc.check!r} check: "
                            "the session was ended, sign in again"
                        ) from exc
                    # The refresh token is already spent: keep its successor and the new access
                    # token, and keep the previous ID token rather than lose the session over
                    # a clock difference.
                    logger.warning(
                        "refreshed ID token failed the %r check; keeping the previous one", exc.check
                    )
                else:
                    fresh.id_token, fresh.claims = tokens.id_token, claims
            fresh.updated_at = int(now)
            return fresh

        try:
            self._session = await core.refresher.refresh(refresh_token, grant)
        except SessionExpired:
            self._end()
            raise
        self._user = IdTokenClaims(self._session.claims)
        self.changed = True

    def _refresh_error(
        self, exc: AuthorizationError, resource: str | None, organization_id: str | None
    ) -> LogtoError:
        code = exc.provider_error
        if code == "invalid_grant":
            return SessionExpired(
                "the provider no longer accepts this session's refresh token: sign in again"
            )
        if code == "access_denied":
            target = f"organization {organization_id!r}" if organization_id else f"resource {resource!r}"
            return AccessDenied(f"the provider refused a token for {target} (not a member?)")
        if code == "insufficient_scope":
            return InsufficientScope(
                "the session was not granted the scope this token needs: add "
                "UserInfoScope.organizations to LogtoConfig.scopes and sign in again",
                scopes=[UserInfoScope.organizations.value],
            )
        if code == "invalid_target":
            return ConfigurationError(
                "resources",
                f"the provider does not know resource {resource!r} for this sign-in: add it to "
                "LogtoConfig(resources=[...]) and sign in again",
            )
        return exc

    def _end(self) -> None:
        self._session = None
        self._user = None
        self.ended = True

    def __repr__(self) -> str:
        if self._unavailable is not None:
            return "LogtoContext(<session store unavailable>)"
        sub = self._user.sub if self._user is not None else None
        return f"LogtoContext(is_authenticated={self.is_authenticated}, sub={sub!r})"


def current() -> LogtoContext:
    """The context of the request being served (for handlers that take no request)."""
    ctx = _current.get()
    if ctx is None:
        raise LookupError("no logto-asgi request is being served here (is LogtoMiddleware installed?)")
    return ctx


def get_context(request_or_scope: Any) -> LogtoContext:
    """The context from a Starlette ``Request``/``WebSocket`` or a raw ASGI scope."""
    scope = getattr(request_or_scope, "scope", request_or_scope)
    try:
        ctx = scope["state"]["logto"]
    except (KeyError, TypeError) as exc:
        raise LookupError("no logto-asgi context on this request (is LogtoMiddleware installed?)") from exc
    if not isinstance(ctx, LogtoContext):
        raise LookupError("request.state.logto is not a LogtoContext")
    return ctx
