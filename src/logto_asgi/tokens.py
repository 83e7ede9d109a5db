"""Validation of ID tokens, JWT access tokens and logout tokens.

The signature is checked first (joserfc, algorithm allowlist, keys from the provider's
JWKS), then each claim on its own so a failure names the check that failed. The clock
and the leeway are injected; nothing here reads the wall clock itself.

One provider key signs several kinds of JWT, so each kind is told apart from the others
(RFC 8725 3.11): by its ``typ`` header where one is sent (``at+jwt``, ``logout+jwt``), and
access tokens shaped like ID tokens (``nonce``, ``at_hash``…) are refused everywhere.
"""

from __future__ import annotations

import hmac
import warnings
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from joserfc import jws
from joserfc.errors import JoseError

from . import _json as strict_json
from ._crypto import InvalidToken, b64url_decode
from ._json import MAX_INT
from .errors import TokenValidationError

#: Asymmetric algorithms only: never ``none``, never HMAC (a public key is not a secret).
#: ``Ed25519`` / ``Ed448`` are RFC 9864's fully-specified names for ``EdDSA``.
ALLOWED_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
    "Ed25519",
    "Ed448",
)
#: Which key may verify which algorithm: its ``kty`` and, for EC and OKP, its curve.
_KEY_SHAPES: dict[str, tuple[str, frozenset[str | None]]] = {
    **{f"{family}{size}": ("RSA", frozenset({None})) for family in ("RS", "PS") for size in (256, 384, 512)},
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
    "Ed25519": ("OKP", frozenset({"Ed25519"})),
    "Ed448": ("OKP", frozenset({"Ed448"})),
}
MAX_TOKEN_LENGTH = 16_384
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: Logto's organization tokens have ``aud = urn:logto:organization:<id>``.
ORGANIZATION_AUDIENCE = "urn:logto:organization:"

# Token types: ``typ`` header values as ``media_type`` gives them; ``None``: no ``typ``.
#: RFC 9068 section 4: a JWT access token says ``typ: at+jwt`` (Logto, oidc-provider do).
ACCESS_TOKEN_TYPES: frozenset[str | None] = frozenset({"application/at+jwt"})
#: ``BearerAuthMiddleware(accept_jwt_typ=True)``: also the generic ``typ: JWT`` that
#: Keycloak (unless told to send ``at+jwt``) and LemonLDAP::NG put on access tokens.
JWT_ACCESS_TOKEN_TYPES: frozenset[str | None] = ACCESS_TOKEN_TYPES | {"application/jwt"}
#: Tokens a session fetched itself from the token endpoint (over TLS, with the client's
#: credentials) cannot have been swapped by a client: any ``typ`` that names no other kind.
FETCHED_ACCESS_TOKEN_TYPES: frozenset[str | None] = JWT_ACCESS_TOKEN_TYPES | {None}
#: Back-Channel Logout 1.0 2.4 recommends ``typ: logout+jwt`` (oidc-provider, Keycloak 25+,
#: Authentik 2025.12+ send it); earlier Keycloak and Authentik send ``JWT``, which, like no
#: ``typ``, names no kind: the ``events`` claim and the absent ``nonce`` tell those apart
#: (section 4.1). A token typed as anything else (``at+jwt``…) is refused.
LOGOUT_TOKEN_TYPES: frozenset[str | None] = frozenset({"application/logout+jwt", "application/jwt", None})
#: Claims only ID tokens carry (OIDC Core 2 and 3.3.2.11, FAPI's ``s_hash``): an access
#: token with one of them is an ID token presented in its place.
ID_TOKEN_CLAIMS = ("nonce", "at_hash", "c_hash", "s_hash")
#: The oldest ``iat`` a logout token may have (plus the leeway), whatever its ``exp``:
#: providers send them the moment a session ends (oidc-provider: ``exp = iat + 120``).
MAX_LOGOUT_TOKEN_AGE = 300.0


