"""logto_asgi.testing: the docstring's example test runs as written, and the helpers give
sessions and tokens the real middlewares accept — no provider involved."""

from __future__ import annotations

import inspect
import textwrap
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import logto_asgi.testing
from logto_asgi import LogtoMiddleware, UserInfoScope, get_context, requires_auth
from logto_asgi.testing import TestIssuer, signed_in_cookies

pytestmark = pytest.mark.anyio

API = "https://api.example.com"


async def orders(request: Request) -> Response:
    return JSONResponse({"sub": request.state.user.sub})


async def profile(request: Request) -> Response:
    info = get_context(request).user_info
    return JSONResponse(info.to_dict() if info is not None else None)


async def members(request: Request) -> Response:
    return JSONResponse({"org": request.path_params["org_id"]})


def build_app() -> Starlette:
    """The app the docstring example tests: /orders needs shopping:read on the API."""
    return Starlette(
        routes=[
            Route("/orders", requires_auth(scopes=["shopping:read"], resource=API)(orders)),
            Route("/me", requires_auth()(orders)),
            Route("/profile", requires_auth(fetch_user_info=True)(profile)),
            Route(
                "/orgs/{org_id}/members",
                requires_auth(scopes=["read:members"], organization_id="{org_id}")(members),
            ),
        ]
    )


def docstring_example() -> str:
    """The example test in the module docstring, as code."""
    doc = inspect.getdoc(logto_asgi.testing) or ""
    block = doc.split("::\n", 1)[1]
    return textwrap.dedent(block)


async def test_the_docstring_example_runs_as_written() -> None:
    """The example of logto_asgi.testing's docstring, executed verbatim, passes."""
    namespace: dict[str, Any] = {"build_app": build_app}
    exec(compile(docstring_example(), "logto_asgi.testing docstring", "exec"), namespace)
    assert "test_orders_need_shopping_read" in namespace
    await namespace["test_orders_need_shopping_read"]()


async def test_user_info_and_organization_tokens_from_the_kit() -> None:
    """An opaque token feeds fetch_user_info; organization_tokens open organization routes."""
    issuer = TestIssuer()
    config = issuer.config(scopes=[UserInfoScope.organizations])
    cookies = signed_in_cookies(
        config,
        claims={"sub": "user-1"},
        access_tokens={"": issuer.opaque_token({"sub": "user-1", "custom_data": {"plan": "pro"}})},
        organization_tokens={
            "org-1": issuer.organization_token("org-1", scopes=["read:members"], sub="user-1")
        },
    )
    app = LogtoMiddleware(build_app(), config=config)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test", cookies=cookies
    ) as client:
        assert (await client.get("/profile")).json()["custom_data"] == {"plan": "pro"}
        assert (await client.get("/orgs/org-1/members")).json() == {"org": "org-1"}
        # No token for org-2 in the session and no provider to refresh from: the session ends.
        ended = await client.get("/orgs/org-2/members", headers={"accept": "application/json"})
        assert (ended.status_code, ended.json()["error"]) == (401, "session_expired")


async def test_large_sessions_are_chunked_like_the_middleware_does() -> None:
    """A session too big for one cookie comes back as name.0, name.1, … and still signs in."""
    issuer = TestIssuer()
    config = issuer.config()
    cookies = signed_in_cookies(config, claims={"sub": "user-1", "bio": "x" * 6000})
    assert sorted(cookies) == [f"logto.{i}" for i in range(len(cookies))] and len(cookies) > 1
    assert all(len(value) <= 3800 for value in cookies.values())
    app = LogtoMiddleware(build_app(), config=config)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test", cookies=cookies
    ) as client:
        assert (await client.get("/me")).json() == {"sub": "user-1"}
