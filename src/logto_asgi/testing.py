"""Helpers for testing your own protected routes, without a running provider.

``TestIssuer`` stands in for Logto: it signs JWT access tokens with a key of its own and
serves discovery, JWKS and userinfo through an ``httpx.MockTransport``, so
``LogtoMiddleware`` and ``BearerAuthMiddleware`` validate its tokens exactly as they
validate Logto's. ``signed_in_cookies`` builds the encrypted session cookie of a user
who has signed in, with the claims, scopes and tokens you choose.

An example test (pytest with anyio; ``build_app`` is your own app factory)::

    import httpx
    from logto_asgi import BearerAuthMiddleware, LogtoMiddleware
    from logto_asgi.testing import TestIssuer, signed_in_cookies

    API = "https://api.example.com"

    async def test_orders_need_shopping_read() -> None:
        issuer = TestIssuer()
        config = issuer.config(resources=[API])
        app = LogtoMiddleware(
            BearerAuthMiddleware(build_app(), endpoint=issuer.endpoint, audience=API,
                                 http_client=issuer.http_client()),
            config=config,
        )
        cookies = signed_in_cookies(
            config,
            claims={"sub": "user-1", "name": "Ada"},
            access_tokens={API: issuer.access_token(API, scopes=["shopping:read"], sub="user-1")},
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/orders")).status_code == 401
            client.cookies.update(cookies)
            assert (await client.get("/orders")).status_code == 200

        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            token = issuer.access_token(API, scopes=[])
            response = await client.get("/orders", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 403
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from ._crypto import b64url_decode, b64url_encode
from ._http import CookieJar
from .config import DEFAULT_SCOPES, LogtoConfig
from .discovery import discovery_url, logto_issuer
from .errors import ConfigurationError
from .sessions._backends import CookieBackend
from .sessions.base import CachedToken, Session, token_key
from .sessions.cookie import CookieStore
from .tokens import ORGANIZATION_AUDIENCE

__all__ = ["TestIssuer", "signed_in_cookies"]

DEFAULT_SUB = "user-test"


class TestIssuer:
    """A stand-in OpenID Provider for tests: signs access tokens, serves its keys.

    ``endpoint`` plays the Logto endpoint (issuer ``{endpoint}/oidc``). Pass
    ``http_client()`` to ``BearerAuthMiddleware(http_client=…)``, or build a matching
    ``LogtoConfig`` with ``config()``. ``user_info`` maps an opaque access token (see
    ``opaque_token``) to what the userinfo endpoint answers for it. The token endpoint
    refuses every grant (``invalid_grant``), so an expired token ends the test session
    the way a revoked grant ends a real one.
    """

    __test__ = False  # a helper, not a test class for pytest to collect

    def __init__(self, endpoint: str = "https://logto.test", *, algorithm: str = "ES384") -> None:
        self.endpoint = endpoint.rstrip("/")
        self.issuer = logto_issuer(self.endpoint)
        self.discovery_url = discovery_url(self.issuer)
        kid = secrets.token_hex(4)
        if algorithm.startswith("ES"):
            curve = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}[algorithm]
            self._key: Any = ECKey.generate_key(curve, parameters={"kid": kid, "alg": algorithm})
        else:
            self._key = RSAKey.generate_key(2048, parameters={"kid": kid, "alg": algorithm})
        self.algorithm = algorithm
        self.kid = kid
        self.user_info: dict[str, dict[str, Any]] = {}

    # Tokens ---------------------------------------------------------------------------

    def sign(self, claims: Mapping[str, Any]) -> str:
        """Any claims, signed as a JWT access token (``typ: at+jwt``) of this issuer."""
        header = {"alg": self.algorithm, "typ": "at+jwt", "kid": self.kid}
        return jwt.encode(header, dict(claims), self._key, algorithms=[self.algorithm])

    def access_token(
        self,
        audience: str | Sequence[str],
        *,
        scopes: Iterable[str] = (),
        sub: str = DEFAULT_SUB,
        expires_in: int = 3600,
        organization_id: str | None = None,
        **claims: Any,
    ) -> str:
        """A JWT access token for ``audience`` (an API resource indicator) granting
        ``scopes``; ``organization_id`` makes it an organization-level resource token;
        extra keyword arguments become claims (``None`` removes one)."""
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sub,
            "aud": audience if isinstance(audience, str) else list(audience),
            "iat": now,
            "exp": now + expires_in,
            "jti": secrets.token_urlsafe(12),
            "client_id": "test-app",
            "scope": " ".join(scopes),
        }
        if organization_id is not None:
            body["organization_id"] = organization_id
        body.update(claims)
        return self.sign({k: v for k, v in body.items() if v is not None})

    def organization_token(
        self, organization_id: str, *, scopes: Iterable[str] = (), sub: str = DEFAULT_SUB, **claims: Any
    ) -> str:
        """An organization token (``aud = urn:logto:organization:<id>``)."""
        return self.access_token(
            f"{ORGANIZATION_AUDIENCE}{organization_id}", scopes=scopes, sub=sub, **claims
        )

    def opaque_token(self, user_info: Mapping[str, Any]) -> str:
        """An opaque access token whose userinfo answer is ``user_info`` (for
        ``signed_in_cookies(access_tokens={"": …})`` and ``fetch_user_info()``)."""
        token = f"opaque-{secrets.token_urlsafe(16)}"
        self.user_info[token] = dict(user_info)
        return token

    # The provider side ----------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        """The public keys, as the JWKS endpoint serves them."""
        return {"keys": [self._key.as_dict(private=False)]}

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request to the provider (the ``MockTransport`` handler)."""
        path = request.url.path
        base = httpx.URL(self.issuer).path
        if path == f"{base}/.well-known/openid-configuration":
            return httpx.Response(200, json=self.discovery())
        if path == f"{base}/jwks":
            return httpx.Response(200, json=self.jwks())
        if path == f"{base}/me":
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            info = self.user_info.get(token)
            return httpx.Response(200, json=info) if info is not None else httpx.Response(401)
        if path == f"{base}/token":
            return httpx.Response(400, json={"error": "invalid_grant"})
        if path == f"{base}/token/revocation":
            return httpx.Response(200)
        return httpx.Response(404)

    def discovery(self) -> dict[str, Any]:
        """The discovery document."""
        issuer = self.issuer
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/auth",
            "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks",
            "userinfo_endpoint": f"{issuer}/me",
            "end_session_endpoint": f"{issuer}/session/end",
            "revocation_endpoint": f"{issuer}/token/revocation",
        }

    def http_client(self) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` that reaches this issuer (and nothing else)."""
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))

    def config(self, **options: Any) -> LogtoConfig:
        """A ``LogtoConfig`` for this issuer (test app id, random cookie secret, its
        HTTP client); keyword arguments override or complete it."""
        values: dict[str, Any] = {
            "endpoint": self.endpoint,
            "app_id": "test-app",
            "cookie_secret": secrets.token_urlsafe(32),
            "http_client": self.http_client(),
        }
        values.update(options)
        return LogtoConfig(**values)


def signed_in_cookies(
    config: LogtoConfig,
    *,
    claims: Mapping[str, Any] | None = None,
    scopes: Iterable[str] | None = None,
    access_tokens: Mapping[str, str] | None = None,
    organization_tokens: Mapping[str, str] | None = None,
    id_token: str | None = None,
) -> dict[str, str]:
    """The session cookie(s) of a signed-in user, ready for ``client.cookies.update``.

    ``claims`` are the ID token claims (``sub`` defaults to ``"user-test"``; ``iss``,
    ``aud``, ``iat`` and ``exp`` are filled in); ``scopes`` the scopes granted at sign-in
    (default: those ``config`` requests; ``openid profile offline_access`` always);
    ``access_tokens`` maps a resource to its token (``""`` for the opaque userinfo token),
    ``organization_tokens`` an organization id to its token — build them with
    ``TestIssuer``. The session has no refresh token: a token that expires ends it.
    Only for ``CookieStore`` (the default) sessions.
    """
    if not isinstance(config.store, CookieStore):
        raise ConfigurationError("store", "signed_in_cookies builds cookie sessions: test with CookieStore()")
    now = int(time.time())
    full_claims: dict[str, Any] = {
        "iss": config.expected_issuers[0],
        "aud": config.app_id,
        "sub": DEFAULT_SUB,
        "iat": now,
        "exp": now + 3600,
        **(claims or {}),
    }
    granted = config.all_scopes if scopes is None else tuple(dict.fromkeys((*DEFAULT_SCOPES, *scopes)))
    tokens = {"": f"opaque-{secrets.token_urlsafe(16)}", **(access_tokens or {})}
    cached = {token_key(resource or None, None): _cached(token, now) for resource, token in tokens.items()}
    for organization, token in (organization_tokens or {}).items():
        cached[token_key(None, organization)] = _cached(token, now)
    session = Session(
        id_token=id_token or _unsigned(full_claims),
        claims=full_claims,
        refresh_token=None,
        scope=" ".join(granted),
        created_at=now,
        updated_at=now,
        expires_at=int(now + config.session_max_age),
        access_tokens=cached,
    )
    jar = CookieJar(path=config.cookie_path, domain=config.cookie_domain, samesite="lax", secure=False)
    return CookieBackend(config, config.store, jar).cookies(session)


def _cached(token: str, now: int) -> CachedToken:
    expires_at, scope = float(now + 3600), ""
    if token.count(".") == 2:
        payload = _payload(token)
        if isinstance(payload.get("exp"), int):
            expires_at = float(payload["exp"])
        scope = str(payload.get("scope") or "")
    return CachedToken(token, expires_at, scope)


def _payload(token: str) -> dict[str, Any]:
    """The claims of a token this module's issuer signed (read, not verified: test data)."""
    claims: dict[str, Any] = json.loads(b64url_decode(token.split(".")[1]))
    return claims


def _unsigned(claims: Mapping[str, Any]) -> str:
    """A stand-in ID token (``alg: none``): the session keeps it only as a sign-out hint."""
    header = b64url_encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64url_encode(json.dumps(dict(claims)).encode())}."