class KeySource(Protocol):
    """Where signature checks find the provider's keys (``ProviderClient``)."""

    async def signing_keys(self, kid: str | None, *, refetch: bool = False) -> list[Any]:
        """Candidate keys for ``kid``; ``refetch`` asks for a (rate-limited) re-fetch."""
        ...


def _utf8(value: str) -> bytes:
    """Bytes to compare; a lone surrogate (a JSON escape) cannot make this raise."""
    return value.encode("utf-8", "surrogatepass")


def _fail(check: str, description: str) -> TokenValidationError:
    return TokenValidationError(description, check=check)


def read_header(token: str) -> dict[str, Any]:
    """The JOSE header of a compact JWS, without trusting anything in it."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
        raise _fail("format", "the token is not a compact JWS")
    try:
        header = strict_json.loads(b64url_decode(token.split(".", 1)[0]))
    except (InvalidToken, ValueError) as exc:
        raise _fail("format", "the token header is not base64url JSON") from exc
    if not isinstance(header, dict):
        raise _fail("format", "the token header is not a JSON object")
    return header


def media_type(header: Mapping[str, Any]) -> str | None:
    """The ``typ`` header as a lower-case media type (RFC 7515 4.1.9: ``at+jwt`` means
    ``application/at+jwt``); ``None`` when there is none."""
    typ = header.get("typ")
    if typ is None:
        return None
    if not isinstance(typ, str):
        raise _fail("typ", "the 'typ' header is not a string")
    typ = typ.lower()
    return typ if "/" in typ else f"application/{typ}"


def check_type(header: Mapping[str, Any], accepted: frozenset[str | None], kind: str) -> None:
    """Refuse a token whose ``typ`` header is not one of ``accepted``."""
    if media_type(header) not in accepted:
        raise _fail("typ", f"the token's 'typ' header does not say it is {kind}")


def check_not_id_token(claims: Mapping[str, Any]) -> None:
    """Refuse an access token that carries a claim of ID tokens (or Keycloak's ``typ: ID``)."""
    for name in ID_TOKEN_CLAIMS:
        if name in claims:
            raise _fail("typ", f"the access token carries '{name}', a claim of ID tokens")
    typ = claims.get("typ")
    if isinstance(typ, str) and typ.lower() == "id":
        raise _fail("typ", "the access token's 'typ' claim says it is an ID token")


def key_suits(key: Any, alg: str) -> bool:
    """Whether ``key`` may verify a signature made with ``alg``: the key type and curve
    the algorithm needs, and the key's own ``alg`` (when its JWK names one) is ``alg``."""
    kty, curves = _KEY_SHAPES[alg]
    if key.key_type != kty:
        return False
    if kty != "RSA" and key.get("crv") not in curves:
        return False
    designed = key.get("alg")
    return designed is None or designed == alg


def _deserialize(token: str, key: Any, alg: str) -> bytes:
    if alg != "EdDSA":
        return jws.deserialize_compact(token, key, algorithms=[alg]).payload
    with warnings.catch_warnings():
        # joserfc warns that RFC 9864 deprecates the name "EdDSA": it is still what
        # providers send, and the key's curve was checked (``key_suits``).
        warnings.simplefilter("ignore")
        return jws.deserialize_compact(token, key, algorithms=[alg]).payload


def _verified_payload(token: str, alg: str, keys: Iterable[Any]) -> bytes | None:
    """The payload of ``token`` if one of the ``keys`` that suit ``alg`` verifies it."""
    for key in keys:
        if not key_suits(key, alg):
            continue
        try:
            return _deserialize(token, key, alg)
        except JoseError:
            continue
        except (ValueError, TypeError):  # a key the library still cannot use for alg
            continue
    return None


async def verify_signature(token: str, provider: KeySource) -> dict[str, Any]:
    """Check the signature against the provider's keys; return the payload's claims."""
    header = read_header(token)
    alg = header.get("alg")
    if alg not in ALLOWED_ALGORITHMS:
        raise _fail("alg", f"the signing algorithm {alg!r} is not allowed")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise _fail("kid", "the 'kid' header is not a string")
    candidates = await provider.signing_keys(kid)
    payload = _verified_payload(token, alg, candidates)
    if payload is None and kid is None:
        # Without a kid an unknown key looks like a bad signature: the provider may have
        # rotated its only key. One re-fetch, rate-limited like an unknown kid's.
        fresh = await provider.signing_keys(None, refetch=True)
        if fresh != candidates:
            payload = _verified_payload(token, alg, fresh)
    if payload is not None:
        try:
            claims = strict_json.loads(payload)
        except ValueError as exc:
            raise _fail("format", "the token payload is not JSON") from exc
        if not isinstance(claims, dict):
            raise _fail("format", "the token payload is not a JSON object")
        return claims
    if kid is not None and not candidates:
        raise _fail("signature", "the token is signed with a key the provider does not publish")
    raise _fail("signature", "the token signature is invalid")


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(name, f"the '{name}' claim is missing or not a number")
    # (claims parsed elsewhere may hold 10**400 or inf: no OverflowError, no "never expires")
    if not -MAX_INT <= value <= MAX_INT:
        raise _fail(name, f"the '{name}' claim is out of range")
    return float(value)


def check_time(claims: Mapping[str, Any], *, now: float, leeway: float, require_iat: bool = True) -> None:
    if _number(claims, "exp") < now - leeway:
        raise _fail("exp", "the token has expired")
    if require_iat or "iat" in claims:
        if _number(claims, "iat") > now + leeway:
            raise _fail("iat", "the token was issued in the future (check the server clocks)")
    if "nbf" in claims and _number(claims, "nbf") > now + leeway:
        raise _fail("nbf", "the token is not valid yet")


def audiences(claims: Mapping[str, Any]) -> list[str]:
    """The ``aud`` claim as a list; ``aud`` check failure when missing or malformed."""
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud):
        return aud
    raise _fail("aud", "the 'aud' claim is missing or malformed")


