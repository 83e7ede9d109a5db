"""The middleware against an independent OpenID Provider: django-oauth-toolkit 3 on Django 5.

Configured as a generic provider — ``discovery_url`` only, no ``endpoint`` — with the
issuer DOT publishes when ``OIDC_ISS_ENDPOINT`` ends in ``/`` (``http://host/o/``, the
trailing-slash case). DOT issues opaque access tokens, ``typ: JWT`` ID tokens without
``sid``, refresh tokens without ``offline_access`` (which it does not list), and rotates
refresh tokens unless told not to.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from logto_asgi import (
    BearerAuthMiddleware,
    LogtoConfig,
    LogtoMiddleware,
    TokenIntrospection,
    get_context,
    requires_auth,
)
from logto_asgi.check import run_checks
from support.app import SAME_ORIGIN
from support.dot import DotClient, DotProvider, dot_login, dot_logout, start_dot_provider

pytestmark = pytest.mark.anyio

APP = "http://app.test"
API = "https://api.example"
ACCESS_TTL = 300


async def me(request: Request) -> Response:
    user = request.state.user
    return JSONResponse({"user": user.to_dict() if user else None})


async def token(request: Request) -> Response:
    value = await get_context(request).get_access_token()
    return JSONResponse({"token": value})


async def userinfo(request: Request) -> Response:
    return JSONResponse((await get_context(request).fetch_user_info()).to_dict())


ROUTES = [Route("/me", me), Route("/token", token), Route("/userinfo", userinfo)]


@pytest.fixture(scope="module")
def dot() -> Iterator[DotProvider]:
    with start_dot_provider(issuer_trailing_slash=True, access_token_seconds=ACCESS_TTL) as running:
        yield running


@dataclass
class Site:
    dot: DotProvider
    client: DotClient
    config: LogtoConfig
    middleware: LogtoMiddleware
    browser: httpx.AsyncClient
    offset: list[float] = field(default_factory=lambda: [0.0])

    def advance(self, seconds: float) -> None:
        self.offset[0] += seconds

    async def sign_in(self, browser: httpx.AsyncClient | None = None) -> httpx.Response:
        browser = browser or self.browser
        start = await browser.get(f"{APP}/sign-in")
        assert start.status_code == 302, start.text
        callback = await dot_login(browser, start.headers["location"])
        return await browser.get(callback)

    def new_browser(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            mounts={APP: httpx.ASGITransport(app=self.middleware)}, headers=SAME_ORIGIN, timeout=15
        )


@pytest.fixture
async def site(dot: DotProvider) -> AsyncIterator[Site]:
    await dot.revoke_all("alice")
    await dot.set_rotation(True)
    client = await dot.register_client(
        redirect_uris=[f"{APP}/callback"], post_logout_redirect_uris=[f"{APP}/"]
    )
    config = LogtoConfig(
        discovery_url=dot.discovery_url,
        app_id=client["client_id"],
        app_secret=client["client_secret"],
        cookie_secret=secrets.token_urlsafe(32),
        base_url=APP,
        scopes=["email"],
    )
    middleware = LogtoMiddleware(Starlette(routes=ROUTES), config=config)
    offset = [0.0]
    middleware.core.clock = lambda: time.time() + offset[0]
    browser = httpx.AsyncClient(
        mounts={APP: httpx.ASGITransport(app=middleware)}, headers=SAME_ORIGIN, timeout=15
    )
    s = Site(dot, client, config, middleware, browser, offset)
    try:
        yield s
    finally:
        await browser.aclose()
        await middleware.core.aclose()
        await dot.set_rotation(True)


async def test_sign_in_as_a_generic_provider(site: Site) -> None:
    """Standard behaviour: no prompt, no offline_access (DOT does not list it and would refuse it)."""
    start = await site.browser.get(f"{APP}/sign-in")
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["scope"] == ["openid profile email"]
    assert "prompt" not in query and query["code_challenge_method"] == ["S256"]
    callback = await dot_login(site.browser, start.headers["location"])
    done = await site.browser.get(callback)
    assert done.status_code == 302 and done.headers["location"] == "/"
    user = (await site.browser.get(f"{APP}/me")).json()["user"]
    assert user["iss"] == site.dot.issuer and site.dot.issuer.endswith("/o/")
    assert user["email"] == "alice@example.com"
    assert (await site.dot.counts()).get("token:authorization_code") == 1


async def test_userinfo(site: Site) -> None:
    await site.sign_in()
    info = await site.browser.get(f"{APP}/userinfo")
    assert info.status_code == 200, info.text
    assert info.json()["name"] == "Alice Liddell" and info.json()["email"] == "alice@example.com"


@pytest.mark.parametrize("rotate", [True, False])
async def test_refresh_with_and_without_rotation(site: Site, rotate: bool) -> None:
    """An expired access token is refreshed once; without rotation the session keeps its
    refresh token and refreshes again later (the non-rotating provider bug)."""
    await site.dot.set_rotation(rotate)
    await site.sign_in()
    first = (await site.browser.get(f"{APP}/token")).json()["token"]
    for round_ in range(1, 4):
        site.advance(ACCESS_TTL + 1)
        await site.dot.reset_counts()
        response = await site.browser.get(f"{APP}/token")
        assert response.status_code == 200, response.text
        assert response.json()["token"] != first
        first = response.json()["token"]
        assert (await site.dot.counts()).get("token:refresh_token") == 1, round_
    # still the same user, and the session is alive
    assert (await site.browser.get(f"{APP}/me")).json()["user"]["sub"]


async def test_a_refresh_storm_sends_one_grant(site: Site) -> None:
    await site.sign_in()
    site.advance(ACCESS_TTL + 1)
    await site.dot.reset_counts()
    responses = await asyncio.gather(*(site.browser.get(f"{APP}/token") for _ in range(30)))
    assert [r.status_code for r in responses] == [200] * 30
    assert len({r.json()["token"] for r in responses}) == 1
    assert (await site.dot.counts()).get("token:refresh_token") == 1


async def test_rp_initiated_logout_ends_the_provider_session(site: Site) -> None:
    await site.sign_in()
    assert await site.dot.active_sessions("alice") == 1
    out = await site.browser.get(f"{APP}/sign-out")
    assert out.status_code == 302
    assert out.headers["location"].startswith(site.dot.end_session_endpoint)
    back = await dot_logout(site.browser, out.headers["location"])
    assert back.startswith(f"{APP}/")
    assert await site.dot.active_sessions("alice") == 0
    assert (await site.browser.get(f"{APP}/me")).json()["user"] is None


async def test_check_reports_the_providers_capabilities(site: Site) -> None:
    report = await run_checks(site.config)
    text = report.render()
    assert report.ok, text
    assert f"discovery answered (an OpenID provider); issuer {site.dot.issuer}" in text
    assert "usable signing key(s): RS256" in text
    assert "ID token algorithms we accept: RS256 (never: HS256)" in text
    assert "PKCE methods: S256" in text
    assert "offline_access is not listed in scopes_supported" in text
    assert "RP-initiated logout: sign-out also ends the provider's session" in text
    assert "no revocation_endpoint" in text
    assert "back-channel no, front-channel no" in text
    assert "register this redirect URI at the provider: http://app.test/callback" in text
    assert "Logto" not in text


async def api_app(request: Request) -> Response:
    claims = request.state.user.to_dict()
    return PlainTextResponse(f"hello {claims['username']} ({claims['client_id']})")


@pytest.fixture
async def api(site: Site) -> AsyncIterator[tuple[BearerAuthMiddleware, httpx.AsyncClient, dict[str, Any]]]:
    resource_server = await site.dot.register_resource_server()
    app = Starlette(routes=[Route("/hello", requires_auth()(api_app))])
    middleware = BearerAuthMiddleware(
        app,
        discovery_url=site.dot.discovery_url,
        audience=API,
        introspection=TokenIntrospection(
            client_id=resource_server["client_id"],
            client_secret=str(resource_server["client_secret"]),
            endpoint=site.dot.introspection_endpoint,
            client_ids=(site.client["client_id"],),
            cache_seconds=0,
        ),
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://api.test")
    try:
        yield middleware, client, dict(resource_server)
    finally:
        await client.aclose()
        await middleware.aclose()


async def test_bearer_middleware_with_introspection(
    site: Site, api: tuple[BearerAuthMiddleware, httpx.AsyncClient, dict[str, Any]]
) -> None:
    """DOT's opaque access tokens are accepted through RFC 7662, and refused once revoked."""
    _, client, _ = api
    await site.sign_in()
    access = (await site.browser.get(f"{APP}/token")).json()["token"]
    assert access.count(".") == 0  # opaque
    await site.dot.reset_counts()
    ok = await client.get("/hello", headers={"Authorization": f"Bearer {access}"})
    assert ok.status_code == 200, ok.text
    assert ok.text == f"hello alice ({site.client['client_id']})"
    assert (await site.dot.counts()).get("introspect") == 1
    bad = await client.get("/hello", headers={"Authorization": "Bearer notatokenDOTknows"})
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]
    await site.dot.revoke_all("alice")
    revoked = await client.get("/hello", headers={"Authorization": f"Bearer {access}"})
    assert revoked.status_code == 401


