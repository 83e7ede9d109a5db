"""BearerAuthMiddleware: every bad token is a plain 401 invalid_token (never a 500, never a
hint), tokens of the real provider pass, and it shares an app with LogtoMiddleware."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp

from logto_asgi import (
    AccessDenied,
    AccessTokenClaims,
    BearerAuthMiddleware,
    ConfigurationError,
    LogtoContext,
    requires_auth,
)
from logto_asgi.bearer import BearerContext
from logto_asgi.guards import AuthContext
from logto_asgi.testing import TestIssuer
from support.app import APP_ORIGIN, SHOPPING, make_harness, new_browser
from support.asgi import websocket_session
from support.guards_apps import JSON, Guarded, bearer, build_guarded_app, context_kind, whoami, ws_echo
from support.provider import OidcTestProvider
from support.tokens import flip_signature_bit, hs256_with_public_key, unsigned

pytestmark = pytest.mark.anyio

INVALID = 'Bearer error="invalid_token"'


def tiny_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/", requires_auth()(whoami)),
            Route("/open", whoami_or_anonymous),
            WebSocketRoute("/ws", requires_auth()(ws_echo)),
        ]
    )


async def whoami_or_anonymous(request: Request) -> Response:
    state = request.state
    return JSONResponse(
        {
            "user": state.user.sub if state.user else None,
            "via": context_kind(state.logto),
            "authenticated": request.user.is_authenticated,
        }
    )


@pytest.fixture
async def alice_token(guarded: Guarded) -> str:
    """A real shopping API token of alice."""
    return await guarded.token_of("alice", resource=SHOPPING)


@pytest.fixture
async def api(provider: OidcTestProvider) -> AsyncIterator[BearerAuthMiddleware]:
    """BearerAuthMiddleware alone in front of a tiny app, for the shopping API."""
    middleware = bearer(tiny_app(), provider)
    try:
        yield middleware
    finally:
        await middleware.aclose()


async def get(
    app: ASGIApp, headers: Sequence[tuple[str | bytes, str | bytes]], path: str = "/"
) -> httpx.Response:
    """One JSON request straight to ``app``, with these (possibly raw, repeated) headers."""
    raw = [(b"accept", b"application/json")]
    raw += [
        (k if isinstance(k, bytes) else k.encode(), v if isinstance(v, bytes) else v.encode())
        for k, v in headers
    ]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=APP_ORIGIN) as client:
        return await client.get(path, headers=raw)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_a_real_token_passes(api: BearerAuthMiddleware, alice_token: str) -> None:
    """A shopping API token of the real provider is accepted; lower-case 'bearer' too."""
    response = await get(api, [("authorization", f"Bearer {alice_token}")])
    assert response.json() == {"sub": "user-alice", "via": "BearerContext"}
    assert (await get(api, [("authorization", f"bearer {alice_token}")])).status_code == 200


async def test_expired_token(provider: OidcTestProvider, alice_token: str) -> None:
    """A token past exp (beyond the leeway) is 401 invalid_token."""
    later = bearer(tiny_app(), provider, clock=lambda: time.time() + 7200, leeway=30)
    try:
        response = await get(later, [("authorization", f"Bearer {alice_token}")])
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == INVALID
    finally:
        await later.aclose()


async def test_not_yet_valid_token() -> None:
    """A token whose nbf is ahead of the clock is 401 invalid_token."""
    issuer = TestIssuer()
    app = BearerAuthMiddleware(
        tiny_app(), endpoint=issuer.endpoint, audience=SHOPPING, http_client=issuer.http_client(), leeway=0
    )
    token = issuer.access_token(SHOPPING, nbf=int(time.time()) + 600)
    assert (await get(app, [("authorization", f"Bearer {token}")])).status_code == 401
    assert (await get(app, [("authorization", f"Bearer {issuer.access_token(SHOPPING)}")])).status_code == 200


async def test_wrong_audience(provider: OidcTestProvider, guarded: Guarded) -> None:
    """A real token for the store API is refused by the shopping API."""
    store_token = await guarded.token_of("alice", resource="https://store.example.com/api")
    app = bearer(tiny_app(), provider, organization_tokens=False)
    try:
        response = await get(app, [("authorization", f"Bearer {store_token}")])
        assert (response.status_code, response.headers["www-authenticate"]) == (401, INVALID)
        org_token = await guarded.token_of("alice", org="org-acme")
        assert (await get(app, [("authorization", f"Bearer {org_token}")])).status_code == 401
    finally:
        await app.aclose()


async def test_wrong_issuer() -> None:
    """A well-signed token naming another issuer is 401 invalid_token."""
    issuer = TestIssuer()
    app = BearerAuthMiddleware(
        tiny_app(), endpoint=issuer.endpoint, audience=SHOPPING, http_client=issuer.http_client()
    )
    token = issuer.access_token(SHOPPING, iss="https://evil.example/oidc")
    response = await get(app, [("authorization", f"Bearer {token}")])
    assert (response.status_code, response.headers["www-authenticate"]) == (401, INVALID)


async def test_a_key_the_provider_does_not_publish(api: BearerAuthMiddleware) -> None:
    """A token signed by a key of our own (claims otherwise right) is 401 invalid_token."""
    forger = TestIssuer(endpoint=api.provider.expected_issuers[0].removesuffix("/oidc"))
    response = await get(api, [("authorization", f"Bearer {forger.access_token(SHOPPING)}")])
    assert (response.status_code, response.headers["www-authenticate"]) == (401, INVALID)


async def test_forgeries_of_a_real_token(
    api: BearerAuthMiddleware, alice_token: str, provider: OidcTestProvider
) -> None:
    """alg none, HS256 keyed with the public key and a flipped signature bit are all 401."""
    claims = json.loads(base64.urlsafe_b64decode(alice_token.split(".")[1] + "=="))
    async with httpx.AsyncClient() as client:
        jwks = (await client.get(provider.jwks_uri)).json()["keys"]
    for forged in (unsigned(claims), hs256_with_public_key(claims, jwks[0]), flip_signature_bit(alice_token)):
        response = await get(api, [("authorization", f"Bearer {forged}")])
        assert (response.status_code, response.headers["www-authenticate"]) == (401, INVALID), forged


GARBAGE: list[bytes] = [
    b"Bearer",
    b"Bearer ",
    b"Bearer not a token",
    b"Bearer a.b.c",
    b"Bearer ..",
    b"Bearer ###",
    b"Bearer \xe9t\xe9",
    b"Bearer " + b"a" * 20_000 + b".b.c",
    ("Bearer " + b64(b"[]") + ".e30.AAAA").encode(),
    ("Bearer " + b64(b'{"alg":"ES384","kid":5}') + ".e30.AAAA").encode(),
    ("Bearer " + b64(b'{"alg":"ES384","kid":"nope"}') + "." + b64(b"not json") + ".AAAA").encode(),
    ("Bearer " + b64(b'{"alg":"RS256"}') + "." + b64(b"{}") + "." + b64(b"\x00" * 256)).encode(),
]


@pytest.mark.parametrize("value", GARBAGE, ids=range(len(GARBAGE)))
async def test_garbage_is_a_401_never_a_500(api: BearerAuthMiddleware, value: bytes) -> None:
    """Malformed Authorization values answer the same bare 401 invalid_token."""
    response = await get(api, [(b"authorization", value)])
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == INVALID
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "error": "invalid_token",
        "error_description": "the access token is not valid for this API",
    }


async def test_two_authorization_headers(api: BearerAuthMiddleware, alice_token: str) -> None:
    """Two Authorization headers are refused, even when one holds a good token."""
    headers = [("authorization", f"Bearer {alice_token}"), ("authorization", "Bearer x")]
    assert (await get(api, headers)).status_code == 401


async def test_the_failed_check_is_logged_not_answered(
    api: BearerAuthMiddleware, alice_token: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Which check failed goes to the logto_asgi logger, and the token never does."""
    caplog.set_level(logging.INFO, logger="logto_asgi")
    forged = flip_signature_bit(alice_token)
    response = await get(api, [("authorization", f"Bearer {forged}")])
    assert "signature" not in response.text
    assert "failed the signature check" in caplog.text
    assert forged not in caplog.text and alice_token.split(".")[2] not in caplog.text


