"""``ProviderClient``: the one driver that sends requests to the OpenID Provider.

It sends the ``ProviderRequest`` values that ``protocol`` builds, through one shared
``httpx.AsyncClient``, maps transport failures to ``ProviderUnavailable`` /
``ProviderTimeout``, and caches discovery and the JWKS (single-flight). An unknown ``kid``
triggers one JWKS re-fetch (key rotation), at most once per ``JWKS_REFETCH_INTERVAL`` so a
flood of forged tokens cannot make us hammer the provider.

A failed discovery or JWKS fetch is remembered (``_backoff.Backoff``: 1 s, doubling to
30 s, forgotten on success): meanwhile every caller gets the failure at once, with
``retry_after``, and the provider is not asked. When a cached document is past its TTL
and its re-fetch fails, the cached one is served on (stale-if-error), for at most
``STALE_IF_ERROR`` seconds past its TTL.

Every request is the span ``logto.provider.request`` and counts in
``logto.provider.requests`` (by endpoint and HTTP status, or ``unreachable`` /
``timeout``) and ``logto.provider.duration``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio
import httpx

from . import protocol, telemetry
from ._backoff import Backoff
from ._version import __version__
from .config import LogtoConfig
from .discovery import Key, KeySet, ProviderMetadata, accepted_issuers, logto_issuer
from .discovery import discovery_url as well_known_url
from .errors import ConfigurationError, LogtoError, ProviderError, ProviderTimeout, ProviderUnavailable
from .protocol import ClientCredentials, ProviderReply, ProviderRequest

__all__ = [
    "JWKS_REFETCH_INTERVAL",
    "STALE_IF_ERROR",
    "KeySet",
    "ProviderClient",
    "ProviderMetadata",
    "ProviderSettings",
]

logger = logging.getLogger("logto_asgi")

METADATA_TTL = 3600.0
JWKS_TTL = 3600.0
JWKS_REFETCH_INTERVAL = 10.0
#: How long past its TTL a cached discovery document or JWKS is still used while the
#: provider fails to serve a fresh one.
STALE_IF_ERROR = 86400.0
#: Revocation is best effort at sign-out: never wait on it longer than this.
REVOCATION_TIMEOUT = 5.0

_T = TypeVar("_T")


def _host(url: str) -> str:
    """The host of ``url`` (``server.address``: never its path or query)."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """What ``ProviderClient`` needs to know: where discovery is, which issuer to expect,
    and (for token calls) the client's credentials."""

    metadata_url: str
    expected_issuers: tuple[str, ...]
    http_timeout: float = 10.0
    http_client: httpx.AsyncClient | None = None
    client: ClientCredentials | None = None

    @classmethod
    def from_config(cls, config: LogtoConfig) -> ProviderSettings:
        return cls(
            metadata_url=config.metadata_url,
            expected_issuers=config.expected_issuers,
            http_timeout=config.http_timeout,
            http_client=config.http_client,
            client=ClientCredentials(config.app_id, config.app_secret),
        )

    @classmethod
    def for_provider(
        cls,
        endpoint: str | None,
        *,
        discovery_url: str | None = None,
        issuer: str | None = None,
        http_timeout: float = 10.0,
        http_client: httpx.AsyncClient | None = None,
    ) -> ProviderSettings:
        """Settings for a Logto ``endpoint`` (issuer ``{endpoint}/oidc``) or any provider's
        ``discovery_url`` (and ``issuer``, when the URL does not name it), without client
        credentials (token validation only)."""
        logto = logto_issuer(endpoint) if endpoint is not None else None
        if discovery_url is None and logto is None:
            raise ConfigurationError("endpoint", "is required: the Logto endpoint, or discovery_url=")
        expected = accepted_issuers(discovery_url, configured=issuer, logto=logto)
        if not expected:
            raise ConfigurationError(
                "issuer", f"the discovery URL {discovery_url!r} does not name an issuer: pass issuer="
            )
        return cls(
            metadata_url=discovery_url or well_known_url(logto or ""),
            expected_issuers=expected,
            http_timeout=http_timeout,
            http_client=http_client,
        )