def check_issuer(claims: Mapping[str, Any], issuer: str) -> None:
    iss = claims.get("iss")
    if not isinstance(iss, str) or not hmac.compare_digest(_utf8(iss), issuer.encode()):
        raise _fail("iss", "the token was not issued by the configured provider")


def check_id_token(
    claims: Mapping[str, Any],
    *,
    issuer: str,
    client_id: str,
    nonce: str | None,
    now: float,
    leeway: float,
) -> None:
    """OpenID Connect Core 3.1.3.7 checks on verified ID token claims."""
    check_issuer(claims, issuer)
    audience = audiences(claims)
    if client_id not in audience:
        raise _fail("aud", "the ID token is not meant for this application")
    azp = claims.get("azp")
    if len(audience) > 1 and azp is None:
        raise _fail("azp", "the ID token has several audiences but no 'azp'")
    if azp is not None and azp != client_id:
        raise _fail("azp", "the ID token's authorized party is another application")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise _fail("sub", "the ID token has no subject")
    check_time(claims, now=now, leeway=leeway)
    if nonce is not None:
        sent = claims.get("nonce")
        if not isinstance(sent, str) or not hmac.compare_digest(_utf8(sent), nonce.encode()):
            raise _fail("nonce", "the ID token's nonce does not match this sign-in")


def check_auth_time(claims: Mapping[str, Any], *, max_age: int, now: float, leeway: float) -> None:
    """OIDC Core 3.1.2.1 / 3.1.3.7: when ``max_age`` was requested the ID token must carry
    ``auth_time``, and the authentication it records must be at most ``max_age`` old."""
    auth_time = _number(claims, "auth_time")
    if now - auth_time > max_age + leeway:
        raise _fail("auth_time", "the sign-in is older than the max_age asked for")
    if auth_time > now + leeway:
        raise _fail("auth_time", "the ID token's auth_time is in the future")


