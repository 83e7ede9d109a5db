"""Fixtures for the test provider's own selftests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from support.provider import OidcTestProvider, start_provider

from .helpers import APP, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcTestProvider]:
    with start_provider() as running:
        yield running


@pytest.fixture(scope="module")
async def client_id(provider: OidcTestProvider) -> str:
    await provider.register_client(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uris=[REDIRECT_URI],
        post_logout_redirect_uris=[f"{APP}/signed-out"],
    )
    return CLIENT_ID


async def _echo(request: Request) -> JSONResponse:
    return JSONResponse({"path": request.url.path, "query": dict(request.query_params)})


app_stub = Starlette(routes=[Route("/{path:path}", _echo)])


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client playing the browser; http://app.test is served in-process."""
    mounts = {f"{APP}": httpx.ASGITransport(app=app_stub)}
    async with httpx.AsyncClient(mounts=mounts, timeout=10.0) as client:
        yield client
