"""Each check of the back-channel logout token on its own: 200 for a valid token, 400 for
every bad one, and the sessions survive a bad token.

A real provider will not sign a token with a ``nonce`` or without ``events``, so these are
signed with a key of our own, served as the JWKS through httpx's MockTransport. The real
provider's tokens are covered by ``test_backchannel_provider.py``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import Message

from logto_asgi import LogtoConfig, LogtoMiddleware, MemoryStore, SessionStore
from logto_asgi._crypto import fingerprint
from logto_asgi.backchannel import MAX_BODY, index_session
from logto_asgi.core import LogtoCore
from logto_asgi.sessions.base import Session
from logto_asgi.tokens import BACKCHANNEL_EVENT
from support.tokens import (
    CLIENT_ID,
    ISSUER,
    Signer,
    flip_signature_bit,
    hs256_with_public_key,
    mock_provider,
    unsigned,
    with_overrides,
)

pytestmark = pytest.mark.anyio

PATH = "/backchannel-logout"
SIGNER = Signer("EC", kid="provider-key")
STRANGER = Signer("EC", kid="provider-key")  # same kid, another key


def logout_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
        "events": {BACKCHANNEL_EVENT: {}},
        "sub": "user-1",
        "sid": "sid-a",
    }
    return with_overrides(claims, overrides)


class BrokenStore:
    """A store whose backend is down."""

    async def get(self, key: str) -> bytes | None:
        raise ConnectionError("store down")

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        raise ConnectionError("store down")

    async def delete(self, key: str) -> None:
        raise ConnectionError("store down")


@dataclass
class Rig:
    core: LogtoCore
    app: LogtoMiddleware
    client: httpx.AsyncClient
    cookies: dict[str, str]  # session sid → its cookie value

    async def post(self, token: str) -> httpx.Response:
        return await self.client.post(PATH, data={"logout_token": token})

    async def alive(self) -> set[str]:
        """The sids whose sessions still load."""
        return {
            sid for sid, cookie in self.cookies.items() if await self.core.backend.load({"logto": cookie})
        }


async def make_rig(store: SessionStore) -> AsyncIterator[Rig]:
    async with httpx.AsyncClient(transport=mock_provider([SIGNER.jwk()])) as provider_http:
        config = LogtoConfig(
            endpoint="https://id.example.com",
            app_id=CLIENT_ID,
            cookie_secret="c" * 32,
            store=store,
            backchannel_logout_path=PATH,
            http_client=provider_http,
        )
        app = LogtoMiddleware(Starlette(), config=config)
        core = app.core
        cookies: dict[str, str] = {}
        if not isinstance(store, BrokenStore):
            now = time.time()
            for sid, sub in (("sid-a", "user-1"), ("sid-b", "user-1"), ("sid-c", "user-2")):
                session = Session(
                    id_token="unused",
                    claims={"sub": sub, "sid": sid},
                    refresh_token=None,
                    scope="openid",
                    created_at=int(now),
                    updated_at=int(now),
                    expires_at=int(now + 3600),
                )
                await index_session(core, session)
                [(_, header)] = await core.backend.save(session, {}, now=now, secure=False)
                cookies[sid] = header.decode().split(";")[0].split("=", 1)[1]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as client:
            yield Rig(core, app, client, cookies)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    """An app with three sessions: sid-a and sid-b of user-1, sid-c of user-2."""
    async for made in make_rig(MemoryStore()):
        yield made


async def test_valid_token_ends_the_sessions_of_its_sid(rig: Rig) -> None:
    """A valid token with a sid ends that session only: 200 with an empty body."""
    response = await rig.post(SIGNER.sign(logout_claims()))
    assert response.status_code == 200 and response.content == b""
    assert response.headers["cache-control"] == "no-store"
    assert await rig.alive() == {"sid-b", "sid-c"}


async def test_token_with_only_sub_ends_every_session_of_the_user(rig: Rig) -> None:
    """Without sid, every session of the sub ends; other users keep theirs."""
    response = await rig.post(SIGNER.sign(logout_claims(sid=None)))
    assert response.status_code == 200
    assert await rig.alive() == {"sid-c"}


async def test_token_for_an_unknown_session_is_fine(rig: Rig) -> None:
    """A valid token naming no session we hold still answers 200 (nothing to end)."""
    response = await rig.post(SIGNER.sign(logout_claims(sid="sid-gone")))
    assert response.status_code == 200
    assert await rig.alive() == {"sid-a", "sid-b", "sid-c"}


async def test_replayed_token_is_refused(rig: Rig) -> None:
    """The same token twice: 200, then 400 (its jti is remembered)."""
    token = SIGNER.sign(logout_claims(sid="sid-gone"))
    assert (await rig.post(token)).status_code == 200
    again = await rig.post(token)
    assert again.status_code == 400 and again.json()["error"] == "invalid_request"


BAD_TOKENS = {
    "nonce": lambda: SIGNER.sign(logout_claims(nonce="n-123")),
    "wrong aud": lambda: SIGNER.sign(logout_claims(aud="another-app")),
    "no events": lambda: SIGNER.sign(logout_claims(events=None)),
    "other event": lambda: SIGNER.sign(logout_claims(events={"urn:other": {}})),
    "event not an object": lambda: SIGNER.sign(logout_claims(events={BACKCHANNEL_EVENT: "yes"})),
    "no jti": lambda: SIGNER.sign(logout_claims(jti=None)),
    "neither sub nor sid": lambda: SIGNER.sign(logout_claims(sub=None, sid=None)),
    "wrong iss": lambda: SIGNER.sign(logout_claims(iss="https://evil.example.com/oidc")),
    "no iat": lambda: SIGNER.sign(logout_claims(iat=None)),
    "expired": lambda: SIGNER.sign(logout_claims(iat=int(time.time()) - 900, exp=int(time.time()) - 600)),
    "issued in the future": lambda: SIGNER.sign(
        logout_claims(iat=int(time.time()) + 900, exp=int(time.time()) + 1200)
    ),
    "alg none": lambda: unsigned(logout_claims()),
    "HS256 with the public key": lambda: hs256_with_public_key(logout_claims(), SIGNER.jwk()),
    "bad signature": lambda: flip_signature_bit(SIGNER.sign(logout_claims())),
    "another key": lambda: STRANGER.sign(logout_claims()),
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
async def test_bad_token_is_refused_and_ends_nothing(rig: Rig, case: str) -> None:
    """A logout token failing any one check gets 400, and every session survives."""
    response = await rig.post(BAD_TOKENS[case]())
    assert response.status_code == 400, response.text
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "the logout token is not valid",
    }
    assert await rig.alive() == {"sid-a", "sid-b", "sid-c"}


async def test_bad_token_is_not_remembered(rig: Rig) -> None:
    """A refused token does not burn its jti: the valid token with that jti still works."""
    claims = logout_claims()
    assert (await rig.post(flip_signature_bit(SIGNER.sign(claims)))).status_code == 400
    assert (await rig.post(SIGNER.sign(claims))).status_code == 200
    assert await rig.alive() == {"sid-b", "sid-c"}


async def test_store_down_answers_503_not_400() -> None:
    """With the store unreachable a valid token gets 503, so the provider may retry."""
    async for rig in make_rig(BrokenStore()):
        response = await rig.post(SIGNER.sign(logout_claims()))
        assert response.status_code == 503
        assert response.json()["error"] == "store_unavailable"


class FlakyStore(MemoryStore):
    """A MemoryStore whose first deletion of a session entry fails (a dropped connection)."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    async def delete(self, key: str) -> None:
        if key.startswith("session:") and self.failures:
            self.failures -= 1
            raise ConnectionError("connection dropped")
        await super().delete(key)


