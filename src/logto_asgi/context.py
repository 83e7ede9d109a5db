"""``LogtoContext``: the read side a handler sees as ``request.state.logto``.

Reading the user costs nothing: it was decoded with the session. Tokens are fetched on
demand — from the session's cache, or through the token service's single-flight
refresh — and a refreshed session is written back on the same response.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.types import Scope

from ._scope_keys import session_context
from .engine import current_scope
from .errors import AuthorizationError, ConfigurationError, LogtoError, NotAuthenticated, ProviderError
from .models import AccessTokenClaims, IdTokenClaims, UserInfo, UserInfoScope
from .sessions.base import Session, token_key
from .sign_in_options import sign_in_extras
from .tokens import ORGANIZATION_AUDIENCE

if TYPE_CHECKING:
    from .core import LogtoCore
    from .guards import AuthContext

__all__ = ["ORGANIZATION_AUDIENCE", "LogtoContext", "current", "current_auth", "get_context"]


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
        return self.session is not None

    @property
    def user(self) -> IdTokenClaims | None:
        """The ID token claims of the signed-in user (``None`` when signed out)."""
        if self._unavailable is not None:
            raise self._unavailable
        return self._user

    def now(self) -> float:
        """The middleware's clock (``LogtoMiddleware(clock=...)``), e.g. to judge ``auth_time``."""
        return self._core.now()

    def require_user(self) -> IdTokenClaims:
        """``user``, typed as present: ``NotAuthenticated`` when signed out."""
        user = self.user
        if user is None:
            raise NotAuthenticated("sign in first")
        return user

    @property
    def id_token(self) -> str | None:
        """The raw ID token."""
        return self.session.id_token if self.session is not None else None

    @property
    def app_data(self) -> Mapping[str, Any]:
        """The app's data that ``on_sign_in`` kept in the session (read-only; empty when
        signed out)."""
        session = self.session
        return MappingProxyType(dict(session.app_data)) if session is not None else MappingProxyType({})

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

    def sign_in_url(
        self,
        return_to: str | None = None,
        interaction_mode: str | None = None,
        *,
        prompt: str | None = None,
        max_age: int | None = None,
        ui_locales: str | None = None,
        login_hint: str | None = None,
        first_screen: str | None = None,
        direct_sign_in: str | None = None,
    ) -> str:
        """The sign-in route, with an optional same-origin ``return_to`` and the options
        the route forwards (``sign_in_options``): ``prompt="login"`` and ``max_age`` ask
        for a fresh authentication (step-up: the callback then checks ``auth_time``),
        ``prompt="select_account"`` a switch of account, ``ui_locales`` the language.
        ``ValueError`` for an option the route would drop."""
        options = {
            "interaction_mode": interaction_mode,
            "prompt": prompt,
            "max_age": None if max_age is None else str(max_age),
            "ui_locales": ui_locales,
            "login_hint": login_hint,
            "first_screen": first_screen,
            "direct_sign_in": direct_sign_in,
        }
        given = {name: value for name, value in options.items() if value is not None}
        accepted = sign_in_extras(given)
        if len(accepted) != len(given):
            refused = sorted(set(given) - set(accepted))
            raise ValueError(f"sign_in_url: invalid value for {', '.join(refused)}")
        params = {"return_to": return_to} if return_to else {}
        params.update(accepted)
        path = self._core.config.sign_in_path
        return f"{path}?{urlencode(params)}" if params else path

    def sign_out_url(self) -> str:
        """The sign-out route."""
        return self._core.config.sign_out_path

    @property
    def request_scope(self) -> Scope:
        """The parts of the request's scope this context keeps (scheme, server, headers)."""
        return {"type": "http", "scheme": self._scheme, "server": self._server, "headers": self._headers}

    # Tokens ----------------------------------------------------------------------------

    def _require_session(self) -> Session:
        session = self.session
        if session is None:
            raise NotAuthenticated("sign in first")
        return session

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
            await self._refresh(session, resource, organization_id)
        raise ProviderError("the provider keeps issuing tokens that are already expired")

    async def get_access_token_claims(
        self, resource: str | None = None, organization_id: str | None = None
    ) -> AccessTokenClaims:
        """The validated claims of ``get_access_token(resource, organization_id)``.

        The default (no resource) token is opaque at Logto: ask for a resource instead.
        """
        token = await self.get_access_token(resource, organization_id)
        return await self._core.tokens.access_token_claims(token, resource, organization_id)

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
            return self._require_session().scopes
        return (await self.get_access_token_claims(resource, organization_id)).scopes

    async def fetch_user_info(self) -> UserInfo:
        """Every claim of the granted scopes, from the userinfo endpoint."""
        sub = self._require_session().claims.get("sub")
        token = await self.get_access_token()
        try:
            info = await self._core.tokens.user_info(token, sub=sub)
        except AuthorizationError:
            # The cached token was revoked or expired early: drop it, refresh once, retry.
            self._session = self._require_session().with_token("", None)
            token = await self.get_access_token()
            info = await self._core.tokens.user_info(token, sub=sub)
        self.user_info = info
        return info

    def _check_organizations_configured(self) -> None:
        if UserInfoScope.organizations.value not in self._core.config.scopes:
            raise ConfigurationError(
                "scopes",
                "organization tokens need the organizations scope: add "
                "UserInfoScope.organizations to LogtoConfig(scopes=[...])",
            )

    async def _refresh(self, session: Session, resource: str | None, organization_id: str | None) -> None:
        try:
            fresh = await self._core.tokens.refresh(session, resource, organization_id)
        except NotAuthenticated:
            self._end()
            raise
        self._session = fresh
        self._user = IdTokenClaims(fresh.claims)
        self.changed = True

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
    """The session context of the request being served (for handlers that take no
    request). Use ``current_auth()`` for whoever authenticated it (a bearer token wins)."""
    scope = current_scope.get()
    ctx = session_context(scope) if scope is not None else None
    if not isinstance(ctx, LogtoContext):
        raise LookupError("no logto-asgi request is being served here (is LogtoMiddleware installed?)")
    return ctx


def current_auth() -> AuthContext:
    """Whoever authenticated the request being served: its session's ``LogtoContext``,
    or the ``BearerContext`` of a bearer token (what ``request.state.logto`` holds)."""
    scope = current_scope.get()
    if scope is None:
        raise LookupError(
            "no logto-asgi request is being served here (is a logto-asgi middleware installed?)"
        )
    result: AuthContext = scope["state"]["logto"]
    return result


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


def get_user(request_or_scope: Any) -> IdTokenClaims:
    """The signed-in user's ID token claims, typed (``request.state.user`` is ``Any`` to a
    type checker); ``NotAuthenticated`` (a 401, or the sign-in redirect of a guard) when
    the request is signed out."""
    return get_context(request_or_scope).require_user()
