"""``BearerAuthMiddleware``: Logto's "protect your API" for any ASGI app.

A request with ``Authorization: Bearer <JWT access token>`` is validated — signature
against the provider's cached JWKS (asymmetric algorithms only), then ``iss``, ``aud``,
``exp`` and ``nbf`` — and carries a ``BearerContext`` in ``request.state.logto`` and the
token's claims in ``request.state.user``, so the same ``requires_auth`` guards protect
API calls and browser sessions. ``request.user`` / ``request.auth`` follow Starlette's
conventions, as with ``LogtoMiddleware``.

A token that fails any check gets RFC 6750's 401 with ``WWW-Authenticate: Bearer
error="invalid_token"`` and no hint of which check failed (that goes to the
``logto_asgi`` logger). A request without a bearer token passes through: anonymous, or
with whatever ``LogtoMiddleware`` put in the scope. One app may use both middlewares in
either order; a request that carries a bearer token is authenticated by the token.
(``logto_asgi.current()`` stays the session's ``LogtoContext``: read the token's context
from ``request.state.logto``, as the guards do.)
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import httpx
from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._http import run_lifespan, send_error, send_response
from .config import _check_url
from .context import ORGANIZATION_AUDIENCE
from .errors import AccessDenied, ConfigurationError, LogtoError, NotAuthenticated, TokenValidationError
from .middleware import _install_error_handler
from .models import AccessTokenClaims
from .provider import ProviderClient, ProviderSettings
from .tokens import check_access_token, read_header, verify_signature
from .users import BearerUser

__all__ = ["BearerAuthMiddleware", "BearerContext", "BearerUser"]

logger = logging.getLogger("logto_asgi")

# RFC 6750 2.1: b64token.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_INVALID_TOKEN_BODY = json.dumps(
    {"error": "invalid_token", "error_description": "the access token is not valid for this API"}
).encode()


def _audiences(claims: Mapping[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list):
        return [a for a in aud if isinstance(a, str)]
    return []


class BearerContext:
    """``request.state.logto`` on a request that carried a valid bearer token (and, when
    no ``LogtoMiddleware`` runs, on anonymous requests: ``is_authenticated`` is false).

    An organization token (``aud = urn:logto:organization:<id>``, or a resource token
    with an ``organization_id`` claim) grants its scopes inside that organization only:
    a guard must name the organization to use them, and ``request.auth`` lists none.
    """

    __slots__ = ("_claims", "_token", "user_info")

    def __init__(self, claims: AccessTokenClaims | None = None, token: str | None = None) -> None:
        self._claims = claims
        self._token = token
        #: Always ``None``: a resource access token cannot read the userinfo endpoint.
        self.user_info: None = None

    @property
    def is_authenticated(self) -> bool:
        """Whether a valid token came with the request."""
        return self._claims is not None

    @property
    def user(self) -> AccessTokenClaims | None:
        """The validated claims of the token."""
        return self._claims

    @property
    def access_token(self) -> str | None:
        """The raw token (to forward it to another API of the same resource)."""
        return self._token

    @property
    def organization_id(self) -> str | None:
        """The organization the token is for, if any."""
        claims = self._claims
        if claims is None:
            return None
        for aud in _audiences(claims):
            if aud.startswith(ORGANIZATION_AUDIENCE):
                return aud[len(ORGANIZATION_AUDIENCE) :]
        org = claims.organization_id
        return org if isinstance(org, str) and org else None

    @property
    def scopes(self) -> frozenset[str]:
        """The scopes the token grants outside any organization."""
        if self._claims is None or self.organization_id is not None:
            return frozenset()
        return self._claims.scopes

    async def granted_scopes(
        self, resource: str | None = None, organization_id: str | None = None
    ) -> frozenset[str]:
        """The token's scopes, when it is meant for ``resource`` and the organization."""
        claims = self._claims
        if claims is None:
            raise NotAuthenticated("send an access token: Authorization: Bearer <token>")
        token_organization = self.organization_id
        if organization_id is not None and token_organization != organization_id:
            raise AccessDenied(f"the access token is not for organization {organization_id!r}")
        if resource is not None and resource not in _audiences(claims):
            raise AccessDenied(f"the access token is not meant for resource {resource!r}")
        if organization_id is None and token_organization is not None:
            return frozenset()
        return claims.scopes

    def __repr__(self) -> str:
        sub = self._claims.sub if self._claims is not None else None
        return f"BearerContext(is_authenticated={self.is_authenticated}, sub={sub!r})"


class _Pinned(dict[str, Any]):
    """A scope (or its state) whose identity keys came from a verified bearer token.

    Writes to those keys are ignored: a session middleware further in (LogtoMiddleware
    fills ``user``, ``auth`` and ``state.logto`` for every request) must not replace
    the identity of a request that authenticated with a token.
    """

    __slots__ = ("_keys",)

    def __init__(self, data: Mapping[str, Any], pinned: Mapping[str, Any]) -> None:
        super().__init__(data)
        super().update(pinned)
        self._keys = frozenset(pinned)

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in self._keys:
            super().__setitem__(key, value)


