"""The one place that talks HTTP to the OpenID Provider: discovery, JWKS, token,
userinfo and revocation endpoints, through one shared ``httpx.AsyncClient``.

Discovery and the JWKS are cached and fetched single-flight; a failed fetch is never
cached. An unknown ``kid`` triggers one JWKS re-fetch (key rotation), at most once per
``JWKS_REFETCH_INTERVAL`` so a flood of forged tokens cannot make us hammer the provider.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
from joserfc.jwk import JWKRegistry

from ._version import __version__
from .config import LogtoConfig
from .errors import AuthorizationError, ProviderError, ProviderTimeout, ProviderUnavailable

logger = logging.getLogger("logto_asgi")

METADATA_TTL = 3600.0
JWKS_TTL = 3600.0
JWKS_REFETCH_INTERVAL = 10.0
MAX_RESPONSE_BYTES = 1_000_000

Key = Any  # a joserfc key object (ECKey, RSAKey, OKPKey)


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """The parts of the discovery document we use."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    end_session_endpoint: str | None
    revocation_endpoint: str | None
    raw: Mapping[str, Any]

    @classmethod
    def parse(cls, data: Any) -> ProviderMetadata:
        if not isinstance(data, dict):
            raise ProviderError("the discovery document is not a JSON object")

        def url(name: str, *, required: bool) -> str | None:
            value = data.get(name)
            if value is None and not required:
                return None
            parts = urlsplit(value) if isinstance(value, str) else None
            if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
                raise ProviderError(f"the discovery document has no valid {name!r}")
            return str(value)

        return cls(
            issuer=url("issuer", required=True) or "",
            authorization_endpoint=url("authorization_endpoint", required=True) or "",
            token_endpoint=url("token_endpoint", required=True) or "",
            jwks_uri=url("jwks_uri", required=True) or "",
            userinfo_endpoint=url("userinfo_endpoint", required=False),
            end_session_endpoint=url("end_session_endpoint", required=False),
            revocation_endpoint=url("revocation_endpoint", required=False),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class KeySet:
    """Signing keys from the JWKS; keys we cannot parse (or not for signing) are skipped.

    A ``kid`` may name several keys (RFC 7517 4.5 allows one per key type): all are kept.
    """

    by_kid: Mapping[str, tuple[Key, ...]]
    keys: tuple[Key, ...]

    @classmethod
    def parse(cls, data: Any) -> KeySet:
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise ProviderError("the JWKS is not a JSON object with a 'keys' list")
        keys: list[Key] = []
        by_kid: dict[str, tuple[Key, ...]] = {}
        for entry in data["keys"]:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                key = JWKRegistry.import_key(entry)
            except Exception:  # an unknown or broken key must not hide the good ones
                logger.debug("skipping a JWKS entry that does not parse (kid=%r)", entry.get("kid"))
                continue
            if key.is_private:
                continue
            keys.append(key)
            kid = entry.get("kid")
            if isinstance(kid, str):
                by_kid[kid] = (*by_kid.get(kid, ()), key)
        return cls(by_kid=by_kid, keys=tuple(keys))


def _expected_issuer(discovery_url: str | None, logto_issuer: str) -> str | None:
    """The issuer a discovery document must name (OpenID Connect Discovery 4.3)."""
    if discovery_url is None:
        return logto_issuer
    suffix = "/.well-known/openid-configuration"
    return discovery_url[: -len(suffix)] if discovery_url.endswith(suffix) else None


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """What ``ProviderClient`` needs to know: where discovery is, which issuer to expect,
    and (for token calls) the client's credentials."""

    metadata_url: str
    expected_issuer: str | None
    http_timeout: float = 10.0
    http_client: httpx.AsyncClient | None = None
    client_id: str | None = None
    client_secret: str | None = None

    @classmethod
    def from_config(cls, config: LogtoConfig) -> ProviderSettings:
        return cls(
            metadata_url=config.metadata_url,
            expected_issuer=_expected_issuer(config.discovery_url, config.issuer),
            http_timeout=config.http_timeout,
            http_client=config.http_client,
            client_id=config.app_id,
            client_secret=config.app_secret,
        )

    @classmethod
    def for_endpoint(
        cls,
        endpoint: str,
        *,
        discovery_url: str | None = None,
        http_timeout: float = 10.0,
        http_client: httpx.AsyncClient | None = None,
    ) -> ProviderSettings:
        """Settings for a Logto ``endpoint`` (issuer ``{endpoint}/oidc``) or any provider's
        ``discovery_url``, without client credentials (token validation only)."""
        issuer = f"{endpoint.rstrip('/')}/oidc"
        return cls(
            metadata_url=discovery_url or f"{issuer}/.well-known/openid-configuration",
            expected_issuer=_expected_issuer(discovery_url, issuer),
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
        self.expected_issuer = settings.expected_issuer

    @property
    def http(self) -> httpx.AsyncClient:
        return self._http

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    # HTTP --------------------------------------------------------------------------

    async def _send(self, what: str, request: Callable[[], Any]) -> httpx.Response:
        try:
            response: httpx.Response = await request()
        except httpx.TimeoutException as exc:
            raise ProviderTimeout(f"the provider did not answer the {what} request in time") from exc
        except (httpx.TransportError, OSError) as exc:
            raise ProviderUnavailable(f"the provider could not be reached for the {what} request") from exc
        return response

    @staticmethod
    def _json(what: str, response: httpx.Response) -> Any:
        if len(response.content) > MAX_RESPONSE_BYTES:
            raise ProviderError(f"the provider's {what} response is too large")
        try:
            return json.loads(response.content)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProviderError(
                f"the provider's {what} response is not JSON (HTTP {response.status_code})"
            ) from exc

    async def _get_json(self, what: str, url: str) -> Any:
        response = await self._send(what, lambda: self._http.get(url))
        if response.status_code != 200:
            raise ProviderError(f"the provider answered the {what} request with HTTP {response.status_code}")
        return self._json(what, response)

    # Discovery and keys ------------------------------------------------------------

    async def metadata(self) -> ProviderMetadata:
        """The discovery document, cached for an hour; fetched once however many ask."""
        cached = self._metadata
        if cached is not None and self._clock() - self._metadata_at < METADATA_TTL:
            return cached
        async with self._metadata_lock:
            cached = self._metadata
            if cached is not None and self._clock() - self._metadata_at < METADATA_TTL:
                return cached
            metadata = ProviderMetadata.parse(await self._get_json("discovery", self._settings.metadata_url))
            if self.expected_issuer is not None and metadata.issuer != self.expected_issuer:
                raise ProviderError(
                    f"the discovery document's issuer {metadata.issuer!r} is not the expected "
                    f"{self.expected_issuer!r}: check the endpoint"
                )
            self._metadata, self._metadata_at = metadata, self._clock()
            return metadata

    async def _fetch_keys(self) -> KeySet:
        metadata = await self.metadata()
        keys = KeySet.parse(await self._get_json("JWKS", metadata.jwks_uri))
        self._keys, self._keys_at = keys, self._clock()
        return keys

    async def signing_keys(self, kid: str | None, *, refetch: bool = False) -> list[Key]:
        """Candidate keys for a token: the ones with ``kid``, or all when there is none.

        An unknown ``kid`` makes one JWKS re-fetch (rate-limited); concurrent callers
        share it. ``refetch=True`` asks for that re-fetch when the cached keys did not
        verify a token without ``kid`` (the provider may have rotated its only key).
        """
        keys = self._keys
        if keys is None or self._clock() - self._keys_at >= JWKS_TTL:
            async with self._keys_lock:
                keys = self._keys
                if keys is None or self._clock() - self._keys_at >= JWKS_TTL:
                    keys = await self._fetch_keys()
        if not refetch:
            if kid is None:
                return list(keys.keys)
            if kid in keys.by_kid:
                return list(keys.by_kid[kid])
        fetched_at = self._keys_at
        async with self._keys_lock:
            if self._keys_at == fetched_at and self._clock() - fetched_at >= JWKS_REFETCH_INTERVAL:
                logger.info("unknown signing key; re-fetching the JWKS")
                await self._fetch_keys()
            keys = self._keys
        assert keys is not None
        return list(keys.keys) if kid is None else list(keys.by_kid.get(kid, ()))

    # Endpoints ---------------------------------------------------------------------

    def _client_auth(self, data: dict[str, str]) -> httpx.BasicAuth | None:
        settings = self._settings
        if settings.client_id is None:
            raise ProviderError("no client credentials configured for token requests")
        if settings.client_secret is None:
            data["client_id"] = settings.client_id
            return None
        # client_secret_basic: RFC 6749 2.3.1 asks for form-encoding before base64.
        from urllib.parse import quote

        return httpx.BasicAuth(quote(settings.client_id, safe=""), quote(settings.client_secret, safe=""))

    async def token_request(self, params: Mapping[str, str], *, what: str) -> dict[str, Any]:
        """POST to the token endpoint; ``AuthorizationError`` for a 4xx OAuth error."""
        metadata = await self.metadata()
        data = dict(params)
        auth = self._client_auth(data)
        response = await self._send(
            what,
            lambda: self._http.post(
                metadata.token_endpoint,
                data=data,
                auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
                headers={"Accept": "application/json"},
            ),
        )
        if 400 <= response.status_code < 500:
            body = self._json(what, response)
            code = body.get("error") if isinstance(body, dict) else None
            if not isinstance(code, str):
                raise ProviderError(
                    f"the provider answered the {what} request with HTTP {response.status_code}"
                )
            description = body.get("error_description")
            raise AuthorizationError(
                f"the provider refused the {what}: {code}"
                + (f" ({description})" if isinstance(description, str) else ""),
                provider_error=code,
            )
        if response.status_code != 200:
            raise ProviderError(f"the provider answered the {what} request with HTTP {response.status_code}")
        body = self._json(what, response)
        if not isinstance(body, dict):
            raise ProviderError(f"the provider's {what} response is not a JSON object")
        return body

    async def userinfo(self, access_token: str) -> dict[str, Any]:
        metadata = await self.metadata()
        if not metadata.userinfo_endpoint:
            raise ProviderError("the provider has no userinfo endpoint")
        endpoint = metadata.userinfo_endpoint
        response = await self._send(
            "userinfo",
            lambda: self._http.get(endpoint, headers={"Authorization": f"Bearer {access_token}"}),
        )
        if response.status_code in (401, 403):
            raise AuthorizationError(
                f"the provider refused the access token at userinfo (HTTP {response.status_code})",
                provider_error="invalid_token",
            )
        if response.status_code != 200:
            raise ProviderError(
                f"the provider answered the userinfo request with HTTP {response.status_code}"
            )
        body = self._json("userinfo", response)
        if not isinstance(body, dict):
            raise ProviderError("the provider's userinfo response is not a JSON object")
        return body

    async def revoke(self, token: str, hint: str = "refresh_token") -> None:
        """Best-effort revocation: failures are logged (without the token) and ignored."""
        try:
            metadata = await self.metadata()
            if not metadata.revocation_endpoint:
                return
            data = {"token": token, "token_type_hint": hint}
            auth = self._client_auth(data)
            endpoint = metadata.revocation_endpoint
            with anyio.fail_after(min(self._settings.http_timeout, 5)):
                response = await self._http.post(
                    endpoint, data=data, auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT
                )
            if response.status_code != 200:
                logger.warning("token revocation answered HTTP %s", response.status_code)
        except Exception as exc:  # sign-out must succeed even if revocation does not
            logger.warning("token revocation failed: %s", type(exc).__name__)