async def test_a_store_error_midway_answers_503_and_the_retry_succeeds() -> None:
    """The store fails while ending the sessions: 503 (the jti is not burnt), and the
    provider's retry of the same token ends them: 200."""
    async for rig in make_rig(FlakyStore()):
        token = SIGNER.sign(logout_claims(sid=None))
        first = await rig.post(token)
        assert first.status_code == 503, first.text
        retry = await rig.post(token)
        assert retry.status_code == 200, retry.text
        assert await rig.alive() == {"sid-c"}
        assert (await rig.post(token)).status_code == 400  # now it is remembered


async def test_a_token_with_an_empty_sid_ends_the_sessions_of_its_sub(rig: Rig) -> None:
    """sid "" names no session: the token's sub does, and all of that user's sessions end."""
    response = await rig.post(SIGNER.sign(logout_claims(sid="")))
    assert response.status_code == 200
    assert await rig.alive() == {"sid-c"}


async def test_a_session_with_an_empty_sid_is_indexed_by_its_sub_only(rig: Rig) -> None:
    """A session whose ID token has sid "" (or sub "") is not filed under the empty value."""
    now = int(time.time())
    session = Session("unused", {"sub": "user-3", "sid": ""}, None, "openid", now, now, now + 3600)
    await index_session(rig.core, session)
    server = rig.core.server_sessions
    assert server is not None
    assert await server.ops.get(f"bcl-sid:{fingerprint('')}") is None
    assert await server.ops.set_pop_all(f"bcl-sub:{fingerprint('user-3')}") == [session.id]
    nameless = Session("unused", {"sub": "", "sid": "sid-z"}, None, "openid", now, now, now + 3600)
    await index_session(rig.core, nameless)
    assert await server.ops.get(f"bcl-sub:{fingerprint('')}") is None