async def test_no_token_or_another_scheme_passes_through_anonymous(api: BearerAuthMiddleware) -> None:
    """Without a bearer token the request reaches the app anonymous; a guard answers 401."""
    for headers in ([], [("authorization", "Basic YWxpY2U6cHc=")]):
        response = await get(api, headers, path="/open")
        assert response.json() == {"user": None, "via": "BearerContext", "authenticated": False}
        assert (await get(api, headers)).status_code == 401


async def test_provider_down_is_a_503_not_a_401() -> None:
    """When the keys cannot be fetched the API answers 503: the token may well be fine."""
    app = BearerAuthMiddleware(tiny_app(), endpoint="http://127.0.0.1:9", audience=SHOPPING)
    try:
        token = TestIssuer(endpoint="http://127.0.0.1:9").access_token(SHOPPING)
        response = await get(app, [("authorization", f"Bearer {token}")])
        assert (response.status_code, response.json()["error"]) == (503, "provider_unavailable")
    finally:
        await app.aclose()


async def test_websocket_with_a_bad_or_a_good_token(api: BearerAuthMiddleware, alice_token: str) -> None:
    """A websocket with a bad token is closed 1008 before accept; a good one is served."""
    refused = await websocket_session(api, "/ws", headers=[(b"authorization", b"Bearer a.b.c")])
    assert [(m["type"], m["code"]) for m in refused] == [("websocket.close", 1008)]
    served = await websocket_session(
        api, "/ws", headers=[(b"authorization", f"Bearer {alice_token}".encode())]
    )
    assert [m["type"] for m in served] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert served[1]["text"] == "user-alice"