class ProviderClient:
    """Discovery, keys and endpoint calls for one provider (and one client)."""

    def __init__(
        self, settings: ProviderSettings | LogtoConfig, *, clock: Callable[[], float] = time.time
    ) -> None:
        if isinstance(settings, LogtoConfig):
            settings = ProviderSettings.from_config(settings)
        self._settings = settings
        self._clock = clock
        self._owns_http = settings.http_client is None
        self._http = settings.http_client or httpx.AsyncClient(
            timeout=httpx.Timeout(settings.http_timeout),
            headers={"User-Agent": f"logto-asgi/{__version__}"},
            follow_redirects=False,
        )
        self._metadata: ProviderMetadata | None = None
        self._metadata_at = 0.0
        self._metadata_lock = anyio.Lock()
        self._keys: KeySet | None = None
        self._keys_at = 0.0
        self._keys_lock = anyio.Lock()
        #: Failure memories: while one backs off, its endpoint is not asked.
        self.discovery_backoff = Backoff("discovery", clock)
        self.jwks_backoff = Backoff("JWKS", clock)
        self.expected_issuers = settings.expected_issuers

    @property
    def client(self) -> ClientCredentials:
        """The client's credentials (token, revocation calls)."""
        if self._settings.client is None:
            raise ProviderError("no client credentials configured for token requests")
        return self._settings.client

    def _client_for(self, metadata: ProviderMetadata) -> ClientCredentials:
        return self.client.for_provider(metadata.raw.get("token_endpoint_auth_methods_supported"))

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    # The driver --------------------------------------------------------------------

    async def send(self, request: ProviderRequest) -> ProviderReply:
        """Send one request; transport failures become ``ProviderUnavailable`` /
        ``ProviderTimeout``. Every status comes back: parsing is the caller's."""
        observed: dict[str, telemetry.AttributeValue] = {
            "logto.provider.endpoint": request.what,
            "http.request.method": request.method,
            "server.address": _host(request.url),
        }
        status = "cancelled"
        started = time.perf_counter()
        with telemetry.span("logto.provider.request", **observed) as span:
            try:
                reply = await self._send(request)
            except ProviderError as exc:
                status = "timeout" if isinstance(exc, ProviderTimeout) else "unreachable"
                raise
            except Exception:
                status = "error"
                raise
            else:
                status = str(reply.status)
                span.set("http.response.status_code", reply.status)
                span.outcome("ok" if reply.status < 400 else "error")
            finally:
                telemetry.count("logto.provider.requests", endpoint=request.what, status=status)
                telemetry.record(
                    "logto.provider.duration", time.perf_counter() - started, endpoint=request.what
                )
        return reply

    async def _send(self, request: ProviderRequest) -> ProviderReply:
        auth: Any = httpx.BasicAuth(*request.basic_auth) if request.basic_auth else httpx.USE_CLIENT_DEFAULT
        try:
            response = await self._http.request(
                request.method, request.url, data=request.form, headers=request.headers, auth=auth
            )
        except httpx.TimeoutException as exc:
            raise ProviderTimeout(f"the provider did not answer the {request.what} request in time") from exc
        except (httpx.TransportError, OSError) as exc:
            raise ProviderUnavailable(
                f"the provider could not be reached for the {request.what} request"
            ) from exc
        return ProviderReply(response.status_code, response.headers.get("content-type", ""), response.content)

    # Discovery and keys ------------------------------------------------------------

    def _stale(self, cached: _T | None, fetched_at: float, ttl: float) -> _T | None:
        """``cached`` while it may still stand in for a document the provider fails to serve."""
        if cached is not None and self._clock() - fetched_at < ttl + STALE_IF_ERROR:
            return cached
        return None

    def _fresh_metadata(self) -> ProviderMetadata | None:
        cached = self._metadata
        return cached if cached is not None and self._clock() - self._metadata_at < METADATA_TTL else None

    async def metadata(self) -> ProviderMetadata:
        """The discovery document, cached for an hour; fetched once however many ask.

        A failed fetch is remembered (see the module): the cached document, if any, is
        served on; otherwise every caller gets the failure, with ``retry_after``.
        """
        cached = self._fresh_metadata()
        if cached is not None:
            return cached
        async with self._metadata_lock:
            cached = self._fresh_metadata()
            if cached is not None:
                return cached
            try:
                return await self.discovery_backoff.call(self._fetch_metadata)
            except ProviderError:
                stale = self._stale(self._metadata, self._metadata_at, METADATA_TTL)
                if stale is None:
                    raise
                return stale

    async def _fetch_metadata(self) -> ProviderMetadata:
        reply = await self.send(protocol.get_json("discovery", self._settings.metadata_url))
        metadata = ProviderMetadata.parse(protocol.json_document("discovery", reply))
        self._metadata = metadata.check_issuer(self.expected_issuers)
        self._metadata_at = self._clock()
        return metadata

    async def _fetch_keys(self) -> KeySet:
        """The JWKS, fetched now (unless backing off); the cache is updated on success."""
        jwks_uri = (await self.metadata()).jwks_uri

        async def fetch() -> KeySet:
            reply = await self.send(protocol.get_json("JWKS", jwks_uri))
            return KeySet.parse(protocol.json_document("JWKS", reply))

        keys = await self.jwks_backoff.call(fetch)
        self._keys, self._keys_at = keys, self._clock()
        return keys

    def cached(self, *, keys: bool) -> bool:
        """Whether discovery (and, with ``keys``, the JWKS) is fresh here: checking a token
        then asks the provider nothing (unless its ``kid`` is new)."""
        return self._fresh_metadata() is not None and (not keys or self._fresh_keys() is not None)

    def _fresh_keys(self) -> KeySet | None:
        keys = self._keys
        return keys if keys is not None and self._clock() - self._keys_at < JWKS_TTL else None

    async def _current_keys(self) -> KeySet:
        keys = self._fresh_keys()
        if keys is not None:
            return keys
        async with self._keys_lock:
            keys = self._fresh_keys()
            if keys is not None:
                return keys
            try:
                return await self._fetch_keys()
            except ProviderError:
                stale = self._stale(self._keys, self._keys_at, JWKS_TTL)
                if stale is None:
                    raise
                return stale

    async def signing_keys(self, kid: str | None, *, refetch: bool = False) -> list[Key]:
        """Candidate keys for a token: the ones with ``kid``, or all when there is none.

        An unknown ``kid`` makes one JWKS re-fetch (rate-limited, and not while the JWKS
        backs off); concurrent callers share it. ``refetch=True`` asks for that re-fetch
        when the cached keys did not verify a token without ``kid`` (the provider may have
        rotated its only key). A re-fetch that fails leaves the cached keys: a token none
        of them verifies is invalid (401), not an outage. Without any keys, the fetch's
        ``ProviderError`` (503, with ``retry_after``) is raised.
        """
        keys = await self._current_keys()
        if not refetch and (kid is None or kid in keys.by_kid):
            return keys.candidates(kid)
        fetched_at = self._keys_at
        async with self._keys_lock:
            if (
                self._keys_at == fetched_at
                and self._clock() - fetched_at >= JWKS_REFETCH_INTERVAL
                and not self.jwks_backoff.remaining()
            ):
                logger.info(
                    "unknown signing key; re-fetching the JWKS", **telemetry.log_fields("provider", "refetch")
                )
                try:
                    await self._fetch_keys()
                except ProviderError:
                    pass  # logged by the backoff; the cached keys decide
            keys = self._keys or keys
        return keys.candidates(kid)

    # Endpoints ---------------------------------------------------------------------

    async def token_request(self, params: dict[str, str], *, what: str) -> dict[str, Any]:
        """POST to the token endpoint; ``AuthorizationError`` for a 4xx OAuth error."""
        metadata = await self.metadata()
        reply = await self.send(
            protocol.token_request(metadata.token_endpoint, self._client_for(metadata), params, what=what)
        )
        return protocol.token_reply(what, reply)

    async def userinfo(self, access_token: str) -> dict[str, Any] | str:
        """The userinfo claims, or a signed response's JWT (to verify: ``signed_userinfo``)."""
        metadata = await self.metadata()
        if not metadata.userinfo_endpoint:
            raise ProviderError("the provider has no userinfo endpoint")
        reply = await self.send(protocol.userinfo_request(metadata.userinfo_endpoint, access_token))
        return protocol.userinfo_reply(reply)

    async def revoke(self, token: str, hint: str = "refresh_token") -> None:
        """Best-effort revocation: failures are logged (without the token) and ignored."""
        with telemetry.span("logto.revocation") as span:
            try:
                metadata = await self.metadata()
                if not metadata.revocation_endpoint:
                    span.outcome("unsupported")
                    return
                request = protocol.revocation_request(
                    metadata.revocation_endpoint, self._client_for(metadata), token, hint
                )
                with anyio.fail_after(min(self._settings.http_timeout, REVOCATION_TIMEOUT)):
                    reply = await self.send(request)
                if reply.status != 200:
                    span.outcome("error")
                    logger.warning(
                        "token revocation answered HTTP %s",
                        reply.status,
                        **telemetry.log_fields("revocation", "error", f"http_{reply.status}"),
                    )
            except Exception as exc:  # sign-out must succeed even if revocation does not
                span.outcome("error", exc if isinstance(exc, LogtoError) else None)
                logger.warning(
                    "token revocation failed: %s",
                    type(exc).__name__,
                    **telemetry.log_fields("revocation", "error", telemetry.error_label(exc)),
                )