def padded_form(token: str, size: int) -> bytes:
    """A form body of exactly ``size`` bytes carrying ``token``."""
    body = f"logout_token={token}&pad=".encode()
    return body + b"x" * (size - len(body))


@pytest.mark.parametrize(("size", "read"), [(MAX_BODY, True), (MAX_BODY + 1, False)])
async def test_the_body_limit_is_exact(rig: Rig, size: int, read: bool) -> None:
    """A body of MAX_BODY bytes is read; one byte more is refused unread."""
    response = await rig.client.post(
        PATH,
        content=padded_form(SIGNER.sign(logout_claims()), size),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == (200 if read else 400), response.text
    assert await rig.alive() == ({"sid-b", "sid-c"} if read else {"sid-a", "sid-b", "sid-c"})


async def test_a_body_sent_in_chunks_is_read_whole(rig: Rig) -> None:
    """The form may arrive in several ASGI messages: all of them are read."""
    body = f"logout_token={SIGNER.sign(logout_claims())}".encode()
    chunks = [body[:10], body[10:], b""]
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": PATH,
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
        "query_string": b"",
    }
    await rig.app(scope, receive, send)
    assert sent[0]["status"] == 200
    assert await rig.alive() == {"sid-b", "sid-c"}


def test_the_body_limit_is_64_kib() -> None:
    """Logout tokens are small: a form body over 64 KiB is refused unread."""
    assert MAX_BODY == 64 * 1024


async def test_without_back_channel_logout_nothing_is_indexed() -> None:
    """A server-side store without backchannel_logout_path keeps no sid/sub index."""
    store = MemoryStore()
    config = LogtoConfig(
        endpoint="https://id.example.com", app_id=CLIENT_ID, cookie_secret="c" * 32, store=store
    )
    core = LogtoMiddleware(Starlette(), config=config).core
    now = int(time.time())
    await index_session(
        core, Session("unused", {"sub": "user-1", "sid": "sid-a"}, None, "openid", now, now, now + 60)
    )
    assert len(store) == 0
