"""BearerAuthMiddleware takes access tokens only: an ID token of the same provider, even
one whose audience is the API's, is a 401 ``invalid_token``. ``typ: at+jwt`` is required
(RFC 9068 section 4); ``accept_jwt_typ=True`` also takes ``typ: JWT`` (Keycloak,
LemonLDAP::NG), but never a token that carries a claim of ID tokens."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from joserfc import jws
from starlette.applications import Starlette
from starlette.routing import Route

from logto_asgi import BearerAuthMiddleware, ConfigurationError, requires_auth
from support.app import APP_ORIGIN, browser_cookies
from support.guards_apps import Guarded, bearer, whoami
from support.provider import OidcTestProvider
from support.tokens import ISSUER, Signer, mock_provider

pytestmark = pytest.mark.anyio

INVALID = 'Bearer error="invalid_token"'
API = "https://api.example.com"
SIGNER = Signer("EC", kid="api-key")
NO_TYP = object()


def tiny_app() -> Starlette:
    return Starlette(routes=[Route("/", requires_auth()(whoami))])


async def get(app: BearerAuthMiddleware, token: str) -> httpx.Response:
    headers = {"accept": "application/json", "authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=APP_ORIGIN) as client:
        return await client.get("/", headers=headers)


def assert_invalid_token(response: httpx.Response, caplog: pytest.LogCaptureFixture) -> None:
    """401 invalid_token, and the log says the typ check failed."""
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == INVALID
    assert "bearer token rejected: failed the typ check" in caplog.text


# An ID token of the real provider ------------------------------------------------------


async def id_token_of(guarded: Guarded, username: str) -> str:
    """A real ID token of the test provider: ``username`` signs in, the session holds it."""
    browser = guarded.harness.browser()
    await guarded.harness.sign_in(username, client=browser)
    session = await guarded.harness.middleware.core.backend.load(browser_cookies(browser))
    assert session is not None
    return session.id_token


@pytest.mark.parametrize("accept_jwt_typ", [False, True])
async def test_an_id_token_is_not_an_access_token_even_for_its_own_audience(
    provider: OidcTestProvider, guarded: Guarded, caplog: pytest.LogCaptureFixture, accept_jwt_typ: bool
) -> None:
    """The provider's ID token of alice, sent to an API whose audience is the client id
    (iss, aud, exp and signature all fine): 401 invalid_token, with or without accept_jwt_typ."""
    id_token = await id_token_of(guarded, "alice")
    api = bearer(tiny_app(), provider, audience=guarded.harness.config.app_id, accept_jwt_typ=accept_jwt_typ)
    try:
        with caplog.at_level(logging.INFO, logger="logto_asgi"):
            assert_invalid_token(await get(api, id_token), caplog)
    finally:
        await api.aclose()


# typ: JWT access tokens (signed with a key of our own) ---------------------------------


def sign(typ: Any = "at+jwt", extra: dict[str, Any] | None = None) -> str:
    """An access token for API, with this typ header (or none) and extra claims."""
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": API, "sub": "user-1", "iat": now, "exp": now + 600, "scope": "read"}
    head: dict[str, Any] = {"alg": SIGNER.alg, "kid": SIGNER.kid}
    if typ is not NO_TYP:
        head["typ"] = typ
    payload = json.dumps({**claims, **(extra or {})}).encode()
    # jws, not jwt.encode: that one adds typ: JWT to a header without typ.
    return jws.serialize_compact(head, payload, SIGNER.key, algorithms=[SIGNER.alg])


@pytest.fixture(params=[False, True], ids=["strict", "accept_jwt_typ"])
async def api(request: pytest.FixtureRequest) -> AsyncIterator[BearerAuthMiddleware]:
    """The API middleware against a provider serving SIGNER's key, strict or not."""
    client = httpx.AsyncClient(transport=mock_provider([SIGNER.jwk()]))
    middleware = BearerAuthMiddleware(
        tiny_app(),
        endpoint=ISSUER.removesuffix("/oidc"),
        audience=API,
        http_client=client,
        accept_jwt_typ=request.param,
    )
    try:
        yield middleware
    finally:
        await client.aclose()


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "AT+JWT"])
async def test_at_jwt_passes_either_way(api: BearerAuthMiddleware, typ: str) -> None:
    """Control: a token typed at+jwt is accepted, strict or not."""
    response = await get(api, sign(typ))
    assert response.status_code == 200, response.text
    assert response.json()["sub"] == "user-1"


@pytest.mark.parametrize("typ", ["JWT", "jwt", "application/jwt"])
async def test_typ_jwt_passes_only_with_accept_jwt_typ(
    api: BearerAuthMiddleware, caplog: pytest.LogCaptureFixture, typ: str
) -> None:
    """typ: JWT is refused by default (RFC 9068) and accepted with accept_jwt_typ=True."""
    with caplog.at_level(logging.INFO, logger="logto_asgi"):
        response = await get(api, sign(typ))
    if api.authenticator.token_types == frozenset({"application/at+jwt"}):
        assert_invalid_token(response, caplog)
    else:
        assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("typ", "extra"),
    [
        pytest.param(NO_TYP, {}, id="no-typ"),
        pytest.param("logout+jwt", {}, id="typed-as-a-logout-token"),
        pytest.param("JWT", {"nonce": "n-123"}, id="nonce"),
        pytest.param("JWT", {"at_hash": "x1y2"}, id="at_hash"),
        pytest.param("JWT", {"c_hash": "x1y2"}, id="c_hash"),
        pytest.param("JWT", {"s_hash": "x1y2"}, id="s_hash"),
        pytest.param("JWT", {"typ": "ID"}, id="keycloak-typ-ID-claim"),
        pytest.param("at+jwt", {"nonce": "n-123"}, id="at+jwt-with-a-nonce"),
    ],
)
async def test_id_token_shapes_are_refused_either_way(
    api: BearerAuthMiddleware, caplog: pytest.LogCaptureFixture, typ: Any, extra: dict[str, Any]
) -> None:
    """No typ, another kind's typ, or a claim of ID tokens: 401 invalid_token, even with
    accept_jwt_typ=True."""
    with caplog.at_level(logging.INFO, logger="logto_asgi"):
        assert_invalid_token(await get(api, sign(typ, extra)), caplog)


async def test_keycloaks_bearer_typ_claim_passes_with_accept_jwt_typ() -> None:
    """A Keycloak-shaped access token (typ: JWT header, typ "Bearer" claim) is accepted
    with accept_jwt_typ=True."""
    client = httpx.AsyncClient(transport=mock_provider([SIGNER.jwk()]))
    app = BearerAuthMiddleware(
        tiny_app(),
        endpoint=ISSUER.removesuffix("/oidc"),
        audience=API,
        http_client=client,
        accept_jwt_typ=True,
    )
    try:
        response = await get(app, sign("JWT", {"typ": "Bearer", "azp": "web-app"}))
        assert response.status_code == 200, response.text
    finally:
        await client.aclose()


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_accept_jwt_typ_must_be_a_boolean(value: Any) -> None:
    """accept_jwt_typ is True or False, checked at construction with the option's name."""
    with pytest.raises(ConfigurationError) as info:
        BearerAuthMiddleware(tiny_app(), endpoint="https://logto.test", audience=API, accept_jwt_typ=value)
    assert info.value.field == "accept_jwt_typ"
