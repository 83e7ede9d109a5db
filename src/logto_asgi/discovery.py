"""What the provider publishes: its discovery document and its signing keys (no I/O).

The one place that knows where a Logto tenant's discovery lives and which issuer a
discovery URL must name (OpenID Connect Discovery 4.3).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from joserfc.jwk import JWKRegistry

from .errors import ProviderError

logger = logging.getLogger("logto_asgi")

Key = Any  # a joserfc key object (ECKey, RSAKey, OKPKey)

WELL_KNOWN = "/.well-known/openid-configuration"


def logto_issuer(endpoint: str) -> str:
    """The issuer of a Logto endpoint: ``{endpoint}/oidc``."""
    return f"{endpoint.rstrip('/')}/oidc"


def discovery_url(issuer: str) -> str:
    """Where ``issuer`` publishes its discovery document."""
    return issuer + WELL_KNOWN


def accepted_issuers(discovery: str | None, *, configured: str | None, logto: str | None) -> tuple[str, ...]:
    """The issuer values a discovery document may name, most specific rule first: the
    ``configured`` issuer exactly; else the one the discovery URL was derived from, with or
    without a trailing slash (OpenID Connect Discovery 4.1 removes a terminating ``/``
    before appending the well-known path, so ``http://host/o/`` and ``http://host/o`` both
    publish at ``http://host/o/.well-known/openid-configuration``); else the Logto
    endpoint's exactly. Empty when nothing says which issuer to expect."""
    if configured is not None:
        return (configured,)
    if discovery is not None:
        trimmed = discovery.rstrip("/")
        if trimmed.endswith(WELL_KNOWN):
            prefix = trimmed[: -len(WELL_KNOWN)]
            return (prefix, prefix + "/")
    return (logto,) if logto is not None else ()


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
            try:
                parts = urlsplit(value) if isinstance(value, str) else None
            except ValueError:  # e.g. "http://[::1": an invalid IPv6 literal
                parts = None
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

    def check_issuer(self, accepted: tuple[str, ...]) -> ProviderMetadata:
        """``self`` when its issuer is exactly one of ``accepted``."""
        if self.issuer not in accepted:
            raise ProviderError(
                f"the discovery document's issuer {self.issuer!r} is not the expected "
                f"{' or '.join(map(repr, accepted))}: check the endpoint, discovery_url or issuer"
            )
        return self


def _import_key(entry: Any) -> Key | None:
    """A public signing key from one JWKS entry, or ``None`` (not for signing, broken,
    unknown type or private)."""
    if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
        return None
    try:
        key = JWKRegistry.import_key(entry)
    except Exception:  # an unknown or broken key must not hide the good ones
        logger.debug("skipping a JWKS entry that does not parse (kid=%r)", entry.get("kid"))
        return None
    return None if key.is_private else key


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
            key = _import_key(entry)
            if key is None:
                continue
            keys.append(key)
            kid = entry.get("kid")
            if isinstance(kid, str):
                by_kid[kid] = (*by_kid.get(kid, ()), key)
        return cls(by_kid=by_kid, keys=tuple(keys))

    def candidates(self, kid: str | None) -> list[Key]:
        """The keys that may have signed a token with this ``kid`` (all when none)."""
        return list(self.keys) if kid is None else list(self.by_kid.get(kid, ()))
