"""Token introspection (RFC 7662) for ``BearerAuthMiddleware``: opaque access tokens.

Providers such as django-oauth-toolkit issue access tokens that are random strings, not
JWTs: only the provider can say what one means. ``TokenIntrospection`` asks its
introspection endpoint, with the API's own client credentials (HTTP Basic), and applies
the checks a JWT access token gets, as far as the answer carries the claims:

* ``active`` must be ``true``; ``exp`` / ``nbf`` (when sent) must hold, with the leeway;
* a ``token_type_hint``-ignoring provider must not make a refresh token pass as an access
  token: ``token_type: refresh_token`` is refused;
* ``iss`` (when sent) must be the issuer, ``aud`` (when sent) must name the API;
* an answer without ``aud`` (django-oauth-toolkit) says nothing about whom the token is
  for: it is accepted only when its ``client_id`` is one of ``client_ids`` (the apps whose
  tokens this API takes), so a token some other client obtained cannot be replayed here.

Answers are cached per process under a hash of the token (never the token), for at most
``cache_seconds`` and never past the token's ``exp``: a revoked token stays usable that
long. A refusal (``active: false``) is cached too, for at most ``NEGATIVE_SECONDS``, so a
client retrying one bad token is not a request to the provider each time. Concurrent
requests with one token share one introspection request; a failing endpoint is left
alone (``Backoff``: 1 s doubling to 30 s) and every request meanwhile gets a 503.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import anyio

from . import protocol
from ._backoff import Backoff
from ._cache import BoundedCache
from .discovery import ProviderMetadata
from .errors import ConfigurationError, ProviderError, TokenValidationError
from .protocol import ClientCredentials, ProviderReply, ProviderRequest

__all__ = ["NEGATIVE_SECONDS", "TokenIntrospection", "check_introspected", "looks_like_jwt"]

logger = logging.getLogger("logto_asgi")

#: The longest a refusal (``active: false``) is remembered.
NEGATIVE_SECONDS = 10.0
#: RFC 6750 2.1's b64token: what an opaque token may be made of before it is sent anywhere.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
MAX_OPAQUE_TOKEN_LENGTH = 16_384


def looks_like_jwt(token: str) -> bool:
    """Whether ``token`` has the shape of a compact JWS (three base64url parts)."""
    return _JWS.fullmatch(token) is not None


def _fail(check: str, description: str) -> TokenValidationError:
    return TokenValidationError(description, check=check)


def _check_times(claims: Mapping[str, Any], *, now: float, leeway: float) -> None:
    for name in ("exp", "nbf", "iat"):
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise _fail(name, f"the '{name}' of the introspection answer is not a number")
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if exp is not None and now > exp + leeway:
        raise _fail("exp", "the token has expired")
    if nbf is not None and now + leeway < nbf:
        raise _fail("nbf", "the token is not valid yet")


def check_introspected(
    answer: Mapping[str, Any],
    *,
    issuer: str,
    audiences: Iterable[str],
    client_ids: Iterable[str],
    now: float,
    leeway: float,
) -> dict[str, Any]:
    """The claims of an introspection answer for an access token this API may accept;
    ``TokenValidationError`` naming the failed check otherwise."""
    if answer.get("active") is not True:
        raise _fail("active", "the provider says the token is not active")
    if answer.get("token_type") == "refresh_token":
        raise _fail("typ", "the token is a refresh token, not an access token")
    claims = {name: value for name, value in answer.items() if name != "active"}
    _check_times(claims, now=now, leeway=leeway)
    if "iss" in claims and claims["iss"] != issuer:
        raise _fail("iss", "the token was issued by another provider")
    if "aud" in claims:
        sent = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if not set(audiences).intersection(a for a in sent if isinstance(a, str)):
            raise _fail("aud", "the access token is not meant for this resource")
    elif not isinstance(claims.get("client_id"), str) or claims["client_id"] not in set(client_ids):
        raise _fail("aud", "the introspection answer names no audience, and its client is not accepted")
    return claims


def _answer(reply: ProviderReply) -> dict[str, Any]:
    """The introspection endpoint's JSON object; a 5xx or garbage is an outage (503), a
    4xx means our own credentials or request are wrong (502, with what to fix)."""
    if reply.status in (401, 403):
        raise ProviderError(
            f"the provider refused the introspection request (HTTP {reply.status}): check "
            "TokenIntrospection's client_id and client_secret"
        )
    if reply.status == 400:
        raise ProviderError(f"the provider refused the introspection request: {_oauth_error(reply)}")
    return protocol.json_document("introspection", reply)


def _oauth_error(reply: ProviderReply) -> str:
    """``error (error_description)`` of an OAuth error body, or the HTTP status."""
    try:
        body = protocol.read_json("introspection", reply)
    except ProviderError:
        body = None
    code = body.get("error") if isinstance(body, dict) else None
    if isinstance(code, str):
        description = body.get("error_description") if isinstance(body, dict) else None
        return code + (f" ({description})" if isinstance(description, str) else "")
    return f"HTTP {reply.status}"


@dataclass(frozen=True, kw_only=True)
class TokenIntrospection:
    """Introspect opaque bearer tokens (RFC 7662) with this API's client credentials.

    ``endpoint`` defaults to the discovery document's ``introspection_endpoint``;
    ``client_ids`` are the clients whose tokens are accepted when the provider's answer
    names no audience; ``cache_seconds`` bounds how long a revoked token stays usable;
    ``max_entries`` bounds the cache. ``jwts=True`` introspects JWT-shaped tokens too,
    instead of verifying them locally (a provider whose access tokens are JWTs that a
    resource server should not verify itself, or to see revocations within
    ``cache_seconds``).
    """

    client_id: str
    client_secret: str = field(repr=False)
    endpoint: str | None = None
    client_ids: tuple[str, ...] = ()
    cache_seconds: float = 60.0
    max_entries: int = 10_000
    jwts: bool = False

    def __post_init__(self) -> None:
        if not self.client_id or not self.client_secret:
            raise ConfigurationError("introspection", "needs the API's client_id and client_secret")
        if isinstance(self.client_ids, str):
            raise ConfigurationError("introspection", "client_ids must be a list of client ids")
        object.__setattr__(self, "client_ids", tuple(self.client_ids))
        if not 0 <= self.cache_seconds <= 3600:
            raise ConfigurationError("introspection", "cache_seconds must be between 0 and 3600")
        if not 1 <= self.max_entries <= 1_000_000:
            raise ConfigurationError("introspection", "max_entries must be between 1 and 1,000,000")


def _advertised_endpoint(metadata: ProviderMetadata) -> str:
    """The discovery document's ``introspection_endpoint`` (RFC 8414), read here rather
    than with the rest of discovery: a bad one must not break sign-in, only this."""
    value = metadata.raw.get("introspection_endpoint")
    try:
        parts = urlsplit(value) if isinstance(value, str) else None
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProviderError(
            "the provider advertises no valid introspection_endpoint: pass TokenIntrospection(endpoint=...)"
        )
    return str(value)


@dataclass
class _Flight:
    done: anyio.Event = field(default_factory=anyio.Event)
    answer: dict[str, Any] | None = None
    error: ProviderError | None = None


class Introspector:
    """Cached, single-flight introspection calls for one API (see the module)."""

    def __init__(
        self,
        options: TokenIntrospection,
        send: Callable[[ProviderRequest], Any],
        clock: Callable[[], float],
    ) -> None:
        self.options = options
        self._send = send
        self._clock = clock
        self._credentials = ClientCredentials(options.client_id, options.client_secret)
        #: token hash → (deadline, answer)
        self._cache: BoundedCache[str, tuple[float, dict[str, Any]]] = BoundedCache(options.max_entries)
        self._flights: dict[str, _Flight] = {}
        self.backoff = Backoff("introspection", clock)

    def __len__(self) -> int:
        return len(self._cache)

    def cached(self, token: str) -> bool:
        """Whether ``answer(token)`` asks the provider nothing (a cached answer, or a token
        refused at once)."""
        if len(token) > MAX_OPAQUE_TOKEN_LENGTH or not _B64TOKEN.fullmatch(token):
            return True
        cached = self._cache.get(hashlib.sha256(token.encode("ascii")).hexdigest())
        return cached is not None and cached[0] > self._clock()

    async def answer(self, token: str, metadata: ProviderMetadata) -> dict[str, Any]:
        """The provider's answer for ``token`` (cached; one request however many ask)."""
        if len(token) > MAX_OPAQUE_TOKEN_LENGTH or not _B64TOKEN.fullmatch(token):
            raise _fail("format", "the bearer token is not an RFC 6750 b64token")
        key = hashlib.sha256(token.encode("ascii")).hexdigest()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        flight = self._flights.get(key)
        while flight is not None:
            await flight.done.wait()
            if flight.error is not None:
                raise type(flight.error)(flight.error.description, retry_after=flight.error.retry_after)
            if flight.answer is not None:
                return flight.answer
            flight = self._flights.get(key)  # its leader was cancelled: ask ourselves
        flight = self._flights[key] = _Flight()
        try:
            flight.answer = await self.backoff.call(lambda: self._ask(token, metadata))
        except ProviderError as exc:
            flight.error = exc
            raise
        finally:
            del self._flights[key]
            flight.done.set()
        self._remember(key, flight.answer)
        return flight.answer

    async def _ask(self, token: str, metadata: ProviderMetadata) -> dict[str, Any]:
        endpoint = self.options.endpoint or _advertised_endpoint(metadata)
        reply = await self._send(protocol.introspection_request(endpoint, self._credentials, token))
        return _answer(reply)

    def _remember(self, key: str, answer: dict[str, Any]) -> None:
        now = self._clock()
        ttl = self.options.cache_seconds if answer.get("active") is True else NEGATIVE_SECONDS
        deadline = now + min(ttl, self.options.cache_seconds)
        exp = answer.get("exp")
        if isinstance(exp, (int, float)) and not isinstance(exp, bool):
            deadline = min(deadline, float(exp))
        if deadline > now:
            self._cache.put(key, (deadline, answer))
