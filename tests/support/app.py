"""A small test app and a browser-like client around it, signed in against the real
test provider.

``Harness`` registers a fresh client at the provider, wraps a Starlette app in
``LogtoMiddleware`` and gives an ``httpx.AsyncClient`` whose requests to
``http://app.test`` go to the app in-process while everything else (the provider) goes
over real HTTP on loopback — cookies kept per host like a browser keeps them.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp
from starlette.websockets import WebSocket

from logto_asgi import LogtoConfig, LogtoMiddleware, get_context
from support.provider import OidcTestProvider, provider_login, provider_logout

APP_ORIGIN = "http://app.test"
#: What a browser says on a navigation within the app (``Sec-Fetch-Site``): the test
#: browsers send it on every request, so sign-out from the app's pages works at once.
SAME_ORIGIN = {"sec-fetch-site": "same-origin"}
#: ... and what it accepts on a navigation, so error pages come to it as HTML (a client
#: sending no ``Accept``, or ``*/*``, gets JSON).
BROWSER = {**SAME_ORIGIN, "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
SHOPPING = "https://shopping.example.com/api"
STORE = "https://store.example.com/api"
USERS = {"alice": "alice-password", "bob": "bob-password"}


async def home(request: Request) -> Response:
    logto = request.state.logto
    if not logto.is_authenticated:
        return HTMLResponse(f"Not authenticated · <a href='{logto.sign_in_url()}'>Sign in</a>")
    return HTMLResponse(f"Authenticated · <a href='{logto.sign_out_url()}'>Sign out</a>")


async def me(request: Request) -> Response:
    user = request.state.user
    if user is None:
        return JSONResponse({"user": None}, status_code=401)
    return JSONResponse(
        {
            "user": user.to_dict(),
            "starlette_user": request.user.display_name,
            "scopes": sorted(request.auth.scopes),
        }
    )


async def orders(request: Request) -> Response:
    user = request.state.user
    return PlainTextResponse(f"orders of {user.sub if user else 'nobody'}")


async def stream(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(3):
            yield f"chunk {i}\n".encode()

    return StreamingResponse(chunks(), media_type="text/plain")


async def token(request: Request) -> Response:
    logto = get_context(request)
    resource = request.query_params.get("resource") or None
    org = request.query_params.get("org") or None
    value = await logto.get_access_token(resource, org)
    body: dict[str, Any] = {"token_suffix": value[-8:]}
    if (resource or org) and not request.query_params.get("raw"):
        body["claims"] = (await logto.get_access_token_claims(resource, org)).to_dict()
    return JSONResponse(body)


async def userinfo(request: Request) -> Response:
    info = await get_context(request).fetch_user_info()
    return JSONResponse(info.to_dict())


async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    user = websocket.state.user
    await websocket.send_text(user.sub if user else "anonymous")
    await websocket.close()


def build_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/", home),
            Route("/me", me),
            Route("/orders", orders),
            Route("/stream", stream),
            Route("/token", token),
            Route("/userinfo", userinfo),
            WebSocketRoute("/ws", ws),
        ]
    )


@dataclass
class Harness:
    provider: OidcTestProvider
    config: LogtoConfig
    middleware: LogtoMiddleware
    client: httpx.AsyncClient

    extra_browsers: list[httpx.AsyncClient] = field(default_factory=list)

    def browser(self) -> httpx.AsyncClient:
        """Another browser (own cookie jar) on the same app, closed with the harness."""
        client = new_browser(self.middleware)
        self.extra_browsers.append(client)
        return client

    async def sign_in(
        self,
        username: str = "alice",
        *,
        return_to: str | None = None,
        client: httpx.AsyncClient | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Sign-in route → provider login → the app's callback response (not followed)."""
        client = client or self.client
        query = dict(params or {})
        if return_to is not None:
            query["return_to"] = return_to
        start = await client.get(f"{APP_ORIGIN}{self.config.sign_in_path}", params=query)
        assert start.status_code == 302, start.text
        return await provider_login(
            client, start.headers["location"], username=username, password=USERS[username]
        )

    async def sign_out(self, client: httpx.AsyncClient | None = None) -> httpx.Response:
        client = client or self.client
        return await provider_logout(client, f"{APP_ORIGIN}{self.config.sign_out_path}")

    async def aclose(self) -> None:
        for client in (self.client, *self.extra_browsers):
            await client.aclose()
        await self.middleware.core.aclose()


