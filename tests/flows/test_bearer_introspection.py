"""``BearerAuthMiddleware(introspection=...)`` against the real provider's RFC 7662
endpoint: its opaque access tokens (the userinfo token of a session), and JWT access
tokens introspected instead of verified (``jwts=True``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from logto_asgi import BearerAuthMiddleware, TokenIntrospection, get_context, requires_auth
from support.app import APP_ORIGIN, SHOPPING, Harness, make_harness
from support.provider import OidcTestProvider

pytestmark = pytest.mark.anyio


async def raw_token(request: Request) -> Response:
    resource = request.query_params.get("resource")
    return JSONResponse({"token": await get_context(request).get_access_token(resource)})


async def hello(request: Request) -> Response:
    return JSONResponse(request.state.user.to_dict())


@pytest.fixture
async def harness(provider: OidcTestProvider) -> AsyncIterator[Harness]:
    h = await make_harness(provider, app=Starlette(routes=[Route("/raw-token", raw_token)]))
    try:
        yield h
    finally:
        await h.aclose()


@asynccontextmanager
async def api(harness: Harness, **options: object) -> AsyncIterator[httpx.AsyncClient]:
    config = harness.config
    assert config.app_secret is not None
    middleware = BearerAuthMiddleware(
        Starlette(routes=[Route("/hello", requires_auth()(hello))]),
        endpoint=harness.provider.url,
        audience=SHOPPING,
        introspection=TokenIntrospection(
            client_id=config.app_id,
            client_secret=config.app_secret,
            client_ids=(config.app_id,),
            cache_seconds=0,
            **options,  # type: ignore[arg-type]
        ),
    )
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=middleware), base_url="http://api.test"
        ) as client:
            yield client
    finally:
        await middleware.aclose()


async def test_an_opaque_token_is_introspected(harness: Harness, provider: OidcTestProvider) -> None:
    await harness.sign_in("alice")
    token = (await harness.client.get(f"{APP_ORIGIN}/raw-token")).json()["token"]
    assert token.count(".") == 0
    async with api(harness) as client:
        await provider.reset_counts()
        ok = await client.get("/hello", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200, ok.text
        assert ok.json()["client_id"] == harness.config.app_id and ok.json()["sub"]
        assert (await provider.counts()).get("introspection") == 1
        await provider.revoke_grants(ok.json()["sub"])
        revoked = await client.get("/hello", headers={"Authorization": f"Bearer {token}"})
        assert revoked.status_code == 401


async def test_jwts_are_sent_to_introspection_when_asked(
    harness: Harness, provider: OidcTestProvider
) -> None:
    """With jwts=True a JWT access token is asked about instead of verified here. This
    provider (oidc-provider) refuses to introspect its structured tokens: a clear 502 that
    carries its reason, and nothing is accepted."""
    await harness.sign_in("alice")
    token = (await harness.client.get(f"{APP_ORIGIN}/raw-token", params={"resource": SHOPPING})).json()[
        "token"
    ]
    assert token.count(".") == 2
    async with api(harness, jwts=True) as client:
        await provider.reset_counts()
        refused = await client.get("/hello", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 502
        assert "the provider refused the introspection request: unsupported_token_type" in refused.text
        assert (await provider.counts()).get("introspection") == 1
    async with api(harness) as client:  # by default the same JWT is verified locally
        await provider.reset_counts()
        assert (await client.get("/hello", headers={"Authorization": f"Bearer {token}"})).status_code == 200
        assert not (await provider.counts()).get("introspection")
