"""An app guarded by roles, organization roles, claims checks and ``max_age``, behind
both middlewares of a ``TestIssuer`` (no provider), and clients signed in with the claims
a test chooses: a session cookie (``signed_in_cookies``) or a bearer token."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from logto_asgi import (
    AccessDenied,
    BearerAuthMiddleware,
    LogtoConfig,
    LogtoMiddleware,
    RequireAuth,
    requires_auth,
)
from logto_asgi.testing import TestIssuer, signed_in_cookies
from support.guards_apps import context_kind

API = "https://api.example.com"
ORIGIN = "http://test"
JSON = {"accept": "application/json"}
NAVIGATION = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
MAX_AGE = 300


class Clock:
    """A clock the test moves by hand (``LogtoMiddleware(clock=...)``)."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now


async def whoami(request: Request) -> Response:
    """Who the guard let in, and through which context."""
    return JSONResponse({"sub": request.state.user.sub, "via": context_kind(request.state.logto)})


async def ws_echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(websocket.state.user.sub)
    await websocket.close()


@dataclass
class Checks:
    """The claims checks of the app, recording what they were called with."""

    seen: list[type] = field(default_factory=list)

    def is_pro(self, claims: Mapping[str, Any]) -> bool:
        self.seen.append(type(claims))
        return bool(claims.get("plan") == "pro")

    async def is_pro_async(self, claims: Mapping[str, Any]) -> bool:
        self.seen.append(type(claims))
        return bool(claims.get("plan") == "pro")

    def broken(self, claims: Mapping[str, Any]) -> bool:
        raise RuntimeError("bug in the claims check")

    def weekdays_only(self, claims: Mapping[str, Any]) -> bool:
        raise AccessDenied("the shop is closed on Sundays")

    def not_a_bool(self, claims: Mapping[str, Any]) -> Any:
        return claims.get("plan")  # "pro" is truthy, and still not an answer


def guarded_routes(checks: Checks) -> list[BaseRoute]:
    """Every route guarded one way."""
    org = "{org_id}"
    admin_app = Starlette(routes=[Route("/", whoami), WebSocketRoute("/ws", ws_echo)])
    return [
        Route("/roles/admin", requires_auth(roles=["admin"])(whoami)),
        Route("/roles/admin-page", requires_auth(roles="admin", redirect=True)(whoami)),
        Route("/roles/admin-ops", requires_auth(roles=["admin", "ops"])(whoami)),
        Route("/roles/any", requires_auth(any_role=["admin", "ops"])(whoami)),
        Route("/roles/admin-any", requires_auth(roles=["admin"], any_role=["ops", "sre"])(whoami)),
        Route("/roles/admin-email", requires_auth(scopes=["email"], roles=["admin"])(whoami)),
        Route(
            "/orgs/{org_id}/admin", requires_auth(organization_roles=["admin"], organization_id=org)(whoami)
        ),
        Route(
            "/orgs/{org_id}/admin-owner",
            requires_auth(organization_roles=["admin", "owner"], organization_id=org)(whoami),
        ),
        Route(
            "/orgs/{org_id}/invite",
            requires_auth(scopes=["invite:members"], organization_roles=["admin"], organization_id=org)(
                whoami
            ),
        ),
        Route("/orgs/{org_id}/members", requires_auth(organization_id=org)(whoami)),
        Route("/no-org/admin", requires_auth(organization_roles=["admin"], organization_id=org)(whoami)),
        Route("/acme/admin", requires_auth(organization_roles=["admin"], organization_id="org-acme")(whoami)),
        Route("/check/sync", requires_auth(claims=checks.is_pro)(whoami)),
        Route("/check/async", requires_auth(claims=checks.is_pro_async)(whoami)),
        Route("/check/broken", requires_auth(claims=checks.broken)(whoami)),
        Route("/check/denies", requires_auth(claims=checks.weekdays_only)(whoami)),
        Route("/check/not-a-bool", requires_auth(claims=checks.not_a_bool)(whoami)),
        Route("/check/admin-pro", requires_auth(roles=["admin"], claims=checks.is_pro)(whoami)),
        Route("/recent", requires_auth(max_age=MAX_AGE)(whoami)),
        Route("/recent/page", requires_auth(max_age=MAX_AGE, redirect=True)(whoami)),
        Route("/recent/admin", requires_auth(roles=["admin"], max_age=MAX_AGE)(whoami)),
        WebSocketRoute("/ws/admin", requires_auth(roles=["admin"])(ws_echo)),
        WebSocketRoute("/ws/recent", requires_auth(max_age=MAX_AGE)(ws_echo)),
        Mount("/admin", app=RequireAuth(admin_app, roles=["admin"])),
        Mount(
            "/org-admin/{org_id}", app=RequireAuth(admin_app, organization_roles="admin", organization_id=org)
        ),
        Mount("/step-up", app=RequireAuth(admin_app, max_age=MAX_AGE, redirect=True)),
    ]


@dataclass
class RoleKit:
    """The guarded app behind ``LogtoMiddleware(BearerAuthMiddleware(app))`` of one issuer."""

    issuer: TestIssuer
    config: LogtoConfig
    clock: Clock
    checks: Checks
    app: LogtoMiddleware

    def cookies(self, claims: Mapping[str, Any], **options: Any) -> dict[str, str]:
        """The session cookies of a user with these ID token claims."""
        return signed_in_cookies(self.config, claims={"sub": "user-1", **claims}, **options)

    @asynccontextmanager
    async def client(self, **headers: str) -> AsyncIterator[httpx.AsyncClient]:
        """A client of the app (app exceptions surface as 500s, as a server answers them)."""
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN, headers=headers) as client:
            yield client

    @asynccontextmanager
    async def session(self, claims: Mapping[str, Any], **options: Any) -> AsyncIterator[httpx.AsyncClient]:
        """A client signed in with a session whose ID token has ``claims``."""
        async with self.client(**JSON) as client:
            client.cookies.update(self.cookies(claims, **options))
            yield client

    @asynccontextmanager
    async def bearer(self, claims: Mapping[str, Any], **options: Any) -> AsyncIterator[httpx.AsyncClient]:
        """A client calling with an access token for the API carrying ``claims``."""
        token = self.issuer.access_token(API, sub="user-1", **options, **claims)
        async with self.client(**JSON, authorization=f"Bearer {token}") as client:
            yield client

    @asynccontextmanager
    async def caller(self, how: str, claims: Mapping[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
        """``session`` or ``bearer``, with the same claims."""
        opened = self.session(claims) if how == "session" else self.bearer(claims)
        async with opened as client:
            yield client


def make_kit(**config: Any) -> RoleKit:
    """A fresh issuer, configuration, clock and app."""
    issuer = TestIssuer()
    conf = issuer.config(resources=[API], **config)
    clock = Clock()
    checks = Checks()
    api = BearerAuthMiddleware(
        Starlette(routes=guarded_routes(checks)),
        endpoint=issuer.endpoint,
        audience=API,
        organization_tokens=True,
        http_client=issuer.http_client(),
        clock=clock,
    )
    return RoleKit(issuer, conf, clock, checks, LogtoMiddleware(api, config=conf, clock=clock))
