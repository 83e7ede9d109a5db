"""Sign-in, signed-in requests and sign-out with a server-side store, against the real
provider: the cookie carries only a signed session id, and what the store holds is
encrypted."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio

from logto_asgi import MemoryStore, RedisStore, SessionStore
from logto_asgi.sessions._backends import StoreBackend, _entry_key
from support.app import APP_ORIGIN, SHOPPING, Harness, browser_cookies, make_harness
from support.provider import OidcTestProvider
from support.redis_server import redis_store

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[SessionStore]:
    """A MemoryStore, or a RedisStore on the test Redis with a prefix of its own."""
    if request.param == "memory":
        yield MemoryStore()
        return
    async with redis_store(request.getfixturevalue("redis_url"), "flow") as store:
        yield store


@pytest.fixture
async def harness(provider: OidcTestProvider, store: SessionStore) -> AsyncIterator[Harness]:
    """The test app with sessions in ``store``."""
    h = await make_harness(provider, store=store)
    try:
        yield h
    finally:
        await h.aclose()


def session_cookie(harness: Harness) -> str:
    value = browser_cookies(harness.client).get("logto")
    assert value, "no session cookie"
    return value


def session_id(harness: Harness, cookie: str) -> str:
    backend = harness.middleware.core.backend
    assert isinstance(backend, StoreBackend)
    return backend._signer.unsign(cookie)


async def me(client_or_harness: Harness, cookie: str) -> int:
    """GET /me from a fresh browser holding only ``cookie``."""
    browser = client_or_harness.browser()
    browser.cookies.set("logto", cookie, domain="app.test")
    return (await browser.get(f"{APP_ORIGIN}/me")).status_code


async def test_sign_in_requests_sign_out(harness: Harness) -> None:
    """Sign-in sets one short cookie; requests are signed in; sign-out ends the session."""
    callback = await harness.sign_in("alice", return_to="/orders")
    assert callback.status_code == 302 and callback.headers["location"] == "/orders"
    cookie = session_cookie(harness)
    assert len(cookie) < 100, cookie  # a signed id (32 + 1 + 43 characters), no tokens
    assert set(browser_cookies(harness.client)) == {"logto"}
    for _ in range(3):
        response = await harness.client.get(f"{APP_ORIGIN}/me")
        assert response.status_code == 200
        assert response.json()["user"]["sub"] == "user-alice"
    assert (await harness.client.get(f"{APP_ORIGIN}/orders")).text == "orders of user-alice"
    await harness.sign_out()
    assert "logto" not in browser_cookies(harness.client)
    assert (await harness.client.get(f"{APP_ORIGIN}/me")).status_code == 401


async def test_cookie_is_a_signed_random_id(harness: Harness) -> None:
    """The cookie is ``<id>.<mac>`` with a 192-bit id; a changed character is refused."""
    await harness.sign_in("alice")
    cookie = session_cookie(harness)
    ident, mac = cookie.split(".")
    assert len(ident) == 32 and len(mac) == 43
    forged = ident[:-1] + ("A" if ident[-1] != "A" else "B") + "." + mac
    assert await me(harness, forged) == 401
    assert await me(harness, cookie) == 200


async def test_new_session_id_at_each_sign_in(harness: Harness, store: SessionStore) -> None:
    """Signing in again gives a new id, and the previous session's entry is deleted."""
    await harness.sign_in("alice")
    first = session_cookie(harness)
    await harness.sign_in("alice")  # the provider remembers alice: a new local session all the same
    second = session_cookie(harness)
    assert session_id(harness, first) != session_id(harness, second)
    assert await me(harness, second) == 200
    assert await me(harness, first) == 401  # a copy of the old cookie is worthless now


async def test_old_cookie_is_worthless_after_sign_out(harness: Harness) -> None:
    """Replaying the cookie of a signed-out session finds nothing: signed out."""
    await harness.sign_in("alice")
    cookie = session_cookie(harness)
    assert await me(harness, cookie) == 200
    await harness.sign_out()
    assert await me(harness, cookie) == 401
    backend = harness.middleware.core.backend
    assert isinstance(backend, StoreBackend)
    assert await backend.load({"logto": cookie}) is None


async def test_refreshed_session_is_shared_by_the_id(harness: Harness, provider: OidcTestProvider) -> None:
    """A token fetched in one request is in the store for the next: no second refresh grant."""
    await harness.sign_in("alice")
    await provider.reset_counts()
    first = (
        await harness.client.get(f"{APP_ORIGIN}/token", params={"resource": SHOPPING, "raw": "1"})
    ).json()
    other = harness.browser()  # same cookie, another client: proves the state is server-side
    other.cookies.set("logto", session_cookie(harness), domain="app.test")
    second = (await other.get(f"{APP_ORIGIN}/token", params={"resource": SHOPPING, "raw": "1"})).json()
    assert first == second
    assert (await provider.counts()).get("token:refresh_token") == 1


@pytest.mark.redis
async def test_redis_holds_nothing_readable(
    provider: OidcTestProvider, redis_url: str, record_property: Callable[[str, object], None]
) -> None:
    """Every key and value in Redis is opaque: no token, no claim; bytes per session recorded."""
    prefix = f"leak-{uuid.uuid4().hex[:8]}:"
    store = RedisStore(redis_url, prefix=prefix)
    harness = await make_harness(provider, store=store, backchannel_logout_path="/backchannel-logout")
    admin: redis.asyncio.Redis = redis.asyncio.Redis.from_url(redis_url)
    try:
        await harness.sign_in("alice")
        entry_key = prefix + _entry_key(session_id(harness, session_cookie(harness)))
        signed_in_bytes = await admin.strlen(entry_key)
        await harness.client.get(f"{APP_ORIGIN}/token", params={"resource": SHOPPING, "raw": "1"})
        backend = harness.middleware.core.backend
        assert isinstance(backend, StoreBackend)
        session = await backend.load({"logto": session_cookie(harness)})
        assert session is not None and session.refresh_token
        secrets = {
            "refresh token": session.refresh_token,
            "ID token": session.id_token,
            **{f"access token {k!r}": t.token for k, t in session.access_tokens.items()},
            "email": "alice@example.com",
            "sub": "user-alice",
        }
        dump = b""
        async for key in admin.scan_iter(match=f"{prefix}*"):
            kind = await admin.type(key)
            dump += key + b"\n"
            if kind == b"string":
                value = await admin.get(key)
                assert isinstance(value, bytes)
                dump += value + b"\n"
            else:
                assert kind == b"set"
                members = await admin.smembers(key)
                dump += b"\n".join(m if isinstance(m, bytes) else m.encode() for m in members) + b"\n"
        assert dump.count(b"\n") >= 4  # session, refresh result, sid and sub indexes at least
        for what, value in secrets.items():
            # Whole values and JWT segments; short fragments ("com") occur by chance in base64.
            for piece in {p for p in {value, *value.split(".")} if len(p) >= 10}:
                assert piece.encode() not in dump, f"{what} readable in Redis"
        with_token_bytes = await admin.strlen(entry_key)
        memory = await admin.memory_usage(entry_key)
        record_property("redis_session_bytes_signed_in", signed_in_bytes)
        record_property("redis_session_bytes_with_resource_token", with_token_bytes)
        print(
            f"\nbytes per session in Redis: {signed_in_bytes} after sign-in, {with_token_bytes} with one "
            f"resource token cached (MEMORY USAGE {memory})"
        )
        assert 0 < signed_in_bytes < with_token_bytes < 8192
    finally:
        await admin.aclose()
        await harness.aclose()
        await store.aclose()