@pytest.mark.parametrize("order", ["bearer inside", "bearer outside"])
async def test_both_middlewares_in_either_order(provider: OidcTestProvider, order: str) -> None:
    """With both middlewares a bearer token wins over a session cookie; without one the session counts."""
    if order == "bearer inside":
        api = bearer(build_guarded_app(), provider)
        harness = await make_harness(provider, app=api)
        client = harness.client
    else:
        harness = await make_harness(provider, app=build_guarded_app())
        api = bearer(harness.middleware, provider)
        client = new_browser(api)
        harness.extra_browsers.append(client)
    try:
        alice = Guarded(harness, api)
        token = await alice.token_of("alice", resource=SHOPPING)
        await harness.sign_in("bob", client=client)
        client.headers.update(JSON)
        assert (await client.get(f"{APP_ORIGIN}/signed-in")).json() == {
            "sub": "user-bob",
            "via": "LogtoContext",
        }
        with_token = {"authorization": f"Bearer {token}"}
        response = await client.get(f"{APP_ORIGIN}/orders/write", headers=with_token)
        assert response.json() == {"sub": "user-alice", "via": "BearerContext"}
        shopping = await client.get(f"{APP_ORIGIN}/starlette/shopping", headers=with_token)
        assert shopping.text == "shopping:read for user-alice"
        assert (await client.get(f"{APP_ORIGIN}/orders/write")).status_code == 403  # bob again
    finally:
        await harness.aclose()
        await api.aclose()


def test_both_contexts_answer_the_guard_protocol() -> None:
    """LogtoContext and BearerContext both satisfy AuthContext, statically and at run time."""

    def as_guard_context(ctx: LogtoContext) -> AuthContext:
        return ctx  # mypy --strict checks LogtoContext against the protocol here

    anonymous: AuthContext = BearerContext()
    assert isinstance(anonymous, AuthContext) and not anonymous.is_authenticated
    assert {"is_authenticated", "user", "granted_scopes"} <= set(dir(LogtoContext))
    assert as_guard_context.__annotations__["return"] in ("AuthContext", AuthContext)


def test_configuration_is_checked_at_construction() -> None:
    """No audience, a bad endpoint or a silly leeway fail when the middleware is built."""
    app = tiny_app()
    with pytest.raises(ConfigurationError, match="audience"):
        BearerAuthMiddleware(app, endpoint="https://logto.test")
    with pytest.raises(ConfigurationError, match="endpoint"):
        BearerAuthMiddleware(app, endpoint="logto.test", audience=SHOPPING)
    with pytest.raises(ConfigurationError, match="leeway"):
        BearerAuthMiddleware(app, endpoint="https://logto.test", audience=SHOPPING, leeway=-1)
    assert BearerAuthMiddleware(app, endpoint="https://logto.test", organization_tokens=True).audiences == ()


@pytest.mark.parametrize(("leeway", "accepted"), [(0, True), (600, True), (600.5, False), (-0.1, False)])
def test_leeway_is_bounded_to_ten_minutes(leeway: float, accepted: bool) -> None:
    """The allowed clock skew is 0 to 600 seconds, both ends included."""
    app = tiny_app()
    if accepted:
        assert BearerAuthMiddleware(app, endpoint="https://logto.test", audience=SHOPPING, leeway=leeway)
    else:
        with pytest.raises(ConfigurationError, match="leeway"):
            BearerAuthMiddleware(app, endpoint="https://logto.test", audience=SHOPPING, leeway=leeway)


async def test_a_token_for_another_resource_grants_no_scopes_there() -> None:
    """BearerContext.granted_scopes for a resource the token is not meant for is AccessDenied."""
    ctx = BearerContext(AccessTokenClaims({"sub": "u", "aud": "https://a.test", "scope": "read"}), "t")
    assert await ctx.granted_scopes("https://a.test") == {"read"}
    with pytest.raises(AccessDenied):
        await ctx.granted_scopes("https://b.test")
