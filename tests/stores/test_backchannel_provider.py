"""Back-channel logout driven by the real provider: its logout tokens, POSTed over real
HTTP to the app under uvicorn, end exactly the sessions they name."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import httpx
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from logto_asgi import LogtoMiddleware, MemoryStore, PostgresStore, RedisStore, SessionStore
from logto_asgi._crypto import b64url_decode
from logto_asgi.tokens import MAX_LOGOUT_TOKEN_AGE
from support.app import build_app, register_app
from support.provider import OidcTestProvider, provider_login
from support.server import listen, serve

pytestmark = pytest.mark.anyio

PATH = "/backchannel-logout"


class Recorder:
    """Keeps a copy of every request body POSTed to ``PATH`` (the provider's logout tokens),
    then hands the request on unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.bodies.append(body)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


@dataclass
class Site:
    url: str
    client_id: str
    recorder: Recorder
    browsers: list[httpx.AsyncClient] = field(default_factory=list)

    async def browser(self, username: str = "alice") -> httpx.AsyncClient:
        """A new browser (its own cookie jar, so its own provider session), signed in."""
        client = httpx.AsyncClient(timeout=15)
        self.browsers.append(client)
        callback = await provider_login(
            client, f"{self.url}/sign-in", username=username, password=f"{username}-password"
        )
        assert callback.status_code == 302, callback.text
        return client

    async def me(self, browser: httpx.AsyncClient) -> httpx.Response:
        return await browser.get(f"{self.url}/me")


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis), "postgres"])
def store(request: pytest.FixtureRequest) -> SessionStore:
    """Where the served app keeps its sessions (closed by the app's lifespan shutdown)."""
    if request.param == "memory":
        return MemoryStore()
    if request.param == "postgres":
        return PostgresStore(request.getfixturevalue("postgres_dsn"), table=f"bcl_{uuid.uuid4().hex[:8]}")
    return RedisStore(request.getfixturevalue("redis_url"), prefix=f"bcl-{uuid.uuid4().hex[:8]}:")


@pytest.fixture
async def site(provider: OidcTestProvider, store: SessionStore) -> AsyncIterator[Site]:
    """The test app under uvicorn with back-channel logout, registered at the provider."""
    with listen() as bound:
        registration = await register_app(
            provider, bound.url, prefix="bcl", backchannel_logout_uri=f"{bound.url}{PATH}"
        )
        client_id = registration.client_id
        config = registration.config(bound.url, store=store, backchannel_logout_path=PATH)
        recorder = Recorder(LogtoMiddleware(build_app(), config=config))
        with serve(recorder, bound) as url:
            running = Site(url, client_id, recorder)
            try:
                yield running
            finally:
                for browser in running.browsers:
                    await browser.aclose()


async def test_provider_logout_ends_only_the_named_session(provider: OidcTestProvider, site: Site) -> None:
    """Two browsers signed in as alice; the provider logs out browser 1's sid: browser 1 is
    signed out, browser 2 is not. The same token again is refused with 400."""
    first, second = await site.browser(), await site.browser()
    sid_1 = (await site.me(first)).json()["user"]["sid"]
    sid_2 = (await site.me(second)).json()["user"]["sid"]
    assert sid_1 and sid_2 and sid_1 != sid_2

    results = await provider.backchannel_logout(sub="user-alice", sid=sid_1, client_id=site.client_id)
    assert [(r["sid"], r["status"], r["error"]) for r in results] == [(sid_1, 200, None)]
    assert (await site.me(first)).status_code == 401
    assert (await site.me(second)).status_code == 200

    assert len(site.recorder.bodies) == 1
    assert_typed_and_short_lived(site.recorder.bodies[0])
    async with httpx.AsyncClient() as client:
        replay = await client.post(
            f"{site.url}{PATH}",
            content=site.recorder.bodies[0],
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_request"
    assert replay.headers["cache-control"] == "no-store"
    assert (await site.me(second)).status_code == 200


def assert_typed_and_short_lived(body: bytes) -> None:
    """What the checks assume of the provider's logout tokens: typ logout+jwt, and an exp
    well inside the age bound (oidc-provider: iat + 120 s)."""
    [token] = parse_qs(body.decode())["logout_token"]
    head, payload, _ = token.split(".")
    claims = json.loads(b64url_decode(payload))
    assert json.loads(b64url_decode(head))["typ"] == "logout+jwt"
    assert claims["exp"] - claims["iat"] == 120 < MAX_LOGOUT_TOKEN_AGE


async def test_provider_logout_of_the_user_ends_every_session(provider: OidcTestProvider, site: Site) -> None:
    """A logout of the user (no sid given to the provider) reaches each of their sessions;
    bob, signed in meanwhile, stays signed in."""
    browsers = [await site.browser(), await site.browser()]
    bob = await site.browser("bob")
    results = await provider.backchannel_logout(sub="user-alice", client_id=site.client_id)
    assert [r["status"] for r in results] == [200, 200]
    for browser in browsers:
        assert (await site.me(browser)).status_code == 401
    assert (await site.me(bob)).json()["user"]["sub"] == "user-bob"


async def test_endpoint_refuses_what_is_not_a_logout_request(site: Site) -> None:
    """GET → 405 (Allow: POST); no logout_token, a JSON body or garbage → 400."""
    async with httpx.AsyncClient(base_url=site.url) as client:
        get = await client.get(PATH)
        assert get.status_code == 405 and get.headers["allow"] == "POST"
        assert (await client.post(PATH, data={})).status_code == 400
        assert (await client.post(PATH, data={"logout_token": ""})).status_code == 400
        assert (await client.post(PATH, json={"logout_token": "a.b.c"})).status_code == 400
        garbage = await client.post(PATH, data={"logout_token": "not-a-jwt"})
        assert garbage.status_code == 400 and garbage.json()["error"] == "invalid_request"