def new_browser(app: ASGIApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        mounts={APP_ORIGIN: httpx.ASGITransport(app=app)},
        follow_redirects=False,
        timeout=15,
        headers=BROWSER,
    )


@dataclass(frozen=True)
class Registration:
    """A client registered at the test provider for one or more app origins."""

    provider: OidcTestProvider
    client_id: str
    secret: str | None

    def config(self, base_url: str | None, **overrides: Any) -> LogtoConfig:
        """A LogtoConfig for this client (a fresh cookie secret unless overridden)."""
        options: dict[str, Any] = {
            "endpoint": self.provider.url,
            "app_id": self.client_id,
            "app_secret": self.secret,
            "cookie_secret": secrets.token_urlsafe(32),
            "base_url": base_url,
        }
        return LogtoConfig(**{**options, **overrides})

    def env(self, base_url: str | None = None) -> dict[str, str]:
        """The LOGTO_* variables an app configured with ``LogtoConfig.from_env`` reads."""
        env = {
            "LOGTO_ENDPOINT": self.provider.url,
            "LOGTO_APP_ID": self.client_id,
            "LOGTO_COOKIE_SECRET": secrets.token_urlsafe(32),
        }
        if self.secret is not None:
            env["LOGTO_APP_SECRET"] = self.secret
        if base_url is not None:
            env["LOGTO_BASE_URL"] = base_url
        return env


async def register_app(
    provider: OidcTestProvider,
    *origins: str,
    prefix: str = "app",
    public: bool = False,
    **metadata: Any,
) -> Registration:
    """Register a new client whose redirect URIs are ``{origin}/callback`` and whose post
    sign-out URIs are ``{origin}/`` (``APP_ORIGIN`` by default)."""
    origins = origins or (APP_ORIGIN,)
    client_id = f"{prefix}-{uuid.uuid4().hex[:12]}"
    secret = None if public else secrets.token_urlsafe(24)
    metadata.setdefault("post_logout_redirect_uris", [f"{origin}/" for origin in origins])
    await provider.register_client(
        client_id=client_id,
        client_secret=secret,
        redirect_uris=[f"{origin}/callback" for origin in origins],
        **metadata,
    )
    return Registration(provider, client_id, secret)


async def make_harness(
    provider: OidcTestProvider,
    *,
    app: ASGIApp | None = None,
    public: bool = False,
    register: dict[str, Any] | None = None,
    **overrides: Any,
) -> Harness:
    """A new client at the provider and the app wrapped in LogtoMiddleware."""
    registration = await register_app(provider, public=public, **(register or {}))
    options: dict[str, Any] = {
        "scopes": [
            "email",
            "urn:logto:scope:organizations",
            "urn:logto:scope:organization_roles",
            "custom_data",
            "identities",
            "shopping:read",
            "shopping:write",
            "store:read",
            "read:members",
            "invite:members",
        ],
        "resources": [SHOPPING, STORE],
    }
    config = registration.config(APP_ORIGIN, **{**options, **overrides})
    middleware = LogtoMiddleware(app or build_app(), config=config)
    return Harness(provider, config, middleware, new_browser(middleware))


def cookie_names(client: httpx.AsyncClient) -> set[str]:
    return {cookie.name for cookie in client.cookies.jar if cookie.domain.lstrip(".") == "app.test"}


def browser_cookies(client: httpx.AsyncClient) -> dict[str, str]:
    """The app's cookies in a client's jar, as the middleware would read them."""
    return {
        c.name: c.value
        for c in client.cookies.jar
        if c.value is not None and c.domain.lstrip(".") == "app.test"
    }