class BearerAuthMiddleware:
    """Validate ``Authorization: Bearer <JWT>`` access tokens for an API.

    ``endpoint`` is the Logto endpoint (issuer ``{endpoint}/oidc``; ``discovery_url`` for
    any other provider). ``audience`` is the API's resource indicator, or a list of them;
    ``organization_tokens=True`` also accepts organization tokens of this issuer
    (``aud = urn:logto:organization:<id>``). ``leeway`` is the allowed clock skew in
    seconds; ``clock`` and ``http_client`` are injectable (see ``logto_asgi.testing``).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        endpoint: str,
        audience: str | Sequence[str] | None = None,
        organization_tokens: bool = False,
        discovery_url: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        http_timeout: float = 10,
        clock: Callable[[], float] = time.time,
        leeway: float = 60,
    ) -> None:
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
        endpoint = _check_url("endpoint", endpoint)
        if discovery_url is not None:
            _check_url("discovery_url", discovery_url)
        self.app = app
        self.audiences = audiences
        self.organization_tokens = organization_tokens
        self.leeway = leeway
        self.clock = clock
        settings = ProviderSettings.for_endpoint(
            endpoint, discovery_url=discovery_url, http_timeout=http_timeout, http_client=http_client
        )
        self.provider = ProviderClient(settings, clock=clock)
        # Quart is wrapped as `app.asgi_app = BearerAuthMiddleware(app.asgi_app, ...)`: a bound method.
        _install_error_handler(getattr(app, "__self__", app))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        try:
            token = _bearer_token(value for name, value in scope["headers"] if name == b"authorization")
            claims = await self.verify(token) if token is not None else None
        except TokenValidationError as exc:
            logger.info("bearer token rejected: failed the %s check", exc.check)
            await self._reject(scope, send)
            return
        except LogtoError as exc:  # the provider is down or sends a broken JWKS: not the client's fault
            if kind == "http":
                await send_error(scope, send, exc)
            else:
                await send({"type": "websocket.close", "code": 1011})
            return
        except Exception as exc:  # whatever a hostile token trips in a parser is still a 401
            logger.warning("bearer token rejected: unexpected %s", type(exc).__name__)
            await self._reject(scope, send)
            return
        if claims is None:
            _fill_anonymous(scope)
        else:
            scope = _authenticated_scope(scope, BearerContext(claims, token))
        await self._call_app(scope, receive, send)

    async def verify(self, token: str) -> AccessTokenClaims:
        """The claims of a valid access token; ``TokenValidationError`` otherwise (or a
        ``ProviderError`` when the keys cannot be fetched)."""
        read_header(token)  # garbage is refused before any network call
        metadata = await self.provider.metadata()
        claims = await verify_signature(token, self.provider)
        check_access_token(
            claims,
            issuer=metadata.issuer,
            audience=self._accepted_audiences(claims),
            now=self.clock(),
            leeway=self.leeway,
        )
        return AccessTokenClaims(claims)

    def _accepted_audiences(self, claims: Mapping[str, Any]) -> set[str]:
        accepted = set(self.audiences)
        if self.organization_tokens:
            accepted.update(
                aud
                for aud in _audiences(claims)
                if aud.startswith(ORGANIZATION_AUDIENCE) and len(aud) > len(ORGANIZATION_AUDIENCE)
            )
        return accepted

    async def _reject(self, scope: Scope, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await send_response(
            send,
            401,
            _INVALID_TOKEN_BODY,
            content_type=b"application/json",
            headers=[(b"www-authenticate", b'Bearer error="invalid_token"')],
        )

    async def _call_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app; a ``LogtoError`` escaping it (e.g. from a FastAPI dependency)
        becomes its response, as LogtoMiddleware does."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except LogtoError as exc:
            if started:
                raise
            await send_error(scope, send, exc)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        await run_lifespan(self.app, scope, receive, send, on_startup=self._warm_up, on_shutdown=self.aclose)

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
    token = token.strip()
    if not _B64TOKEN.fullmatch(token):
        raise TokenValidationError("the bearer token is not a b64token", check="format")
    return token


def _fill_anonymous(scope: Scope) -> None:
    """Leave what a session middleware filled; otherwise say: nobody."""
    state = scope.get("state")
    if state is None:
        state = scope["state"] = {}
    if "logto" in state:
        return
    state["user"] = None
    state["logto"] = BearerContext()
    scope["user"] = UnauthenticatedUser()
    scope["auth"] = AuthCredentials()


def _authenticated_scope(scope: Scope, ctx: BearerContext) -> Scope:
    claims = ctx.user
    assert claims is not None
    identity = {"user": BearerUser(claims), "auth": AuthCredentials(sorted({"authenticated", *ctx.scopes}))}
    state = scope.get("state") or {}
    if "logto" in state:
        # LogtoMiddleware already ran (it is outside us): replace its answer in place.
        state["user"], state["logto"] = claims, ctx
        scope.update(identity)
        return scope
    # A session middleware may still run further in: pin the token's identity.
    pinned_state = _Pinned(state, {"user": claims, "logto": ctx})
    return _Pinned({**scope, "state": pinned_state}, identity)
