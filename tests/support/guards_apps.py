"""Apps for the guard tests: one Starlette app whose routes are guarded every way, behind
both middlewares, and a loader for the example apps signed in against the real provider."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import httpx
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.types import ASGIApp
from starlette.websockets import WebSocket

from logto_asgi import BearerAuthMiddleware, LogtoContext, RequireAuth, get_context, requires_auth
from support.app import APP_ORIGIN, SHOPPING, USERS, Harness, make_harness, new_browser, register_app
from support.asgi import lifespan
from support.provider import OidcTestProvider, provider_login, provider_logout

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"
JSON = {"accept": "application/json"}
NAVIGATION = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def context_kind(ctx: object) -> str:
    """The public class a request's context is an instance of (a session's context is a
    private subclass of ``LogtoContext``, which also writes the session back)."""
    return "LogtoContext" if isinstance(ctx, LogtoContext) else type(ctx).__name__


async def whoami(request: Request) -> Response:
    """Who the guard let in, and through which context."""
    return JSONResponse({"sub": request.state.user.sub, "via": context_kind(request.state.logto)})


async def token(request: Request) -> Response:
    """The session's access token for ?resource= and/or ?org= (to call the API with)."""
    ctx = get_context(request)
    value = await ctx.get_access_token(
        request.query_params.get("resource") or None, request.query_params.get("org") or None
    )
    return JSONResponse({"access_token": value})


async def profile(request: Request) -> Response:
    info = request.state.logto.user_info
    return JSONResponse({"user_info": info.to_dict() if info is not None else None})


@requires("email")
async def starlette_email(request: Request) -> Response:
    return PlainTextResponse(f"email scope for {request.user.display_name}")


@requires("authenticated")
async def starlette_authenticated(request: Request) -> Response:
    return PlainTextResponse(f"authenticated: {request.user.identity}")


@requires("shopping:read")
async def starlette_shopping(request: Request) -> Response:
    return PlainTextResponse(f"shopping:read for {request.user.identity}")


async def ws_echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(websocket.state.user.sub)
    await websocket.close()


def sub_app(name: str) -> Starlette:
    """A small app to mount behind RequireAuth."""

    async def index(request: Request) -> Response:
        return JSONResponse(
            {"app": name, "sub": request.state.user.sub, "org": request.path_params.get("org_id")}
        )

    return Starlette(routes=[Route("/", index), WebSocketRoute("/ws", ws_echo)])


def build_guarded_app() -> Starlette:
    """Every route guarded one way; the same guards serve sessions and bearer tokens."""
    return Starlette(
        routes=[
            Route("/token", token),
            Route("/signed-in", requires_auth()(whoami)),
            Route("/orders", requires_auth(scopes=["shopping:read"], resource=SHOPPING)(whoami)),
            Route("/orders/write", requires_auth(scopes=["shopping:write"], resource=SHOPPING)(whoami)),
            Route("/email", requires_auth(scopes=["email"])(whoami)),
            Route("/page", requires_auth(redirect=True)(whoami)),
            Route(
                "/orders/page",
                requires_auth(scopes=["shopping:read"], resource=SHOPPING, redirect=True)(whoami),
            ),
            Route(
                "/orgs/{org_id}/members",
                requires_auth(scopes=["read:members"], organization_id="{org_id}")(whoami),
            ),
            Route(
                "/orgs/{org_id}/invite",
                requires_auth(scopes=["invite:members"], organization_id="{org_id}")(whoami),
            ),
            Route("/profile", requires_auth(fetch_user_info=True)(profile)),
            Route("/starlette/email", starlette_email),
            Route("/starlette/authenticated", starlette_authenticated),
            Route("/starlette/shopping", starlette_shopping),
            WebSocketRoute("/ws", requires_auth()(ws_echo)),
            Mount("/admin", app=RequireAuth(sub_app("admin"), scopes=["email"])),
            Mount(
                "/shop-admin", app=RequireAuth(sub_app("shop"), scopes=["shopping:write"], resource=SHOPPING)
            ),
            Mount(
                "/org-admin/{org_id}",
                app=RequireAuth(sub_app("org"), scopes=["invite:members"], organization_id="{org_id}"),
            ),
        ]
    )


def bearer(app: ASGIApp, provider: OidcTestProvider, **options: Any) -> BearerAuthMiddleware:
    """The API middleware for the shopping resource of the test provider."""
    options.setdefault("audience", SHOPPING)
    options.setdefault("organization_tokens", True)
    return BearerAuthMiddleware(app, endpoint=provider.url, **options)


@dataclass
class Guarded:
    """The guarded app behind LogtoMiddleware(BearerAuthMiddleware(app)) and a browser."""

    harness: Harness
    bearer: BearerAuthMiddleware

    @property
    def client(self) -> httpx.AsyncClient:
        return self.harness.client

    async def token_of(self, username: str, *, resource: str | None = None, org: str | None = None) -> str:
        """Sign ``username`` in with a browser of its own and read a token through /token."""
        browser = self.harness.browser()
        await self.harness.sign_in(username, client=browser)
        params = {k: v for k, v in (("resource", resource), ("org", org)) if v}
        response = await browser.get(f"{APP_ORIGIN}/token", params=params)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def api_client(self, token: str | None = None) -> httpx.AsyncClient:
        """A cookie-less client, as an API caller is, with the token if given."""
        client = self.harness.browser()
        client.headers.update(JSON)
        if token is not None:
            client.headers["authorization"] = f"Bearer {token}"
        return client

    async def aclose(self) -> None:
        await self.harness.aclose()
        await self.bearer.aclose()


async def make_guarded(provider: OidcTestProvider, **overrides: Any) -> Guarded:
    middleware = bearer(build_guarded_app(), provider)
    return Guarded(await make_harness(provider, app=middleware, **overrides), middleware)


# Example apps ---------------------------------------------------------------------------


@dataclass
class Example:
    """An example module loaded with the LOGTO_* variables of a fresh client, and a browser."""

    module: ModuleType
    client: httpx.AsyncClient

    @property
    def app(self) -> ASGIApp:
        return self.module.app  # type: ignore[no-any-return]

    async def sign_in(self, username: str, *, path: str = "/sign-in") -> httpx.Response:
        start = await self.client.get(f"{APP_ORIGIN}{path}")
        assert start.status_code in (302, 303), start.text
        location = start.headers["location"]
        if location.startswith("/"):  # a guard's redirect to the sign-in route first
            start = await self.client.get(f"{APP_ORIGIN}{location}")
            location = start.headers["location"]
        return await provider_login(self.client, location, username=username, password=USERS[username])

    async def sign_out(self) -> httpx.Response:
        return await provider_logout(self.client, f"{APP_ORIGIN}/sign-out")

    async def aclose(self) -> None:
        await self.client.aclose()
        await lifespan(self.app)  # shutdown closes the middlewares' HTTP clients


async def load_example(provider: OidcTestProvider, name: str) -> Example:
    """Import ``examples/{name}_app.py`` as a new module, configured for the test provider."""
    registration = await register_app(provider, prefix="example")
    client_id = registration.client_id
    env = registration.env(APP_ORIGIN)
    spec = importlib.util.spec_from_file_location(f"{name}_app_{client_id}", EXAMPLES / f"{name}_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with mock.patch.dict(os.environ, env):
        spec.loader.exec_module(module)
    return Example(module, new_browser(module.app))
