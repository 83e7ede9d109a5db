"""``BearerAuthMiddleware``: Logto's "protect your API" for any ASGI app.

A request with ``Authorization: Bearer <JWT access token>`` is validated — its ``typ``
header (``at+jwt``, RFC 9068), the signature against the provider's cached JWKS
(asymmetric algorithms only), then ``iss``, ``aud``, ``exp``, ``nbf`` and no claim of ID
tokens — and carries a ``BearerContext`` in ``request.state.logto`` and the
token's claims in ``request.state.user``, so the same ``requires_auth`` guards protect
API calls and browser sessions. ``request.user`` / ``request.auth`` follow Starlette's
conventions, as with ``LogtoMiddleware``.

A token that fails any check gets RFC 6750's 401 with ``WWW-Authenticate: Bearer
error="invalid_token"`` and no hint of which check failed (that goes to the
``logto_asgi`` logger). A request without a bearer token passes through: anonymous, or
with whatever ``LogtoMiddleware`` put in the scope. One app may use both middlewares in
either order; a request that carries a bearer token is authenticated by the token.
Which identity wins when a request carries both a session and a token is configuration
(``precedence``: a token's 20 beats a session's 10 by default), not middleware order.
``logto_asgi.current()`` stays the session's ``LogtoContext``; ``current_auth()`` and
``request.state.logto`` give the token's context, as the guards use.

Observed: ``logto.bearer.verify`` spans a check that asks the provider (keys,
introspection); a check from cached keys or a cached answer — the hot path — makes a span
only when it refuses the token. Refusals count in ``logto.bearer.rejections``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any

import httpx
from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.types import ASGIApp, Scope

from . import telemetry
from .bearer_context import BearerContext
from .boundary import (
    BearerTokenRejected,
    ErrorRenderer,
    install_framework_handler,
    render_error,
    renderer_for,
)
from .config import _check_url
from .engine import Engine, claim_identity, rank
from .error_hook import ErrorHook
from .errors import ConfigurationError, LogtoError, TokenValidationError
from .introspection import Introspector, TokenIntrospection, check_introspected, looks_like_jwt
from .messages import DEFAULT_MESSAGES, Messages
from .models import AccessTokenClaims
from .provider import ProviderClient, ProviderSettings
from .tokens import (
    ACCESS_TOKEN_TYPES,
    JWT_ACCESS_TOKEN_TYPES,
    verify_access_token,
)
from .users import BearerUser

__all__ = ["BearerAuthMiddleware", "BearerContext", "BearerUser"]

logger = logging.getLogger("logto_asgi")

#: A valid bearer token's precedence over a session (10).
BEARER_PRECEDENCE = 20
_ANONYMOUS_USER = UnauthenticatedUser()


def _rejected(check: str, unexpected: Exception | None = None) -> None:
    """Log and count a refused bearer token (never the token)."""
    fields = telemetry.log_fields("bearer", "rejected", TokenValidationError.error)
    if unexpected is None:
        logger.info("bearer token rejected: failed the %s check", check, **fields)
    else:
        logger.warning("bearer token rejected: unexpected %s", type(unexpected).__name__, **fields)
    telemetry.count("logto.bearer.rejections", check=check)


class BearerAuthenticator:
    """Offers the claims of a valid ``Authorization: Bearer`` token; refuses an invalid
    one (``BearerTokenRejected``: 401); says "nobody" (a fallback) without a token."""

    def __init__(
        self,
        provider: ProviderClient,
        *,
        audiences: tuple[str, ...],
        organization_tokens: bool,
        clock: Callable[[], float],
        leeway: float,
        precedence: int,
        token_types: frozenset[str | None] = ACCESS_TOKEN_TYPES,
        introspection: TokenIntrospection | None = None,
    ) -> None:
        self.provider = provider
        self.introspector = (
            Introspector(introspection, provider.send, clock) if introspection is not None else None
        )
        self.audiences = audiences
        self.organization_tokens = organization_tokens
        self.clock = clock
        self.leeway = leeway
        self.token_types = token_types
        self._rank = rank(authenticated=True, precedence=precedence)
        self._fallback_rank = rank(authenticated=False, precedence=precedence, fallback=True)

    def authenticate(self, scope: Scope) -> Coroutine[Any, Any, None] | None:
        try:
            token = _bearer_token(value for name, value in scope["headers"] if name == b"authorization")
        except TokenValidationError as exc:
            _rejected(exc.check)
            raise BearerTokenRejected(exc.check) from exc
        if token is None:
            claim_identity(
                scope, self._fallback_rank, BearerContext(), _ANONYMOUS_USER, AuthCredentials(), None
            )
            return None
        return self._authenticate_token(scope, token)

    async def _authenticate_token(self, scope: Scope, token: str) -> None:
        try:
            claims = await self.verify(token)
        except TokenValidationError as exc:
            _rejected(exc.check)
            raise BearerTokenRejected(exc.check) from exc
        except LogtoError:  # the provider is down or sends a broken JWKS: not the client's fault
            raise
        except Exception as exc:  # whatever a hostile token trips in a parser is still a 401
            _rejected("format", exc)
            raise BearerTokenRejected("format") from exc
        if claims is None:
            claim_identity(
                scope, self._fallback_rank, BearerContext(), _ANONYMOUS_USER, AuthCredentials(), None
            )
            return
        ctx = BearerContext(claims, token, self.clock)
        auth = AuthCredentials(sorted({"authenticated", *ctx.scopes}))
        claim_identity(scope, self._rank, ctx, BearerUser(claims), auth, claims)

    async def verify(self, token: str) -> AccessTokenClaims:
        """The claims of a valid access token; ``TokenValidationError`` otherwise (or a
        ``ProviderError`` when the keys cannot be fetched)."""
        introspector = self.introspector
        if introspector is not None and (introspector.options.jwts or not looks_like_jwt(token)):
            quiet = self.provider.cached(keys=False) and introspector.cached(token)
            method = "introspection"
        else:
            introspector, quiet, method = None, self.provider.cached(keys=True), "jwt"
        observe = telemetry.failure_span if quiet else telemetry.span
        with observe("logto.bearer.verify", **{"logto.bearer.method": method}):
            return await self._verify(token, introspector)

    async def _verify(self, token: str, introspector: Introspector | None) -> AccessTokenClaims:
        """``verify``, by introspection when ``introspector`` is given, else as a JWT."""
        metadata = await self.provider.metadata()
        if introspector is not None:
            answer = await introspector.answer(token, metadata)
            return AccessTokenClaims(
                check_introspected(
                    answer,
                    issuer=metadata.issuer,
                    audiences=self.audiences,
                    client_ids=introspector.options.client_ids,
                    now=self.clock(),
                    leeway=self.leeway,
                )
            )
        claims = await verify_access_token(
            token,
            self.provider,
            issuer=metadata.issuer,
            audience=self.audiences,
            now=self.clock(),
            leeway=self.leeway,
            organization_tokens=self.organization_tokens,
            token_types=self.token_types,
        )
        return AccessTokenClaims(claims)


class BearerAuthMiddleware(Engine):
    """Validate ``Authorization: Bearer <JWT>`` access tokens for an API.

    ``endpoint`` is the Logto endpoint (issuer ``{endpoint}/oidc``); any other provider is
    named by ``discovery_url`` (and ``issuer`` when that URL is not
    ``{issuer}/.well-known/openid-configuration``). ``audience`` is the API's resource
    indicator, or a list of them;
    ``organization_tokens=True`` also accepts organization tokens of this issuer
    (``aud = urn:logto:organization:<id>``). ``leeway`` is the allowed clock skew in
    seconds; ``clock`` and ``http_client`` are injectable (see ``logto_asgi.testing``).
    ``precedence`` ranks a valid token against a session (10) on the same app.

    Only access tokens typed ``at+jwt`` (RFC 9068 section 4; Logto's) are accepted, so an
    ID token of the same provider cannot stand in for one. ``accept_jwt_typ=True`` also
    accepts ``typ: JWT``, for providers whose access tokens say so (Keycloak unless its
    client sends RFC 9068 headers, LemonLDAP::NG); tokens carrying a claim of ID tokens
    (``nonce``, ``at_hash``, ``c_hash``, ``s_hash``, or Keycloak's ``typ: "ID"`` claim) are
    refused even then. A token without ``typ`` is always refused.

    ``introspection=TokenIntrospection(client_id=..., client_secret=...)`` accepts opaque
    access tokens too (RFC 7662; see ``logto_asgi.introspection``): a token that is not
    shaped like a JWT is sent to the provider's introspection endpoint, its answer cached.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        endpoint: str | None = None,
        audience: str | Sequence[str] | None = None,
        organization_tokens: bool = False,
        discovery_url: str | None = None,
        issuer: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        http_timeout: float = 10,
        clock: Callable[[], float] = time.time,
        leeway: float = 60,
        precedence: int = BEARER_PRECEDENCE,
        error_renderer: ErrorRenderer = render_error,
        accept_jwt_typ: bool = False,
        introspection: TokenIntrospection | None = None,
        on_error: ErrorHook | None = None,
        messages: Messages = DEFAULT_MESSAGES,
    ) -> None:
        if error_renderer is render_error:
            error_renderer = renderer_for(messages)
        audiences = (audience,) if isinstance(audience, str) else tuple(audience or ())
        for aud in audiences:
            if not isinstance(aud, str) or not aud or " " in aud:
                raise ConfigurationError("audience", f"must be resource indicators, got {aud!r}")
        if not audiences and not organization_tokens:
            raise ConfigurationError(
                "audience",
                "name the API resource indicator(s) this app serves (e.g. 'https://api.example.com'), "
                "or accept organization tokens with organization_tokens=True",
            )
        if not 0 <= leeway <= 600:
            raise ConfigurationError("leeway", "must be between 0 and 600 seconds")
        if introspection is not None and not isinstance(introspection, TokenIntrospection):
            raise ConfigurationError("introspection", "must be a TokenIntrospection(...)")
        if not isinstance(accept_jwt_typ, bool):
            raise ConfigurationError("accept_jwt_typ", f"must be True or False, got {accept_jwt_typ!r}")
        if endpoint is not None:
            endpoint = _check_url("endpoint", endpoint)
        if discovery_url is not None:
            _check_url("discovery_url", discovery_url)
        settings = ProviderSettings.for_provider(
            endpoint,
            discovery_url=discovery_url,
            issuer=issuer,
            http_timeout=http_timeout,
            http_client=http_client,
        )
        self.provider = ProviderClient(settings, clock=clock)
        self.authenticator = BearerAuthenticator(
            self.provider,
            audiences=audiences,
            organization_tokens=organization_tokens,
            clock=clock,
            leeway=leeway,
            precedence=precedence,
            token_types=JWT_ACCESS_TOKEN_TYPES if accept_jwt_typ else ACCESS_TOKEN_TYPES,
            introspection=introspection,
        )
        super().__init__(
            app,
            routes={},
            authenticators=[self.authenticator],
            on_startup=self._warm_up,
            on_shutdown=self.aclose,
            renderer=error_renderer,
            on_error=on_error,
        )
        # Quart is wrapped as `app.asgi_app = BearerAuthMiddleware(app.asgi_app, ...)`: a bound method.
        install_framework_handler(getattr(app, "__self__", app), error_renderer)

    @property
    def audiences(self) -> tuple[str, ...]:
        return self.authenticator.audiences

    async def verify(self, token: str) -> AccessTokenClaims:
        """The claims of a valid access token (see ``BearerAuthenticator.verify``)."""
        return await self.authenticator.verify(token)

    async def _warm_up(self) -> None:
        """Fetch discovery and keys at startup: a wrong endpoint shows in the logs now."""
        try:
            await self.provider.signing_keys(None)
        except LogtoError as exc:
            logger.error("logto-asgi bearer startup check: %s", exc.description)

    async def aclose(self) -> None:
        """Close the HTTP client (when the middleware created it)."""
        await self.provider.aclose()


def _bearer_token(values: Iterable[bytes]) -> str | None:
    """The token of the one ``Authorization: Bearer`` header; ``None`` when the request
    uses no header or another scheme."""
    headers = list(values)
    if not headers:
        return None
    if len(headers) > 1:
        raise TokenValidationError("several Authorization headers", check="format")
    scheme, _, token = headers[0].decode("latin-1").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    # RFC 6750's b64token syntax is checked by the validator, more strictly: a compact JWS
    # of base64url parts (``tokens.read_header``), before any network call.
    return token.strip()
