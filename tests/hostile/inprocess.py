"""An in-process provider (httpx ``MockTransport``) and raw-ASGI helpers for the fuzz tests.

Property tests run hundreds of examples, so they call the middleware in-process with no
socket at all: the provider's discovery, JWKS and token endpoints are a function, and
requests go through ``httpx.ASGITransport``. The mock token endpoint accepts exactly one
kind of code, ``good.<nonce>``, so a test can finish a sign-in it started; anything else
is ``invalid_grant``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import anyio
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from logto_asgi import LogtoConfig, LogtoMiddleware
from logto_asgi.flows import TokenResponse
from logto_asgi.sessions import CookieStore
from support.app import APP_ORIGIN
from support.tokens import CLIENT_ID, ISSUER, Signer, id_claims

ENDPOINT = ISSUER.removesuffix("/oidc")
AUTHORIZE = f"{ISSUER}/auth"
API = "https://api.fuzz.test"
SIGNER = Signer("EC", kid="fuzz-1")
COOKIE_SECRET = "fuzz-cookie-secret-" + "x" * 32


def mock_provider(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path.endswith("/openid-configuration"):
        return httpx.Response(
            200,
            json={
                "issuer": ISSUER,
                "authorization_endpoint": AUTHORIZE,
                "token_endpoint": f"{ISSUER}/token",
                "jwks_uri": f"{ISSUER}/jwks",
                "userinfo_endpoint": f"{ISSUER}/me",
                "end_session_endpoint": f"{ISSUER}/session/end",
            },
        )
    if path.endswith("/jwks"):
        return httpx.Response(200, json={"keys": [SIGNER.jwk()]})
    if path.endswith("/token"):
        form = dict(parse_qsl(request.content.decode()))
        code = form.get("code", "")
        if form.get("grant_type") == "authorization_code" and code.startswith("good."):
            return httpx.Response(
                200,
                json={
                    "access_token": "opaque-access-token",
                    "token_type": "Bearer",
                    "expires_in": 3600,
                    "refresh_token": "a-refresh-token",
                    "id_token": SIGNER.sign(id_claims(nonce=code[5:])),
                },
            )
        return httpx.Response(400, json={"error": "invalid_grant"})
    return httpx.Response(404)


def access_token(**overrides: Any) -> str:
    """A valid JWT access token for ``API`` (overrides as in ``id_claims``)."""
    base = {"aud": API, "scope": "read write", "client_id": CLIENT_ID, "nonce": None, "name": None}
    return SIGNER.sign(id_claims(**{**base, **overrides}), typ="at+jwt")


async def whoami(request: Request) -> Response:
    user = request.state.user
    return JSONResponse({"sub": user.sub if user is not None else None})


def build_app() -> Starlette:
    return Starlette(routes=[Route("/me", whoami)])


def logto_app(**overrides: Any) -> LogtoMiddleware:
    """The app in ``LogtoMiddleware`` against the mock provider; small cookie chunks."""
    options: dict[str, Any] = {
        "endpoint": ENDPOINT,
        "app_id": CLIENT_ID,
        "app_secret": "fuzz-app-secret",
        "cookie_secret": COOKIE_SECRET,
        "base_url": APP_ORIGIN,
        "store": CookieStore(chunk_size=500),
        "http_client": httpx.AsyncClient(transport=httpx.MockTransport(mock_provider)),
    }
    options.update(overrides)
    return LogtoMiddleware(build_app(), config=LogtoConfig(**options))


def genuine_cookies(middleware: LogtoMiddleware) -> list[tuple[str, str]]:
    """``genuine_cookies_async`` run on its own event loop."""
    return anyio.run(genuine_cookies_async, middleware)


async def genuine_cookies_async(middleware: LogtoMiddleware) -> list[tuple[str, str]]:
    """A real session, as the (name, value) cookies the browser would send."""
    core = middleware.core
    now = time.time()
    tokens = TokenResponse("opaque-access-token", now + 3600, "openid", None, "a-refresh-token")
    token = SIGNER.sign(id_claims())
    session = core.tokens.new_session(id_token=token, claims=id_claims(), tokens=tokens, now=now)
    headers = await core.backend.save(session, {}, now=now, secure=False)
    cookies = []
    for _, raw in headers:
        name, _, rest = raw.decode("latin-1").partition("=")
        cookies.append((name, rest.split(";", 1)[0]))
    return cookies


@dataclass
class Answer:
    """A raw ASGI response."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: bytes) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value.decode("latin-1")
        return None

    def header_list(self, name: bytes) -> list[str]:
        return [v.decode("latin-1") for k, v in self.headers if k.lower() == name]


async def call(
    app: Any,
    path: str,
    *,
    query: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    method: str = "GET",
) -> Answer:
    """One raw ASGI HTTP request: anything may go in the query string and the headers."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"app.test"), *(headers or [])],
        "client": ("127.0.0.1", 1),
        "server": ("app.test", 80),
    }
    sent: list[Mapping[str, Any]] = []
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:
            return {"type": "http.disconnect"}
        received = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Mapping[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Answer(start["status"], list(start.get("headers", [])), body)


def assert_clean_headers(answer: Answer) -> None:
    """No header value or name carries CR, LF or NUL (response splitting)."""
    for name, value in answer.headers:
        for forbidden in (b"\r", b"\n", b"\x00"):
            assert forbidden not in name and forbidden not in value, (name, value)


def browser_target(location: str, base: str = f"{APP_ORIGIN}/callback") -> tuple[str, str]:
    """Where a browser goes for ``location``: (scheme, host). Browsers drop tabs and
    newlines from URLs and read a backslash as a slash (WHATWG URL)."""
    cleaned = location.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    cleaned = cleaned.lstrip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f \x1f")
    parts = urlsplit(urljoin(base, cleaned))
    return parts.scheme, parts.netloc


def session_cookies(answer: Answer) -> list[str]:
    """Session cookies the answer sets to a non-empty value."""
    names = []
    for line in answer.header_list(b"set-cookie"):
        name, _, rest = line.partition("=")
        value = rest.split(";", 1)[0]
        if (name == "logto" or name.startswith("logto.")) and value not in ("", '""'):
            names.append(name)
    return names
