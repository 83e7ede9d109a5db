"""A scripted, hostile OpenID Provider speaking real HTTP on loopback.

It answers a correct authorization request at once (no login page: ``GET /oidc/auth``
redirects straight back with a code and the state) and serves discovery, JWKS, token,
userinfo, revocation and end-session endpoints. Every answer is built from public knobs
that a test sets before driving a sign-in: the claims of the ID token, how it is signed
(or forged), which keys the JWKS publishes, the discovery document, the userinfo body, the
token response fields, and per-endpoint faults (HTTP 500, HTML, truncated JSON, too slow).

``counts`` records the requests each endpoint received, so tests pin "never called" and
"exactly one JWKS re-fetch" with numbers, not sleeps. ``reset()`` restores good behaviour.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from support.server import Listener, serve
from support.tokens import with_overrides

CLIENT_ID = "hostile-app"
CLIENT_SECRET = "hostile-client-secret-0123456789"
SUBJECT = "user-hostile"
#: How long a "slow" endpoint takes to answer: just past the relying party's timeout
#: (``harness.TIMEOUT``, 0.05 s). The sleep starts once the request has arrived, so the
#: answer can never beat the client's read timeout, however loaded the machine is.
SLOW_SECONDS = 0.1

Fault = Literal["500", "html", "truncated", "slow"]
#: Endpoint names used by ``counts`` and ``faults``: ``token`` is the code exchange,
#: ``refresh`` the refresh grant (both at the token endpoint).
Endpoint = Literal["discovery", "jwks", "auth", "token", "refresh", "userinfo", "revocation", "end_session"]
Key = ECKey | RSAKey
#: Replaces the signed ID token: ``forge(signed_token, claims, signing_key)``.
Forger = Callable[[str, dict[str, Any], Key], str]


def new_key(kind: Literal["EC", "RSA"], kid: str | None) -> Key:
    params: dict[str, Any] = {"kid": kid} if kid else {}
    if kind == "EC":
        return ECKey.generate_key("P-384", parameters=params)  # type: ignore[arg-type]
    return RSAKey.generate_key(2048, parameters=params)  # type: ignore[arg-type]


def alg_for(key: Key) -> str:
    return "ES384" if isinstance(key, ECKey) else "RS256"


def public_jwk(key: Key) -> dict[str, Any]:
    return dict(key.as_dict(private=False))


@dataclass
class _Grant:
    nonce: str | None
    challenge: str
    redirect_uri: str
    client_id: str


EC_KEY = new_key("EC", "hostile-es-1")
RSA_KEY = new_key("RSA", "hostile-rs-1")


class HostileProvider:
    """Knobs and state of the hostile provider; ``url`` once served."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.issuer = f"{url}/oidc"
        self.counts: Counter[str] = Counter()
        self._codes: dict[str, _Grant] = {}
        self._access_tokens: set[str] = set()
        self.reset()

    def reset(self) -> None:
        """Behave well again: one EC key, correct claims, no faults. Counts restart."""
        #: Keys published in the JWKS (public parts only), in this order.
        self.keys: list[Key] = [EC_KEY]
        #: The key that signs ID tokens.
        self.signing_key: Key = EC_KEY
        #: Put the signing key's ``kid`` in the JOSE header.
        self.send_kid = True
        #: Overrides for the ID token issued at the code exchange (``None`` removes).
        self.id_token_claims: dict[str, Any] = {}
        #: Overrides for the ID token issued with a refresh; ``None`` = no ID token at all.
        self.refresh_id_token_claims: dict[str, Any] | None = {}
        #: Replaces the signed ID token (signature flips, ``alg: none``, HS256…).
        self.forge: Forger | None = None
        #: Overrides for the discovery document.
        self.discovery: dict[str, Any] = {}
        #: Raw entries added to the JWKS before the real keys (unparseable ones, say).
        self.jwks_junk: list[Any] = []
        #: Overrides for the userinfo body.
        self.userinfo_claims: dict[str, Any] = {}
        #: Answer userinfo as a signed JWT (``application/jwt``, OIDC Core 5.3.2) of the
        #: body, signed by ``signing_key`` (``forge`` applies); a string is sent as is.
        self.userinfo_jwt: bool | str = False
        #: Overrides for the code-exchange and refresh token responses.
        self.token_fields: dict[str, Any] = {}
        self.refresh_fields: dict[str, Any] = {}
        self.faults: dict[Endpoint, Fault] = {}
        self.counts.clear()

    def rotate(self, kind: Literal["EC", "RSA"] = "EC", *, drop_old: bool = True) -> Key:
        """A new signing key with a new ``kid``, published (alone unless ``not drop_old``)."""
        key = new_key(kind, f"hostile-{kind.lower()}-{secrets.token_hex(4)}")
        self.keys = [key] if drop_old else [*self.keys, key]
        self.signing_key = key
        return key

    # Documents -------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        base = self.issuer
        return with_overrides(
            {
                "issuer": base,
                "authorization_endpoint": f"{base}/auth",
                "token_endpoint": f"{base}/token",
                "jwks_uri": f"{base}/jwks",
                "userinfo_endpoint": f"{base}/me",
                "revocation_endpoint": f"{base}/token/revocation",
                "end_session_endpoint": f"{base}/session/end",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["ES384", "RS256"],
                "code_challenge_methods_supported": ["S256"],
            },
            self.discovery,
        )

    def id_token(self, *, nonce: str | None, client_id: str, overrides: dict[str, Any]) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": client_id,
            "sub": SUBJECT,
            "iat": now,
            "exp": now + 3600,
            "auth_time": now,
            "name": "Hostile User",
        }
        if nonce is not None:
            claims["nonce"] = nonce
        claims = with_overrides(claims, overrides)
        key = self.signing_key
        header: dict[str, Any] = {"alg": alg_for(key), "typ": "JWT"}
        if self.send_kid and key.kid:
            header["kid"] = key.kid
        token = jwt.encode(header, claims, key, algorithms=[header["alg"]])
        return self.forge(token, claims, key) if self.forge is not None else token

    # Endpoints -------------------------------------------------------------------------

    async def _fault(self, name: Endpoint) -> Response | None:
        self.counts[name] += 1
        fault = self.faults.get(name)
        if fault == "slow":
            await asyncio.sleep(SLOW_SECONDS)
        elif fault == "500":
            return PlainTextResponse("Internal Server Error", status_code=500)
        elif fault == "html":
            return HTMLResponse("<!doctype html><html><body><h1>Down for maintenance</h1></body></html>")
        elif fault == "truncated":
            return Response(b'{"issuer": "http://127.0.0.1', media_type="application/json")
        return None

    async def _discovery(self, request: Request) -> Response:
        return await self._fault("discovery") or JSONResponse(self.metadata())

    async def _jwks(self, request: Request) -> Response:
        keys = [*self.jwks_junk, *(public_jwk(key) for key in self.keys)]
        return await self._fault("jwks") or JSONResponse({"keys": keys})

    async def _authorize(self, request: Request) -> Response:
        """Auto-approve: back to the redirect_uri with a fresh code and the state."""
        fault = await self._fault("auth")
        if fault is not None:
            return fault
        query = request.query_params
        redirect_uri = query.get("redirect_uri", "")
        if query.get("response_type") != "code" or query.get("code_challenge_method") != "S256":
            return PlainTextResponse("unsupported authorization request", status_code=400)
        code = secrets.token_urlsafe(24)
        self._codes[code] = _Grant(
            nonce=query.get("nonce"),
            challenge=query.get("code_challenge", ""),
            redirect_uri=redirect_uri,
            client_id=query.get("client_id", ""),
        )
        params = {"code": code, "state": query.get("state", "")}
        return RedirectResponse(f"{redirect_uri}?{urlencode(params)}", status_code=302)

    @staticmethod
    def _client_ok(request: Request) -> bool:
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        return request.headers.get("authorization") == f"Basic {expected}"

    async def _token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        grant_type = form.get("grant_type")
        name: Endpoint = "refresh" if grant_type == "refresh_token" else "token"
        fault = await self._fault(name)
        if fault is not None:
            return fault
        if not self._client_ok(request):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if grant_type == "authorization_code":
            return self._code_exchange(form)
        if grant_type == "refresh_token":
            return self._refresh(form)
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)

    def _tokens(self, id_token: str | None) -> dict[str, Any]:
        access_token = secrets.token_urlsafe(32)
        self._access_tokens.add(access_token)
        body: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "openid profile offline_access",
            "refresh_token": secrets.token_urlsafe(32),
        }
        if id_token is not None:
            body["id_token"] = id_token
        return body

    def _code_exchange(self, form: dict[str, str]) -> Response:
        grant = self._codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
        if (
            grant is None
            or grant.redirect_uri != form.get("redirect_uri")
            or challenge.decode() != grant.challenge
        ):
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "grant request is invalid"}, status_code=400
            )
        id_token = self.id_token(nonce=grant.nonce, client_id=grant.client_id, overrides=self.id_token_claims)
        return JSONResponse(with_overrides(self._tokens(id_token), self.token_fields))

    def _refresh(self, form: dict[str, str]) -> Response:
        if not form.get("refresh_token"):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        overrides = self.refresh_id_token_claims
        id_token = None
        if overrides is not None:
            id_token = self.id_token(nonce=None, client_id=CLIENT_ID, overrides=overrides)
        return JSONResponse(with_overrides(self._tokens(id_token), self.refresh_fields))

    async def _userinfo(self, request: Request) -> Response:
        fault = await self._fault("userinfo")
        if fault is not None:
            return fault
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self._access_tokens:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        body = with_overrides(
            {"sub": SUBJECT, "name": "Hostile User", "email": "hostile@example.com"}, self.userinfo_claims
        )
        if self.userinfo_jwt is False:
            return JSONResponse(body)
        if isinstance(self.userinfo_jwt, str):
            return Response(self.userinfo_jwt, media_type="application/jwt")
        key = self.signing_key
        header: dict[str, Any] = {"alg": alg_for(key), "kid": key.kid}
        signed = jwt.encode(header, body, key, algorithms=[header["alg"]])
        token = self.forge(signed, body, key) if self.forge is not None else signed
        return Response(token, media_type="application/jwt; charset=utf-8")

    async def _revocation(self, request: Request) -> Response:
        return await self._fault("revocation") or Response(status_code=200)

    async def _end_session(self, request: Request) -> Response:
        fault = await self._fault("end_session")
        if fault is not None:
            return fault
        target = request.query_params.get("post_logout_redirect_uri")
        if target:
            return RedirectResponse(target, status_code=302)
        return PlainTextResponse("Signed out")

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/oidc/.well-known/openid-configuration", self._discovery),
                Route("/oidc/jwks", self._jwks),
                Route("/oidc/auth", self._authorize),
                Route("/oidc/token", self._token, methods=["POST"]),
                Route("/oidc/me", self._userinfo),
                Route("/oidc/token/revocation", self._revocation, methods=["POST"]),
                Route("/oidc/session/end", self._end_session),
            ]
        )


@contextmanager
def run_hostile_provider() -> Iterator[HostileProvider]:
    """Serves a ``HostileProvider`` with uvicorn on a free loopback port.

    The socket is created with ``proto=IPPROTO_TCP``: asyncio only turns Nagle off on
    accepted sockets whose protocol says TCP, and with Nagle each JSON answer (headers
    and body written apart) waits ~40 ms for a delayed ACK.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        listener = Listener(sock, "127.0.0.1", sock.getsockname()[1])
        provider = HostileProvider(listener.url)
        with serve(provider.app(), listener):
            yield provider
