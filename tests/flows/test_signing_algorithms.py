"""Every asymmetric algorithm, end to end against the real provider: ID tokens and signed
userinfo responses (OIDC Core 5.3.2) signed with RS/PS/ES 256/384/512 and EdDSA.

A provider of its own (this module adds a key per algorithm to its JWKS); each client is
registered with ``id_token_signed_response_alg`` and ``userinfo_signed_response_alg``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from logto_asgi import get_context
from logto_asgi._crypto import b64url_decode
from support.app import Harness, make_harness
from support.provider import OidcTestProvider, start_provider

pytestmark = pytest.mark.anyio

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]


async def id_token_header(request: Request) -> Response:
    logto = get_context(request)
    header = json.loads(b64url_decode(str(logto.id_token).split(".")[0]))
    return JSONResponse(header)


async def userinfo(request: Request) -> Response:
    info = await get_context(request).fetch_user_info()
    return JSONResponse(info.to_dict())


async def raw_userinfo(request: Request) -> Response:
    """What the provider's userinfo endpoint answers this session's token (its media type)."""
    logto = get_context(request)
    token = await logto.get_access_token()
    endpoint = str(request.query_params["endpoint"])
    async with httpx.AsyncClient() as http:
        reply = await http.get(endpoint, headers={"Authorization": f"Bearer {token}"})
    return JSONResponse({"content_type": reply.headers["content-type"], "dots": reply.text.count(".")})


APP = Starlette(
    routes=[
        Route("/id-token-header", id_token_header),
        Route("/userinfo", userinfo),
        Route("/raw-userinfo", raw_userinfo),
    ]
)


@pytest.fixture(scope="module")
def alg_provider() -> Iterator[OidcTestProvider]:
    with start_provider() as running:
        yield running


_keys_added: set[str] = set()


@pytest.fixture
async def harness(alg_provider: OidcTestProvider, alg: str) -> AsyncIterator[Harness]:
    if alg_provider.url not in _keys_added:
        for each in ALGORITHMS:
            await alg_provider.rotate_keys(alg=each)
        _keys_added.add(alg_provider.url)
    h = await make_harness(
        alg_provider,
        app=APP,
        register={"id_token_signed_response_alg": alg, "userinfo_signed_response_alg": alg},
        scopes=["email"],
        resources=[],
    )
    try:
        yield h
    finally:
        await h.aclose()


@pytest.mark.parametrize("alg", ALGORITHMS)
async def test_sign_in_and_signed_userinfo_with_each_algorithm(
    harness: Harness, alg_provider: OidcTestProvider, alg: str
) -> None:
    """The callback accepts the ID token, and fetch_user_info() verifies the signed answer."""
    response = await harness.sign_in("alice")
    assert response.status_code == 302, response.text
    assert response.headers["location"] == "/"
    header = (await harness.client.get("http://app.test/id-token-header")).json()
    assert header["alg"] == alg
    raw = await harness.client.get(
        "http://app.test/raw-userinfo", params={"endpoint": alg_provider.userinfo_endpoint}
    )
    assert raw.json()["content_type"].startswith("application/jwt") and raw.json()["dots"] == 2
    info = await harness.client.get("http://app.test/userinfo")
    assert info.status_code == 200, info.text
    assert info.json()["email"] == "alice@example.com"