async def test_a_token_of_another_client_is_refused(
    site: Site, api: tuple[BearerAuthMiddleware, httpx.AsyncClient, dict[str, Any]]
) -> None:
    """DOT's answers name no audience: only the listed clients' tokens are taken."""
    _, client, _ = api
    other = await site.dot.register_client(redirect_uris=[f"{APP}/callback"])
    config = site.config.replace(app_id=other["client_id"], app_secret=other["client_secret"])
    middleware = LogtoMiddleware(Starlette(routes=ROUTES), config=config)
    browser = httpx.AsyncClient(
        mounts={APP: httpx.ASGITransport(app=middleware)}, headers=SAME_ORIGIN, timeout=15
    )
    try:
        start = await browser.get(f"{APP}/sign-in")
        await browser.get(await dot_login(browser, start.headers["location"]))
        access = (await browser.get(f"{APP}/token")).json()["token"]
        refused = await client.get("/hello", headers={"Authorization": f"Bearer {access}"})
        assert refused.status_code == 401
    finally:
        await browser.aclose()
        await middleware.core.aclose()


def test_check_command_needs_no_logto_endpoint(dot: DotProvider) -> None:
    """``python -m logto_asgi check`` with LOGTO_DISCOVERY_URL only: exit 0, capabilities listed."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOGTO_")} | {
        "LOGTO_DISCOVERY_URL": dot.discovery_url,
        "LOGTO_APP_ID": "any-app",
        "LOGTO_COOKIE_SECRET": secrets.token_urlsafe(32),
        "LOGTO_BASE_URL": "http://localhost:3000",
    }
    result = subprocess.run(
        [sys.executable, "-m", "logto_asgi", "check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"issuer {dot.issuer}" in result.stdout
    assert "register this redirect URI at the provider: http://localhost:3000/callback" in result.stdout
    assert "provider-initiated logout: back-channel no, front-channel no" in result.stdout