def organization_audience(aud: str) -> str | None:
    """The organization id of an organization token's audience, else ``None``."""
    if aud.startswith(ORGANIZATION_AUDIENCE) and len(aud) > len(ORGANIZATION_AUDIENCE):
        return aud[len(ORGANIZATION_AUDIENCE) :]
    return None


def check_access_token(
    claims: Mapping[str, Any],
    *,
    issuer: str,
    audience: str | Iterable[str] | None,
    now: float,
    leeway: float,
    organization_tokens: bool = False,
) -> None:
    """RFC 9068 checks on verified JWT access token claims. ``organization_tokens``
    also accepts any organization token of this issuer."""
    check_issuer(claims, issuer)
    if audience is not None or organization_tokens:
        wanted = {audience} if isinstance(audience, str) else set(audience or ())
        sent = audiences(claims)
        if not wanted.intersection(sent) and not (
            organization_tokens and any(organization_audience(aud) for aud in sent)
        ):
            raise _fail("aud", "the access token is not meant for this resource")
    check_time(claims, now=now, leeway=leeway, require_iat=False)
    check_not_id_token(claims)


async def verify_access_token(
    token: str,
    keys: KeySource,
    *,
    issuer: str,
    audience: str | Iterable[str] | None,
    now: float,
    leeway: float,
    organization_tokens: bool = False,
    token_types: frozenset[str | None] = ACCESS_TOKEN_TYPES,
) -> dict[str, Any]:
    """The one JWT access-token validator (sessions' resource tokens and bearer tokens):
    the format and the ``typ`` header (one of ``token_types``) before any network call,
    then signature, issuer, audience, time, and no claim of ID tokens."""
    check_type(read_header(token), token_types, "an access token")
    claims = await verify_signature(token, keys)
    check_access_token(
        claims,
        issuer=issuer,
        audience=audience,
        now=now,
        leeway=leeway,
        organization_tokens=organization_tokens,
    )
    return claims


def _logout_token_times(claims: Mapping[str, Any], *, now: float, leeway: float) -> float:
    """``exp`` (required, errata set 1), ``iat`` neither ahead nor older than
    ``MAX_LOGOUT_TOKEN_AGE``; the last moment the token is accepted."""
    exp, iat = _number(claims, "exp"), _number(claims, "iat")
    check_time(claims, now=now, leeway=leeway)
    if iat < now - MAX_LOGOUT_TOKEN_AGE - leeway:
        raise _fail("iat", "the logout token is too old")
    return min(exp, iat + MAX_LOGOUT_TOKEN_AGE) + leeway


def check_logout_token(
    claims: Mapping[str, Any],
    *,
    header: Mapping[str, Any],
    issuer: str,
    client_id: str,
    now: float,
    leeway: float,
) -> float:
    """OIDC Back-Channel Logout 1.0 (errata set 1), 2.6, on verified claims and the JOSE
    ``header``. Returns the last moment the token is accepted: its ``jti`` must be
    remembered until then, or a captured token could be replayed."""
    check_type(header, LOGOUT_TOKEN_TYPES, "a logout token")
    check_issuer(claims, issuer)
    if client_id not in audiences(claims):
        raise _fail("aud", "the logout token is not meant for this application")
    accepted_until = _logout_token_times(claims, now=now, leeway=leeway)
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise _fail("jti", "the logout token has no 'jti'")
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
        raise _fail("events", "the logout token has no back-channel logout event")
    if "nonce" in claims:
        raise _fail("nonce", "a logout token must not contain a nonce")
    sub, sid = claims.get("sub"), claims.get("sid")
    if not (isinstance(sub, str) and sub) and not (isinstance(sid, str) and sid):
        raise _fail("sub", "the logout token names neither 'sub' nor 'sid'")
    return accepted_until
