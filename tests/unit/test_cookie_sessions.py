"""The cookie session codec: chunking, stale chunks, tampering, missing chunks."""

from __future__ import annotations

import time

import pytest

from logto_asgi import CookieStore, LogtoConfig
from logto_asgi._http import CookieJar, parse_cookies
from logto_asgi.sessions._backends import CookieBackend
from logto_asgi.sessions.base import CachedToken, Session

SECRET = "s" * 32


def make_backend(secrets: list[str] | None = None, chunk_size: int = 3800) -> CookieBackend:
    config = LogtoConfig(
        endpoint="https://id.example.com",
        app_id="app",
        cookie_secret=secrets or [SECRET],
        store=CookieStore(chunk_size=chunk_size),
    )
    jar = CookieJar(path="/", domain=None, samesite="lax", secure=None)
    return CookieBackend(config, CookieStore(chunk_size=chunk_size), jar)


def make_session(padding: int = 0) -> Session:
    now = int(time.time())
    session = Session(
        id_token="eyJ.header.sig",
        claims={"sub": "user-1", "name": "Ada", "pad": "x" * padding},
        refresh_token="rt-1",
        scope="openid profile offline_access",
        created_at=now,
        updated_at=now,
        expires_at=now + 3600,
        access_tokens={"": CachedToken("at-1", now + 600, "openid")},
    )
    return session


def cookies_from(headers: list[tuple[bytes, bytes]], jar: dict[str, str] | None = None) -> dict[str, str]:
    """Apply Set-Cookie headers to a cookie jar the way a browser would."""
    result = dict(jar or {})
    for _, raw in headers:
        text = raw.decode()
        pair = text.split(";", 1)[0]
        name, _, value = pair.partition("=")
        if "Max-Age=0" in text:
            result.pop(name, None)
        else:
            result[name] = value
    return result


async def save(backend: CookieBackend, session: Session, jar: dict[str, str] | None = None) -> dict[str, str]:
    headers = await backend.save(session, jar or {}, now=time.time(), secure=False)
    for _, raw in headers:
        assert len(raw.decode().split(";", 1)[0]) <= 4096, "a cookie over 4 KB would be dropped"
    return cookies_from(headers, jar)


@pytest.mark.anyio
async def test_small_session_is_one_cookie_and_round_trips() -> None:
    """A typical session fits one cookie named after cookie_name and reads back equal."""
    backend = make_backend()
    jar = await save(backend, make_session())
    assert list(jar) == ["logto"]
    session = make_session()
    jar = await save(backend, session)
    loaded = await backend.load(jar)
    assert loaded is not None
    assert loaded.to_json() == session.to_json()


@pytest.mark.anyio
@pytest.mark.parametrize("padding", [2000, 2900, 3000, 6000, 12000])
async def test_large_sessions_are_chunked_and_reassembled(padding: int) -> None:
    """Around and past the chunk boundary the session splits into name.0, name.1… and reads back."""
    backend = make_backend(chunk_size=3800)
    session = make_session(padding)
    jar = await save(backend, session)
    value_len = len(backend.encode(session))
    if value_len > 3800:
        assert "logto" not in jar and "logto.0" in jar and "logto.1" in jar
    else:
        assert list(jar) == ["logto"]
    loaded = await backend.load(jar)
    assert loaded is not None and loaded.claims == session.claims


@pytest.mark.anyio
async def test_shrinking_session_deletes_stale_chunks() -> None:
    """When a chunked session shrinks, the chunks it no longer uses are deleted."""
    backend = make_backend()
    big = await save(backend, make_session(12000))
    assert "logto.3" in big
    small = await save(backend, make_session(10), big)
    assert set(small) == {"logto"}
    loaded = await backend.load(small)
    assert loaded is not None and loaded.claims["pad"] == "x" * 10


@pytest.mark.anyio
async def test_each_tampered_chunk_reads_as_signed_out() -> None:
    """Changing any chunk makes the whole session unreadable (None), not an exception."""
    backend = make_backend()
    jar = await save(backend, make_session(9000))
    chunk_names = sorted(k for k in jar if k.startswith("logto."))
    assert len(chunk_names) >= 3
    for name in chunk_names:
        forged = dict(jar)
        value = forged[name]
        forged[name] = value[:10] + ("A" if value[10] != "A" else "B") + value[11:]
        assert await backend.load(forged) is None


@pytest.mark.anyio
async def test_missing_or_reordered_chunk_reads_as_signed_out() -> None:
    """A missing middle chunk or swapped chunks give no session."""
    backend = make_backend()
    jar = await save(backend, make_session(9000))
    missing = {k: v for k, v in jar.items() if k != "logto.1"}
    assert await backend.load(missing) is None
    swapped = dict(jar)
    swapped["logto.0"], swapped["logto.1"] = jar["logto.1"], jar["logto.0"]
    assert await backend.load(swapped) is None


@pytest.mark.anyio
async def test_rotation_reads_old_cookie_and_rewrites_with_new_key() -> None:
    """A cookie written with the old secret is read after rotation; a new write uses the new key."""
    old = make_backend([SECRET])
    jar = await save(old, make_session())
    rotated = make_backend(["n" * 32, SECRET])
    loaded = await rotated.load(jar)
    assert loaded is not None
    rewritten = await save(rotated, loaded, jar)
    assert await old.load(rewritten) is None
    assert await rotated.load(rewritten) is not None


@pytest.mark.anyio
async def test_unknown_secret_reads_as_signed_out() -> None:
    """A cookie from another deployment (other secret) is ignored."""
    jar = await save(make_backend(["o" * 32]), make_session())
    assert await make_backend().load(jar) is None


def test_set_cookie_attributes() -> None:
    """Session cookies are HttpOnly, SameSite from config, Secure when asked, with Max-Age."""
    jar = CookieJar(path="/", domain="example.com", samesite="strict", secure=None)
    _, raw = jar.set("logto", "v", max_age=60, secure=True)
    text = raw.decode()
    assert text.startswith("logto=v;")
    for part in ("Path=/", "Max-Age=60", "HttpOnly", "SameSite=Strict", "Domain=example.com", "Secure"):
        assert part in text
    _, raw = jar.set("logto", "v", max_age=60, secure=False)
    assert "Secure" not in raw.decode()


def test_cookie_header_parsing_first_duplicate_wins() -> None:
    """Duplicate cookie names keep the first (most specific path) and are recorded as
    duplicates; junk parts are skipped."""
    cookies = parse_cookies('a=1; b="2"; a=3; junk; =x; c=; b=4')
    assert cookies == {"a": "1", "b": "2", "c": ""}
    assert cookies.duplicates == {"a", "b"}
    assert parse_cookies("a=1; c=2").duplicates == frozenset()
