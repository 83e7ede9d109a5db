"""The seen-cookie cache: a known-good Cookie header skips decoding, never the checks that change."""

from __future__ import annotations

import inspect
import time
from typing import Any

import pytest
from starlette.types import Receive, Scope, Send

from logto_asgi import LogtoConfig, LogtoMiddleware, MemoryStore
from logto_asgi.session_auth import _PARSED_COOKIE_MAX, _SEEN_SIZE
from logto_asgi.testing import TestIssuer, signed_in_cookies

pytestmark = pytest.mark.anyio


async def whoami(scope: Scope, receive: Receive, send: Send) -> None:
    user = scope["state"]["user"]
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": (user.sub if user else "anonymous").encode()})


async def ask(app: LogtoMiddleware, cookie: bytes) -> str:
    sent: list[bytes] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.body":
            sent.append(message["body"])  # type: ignore[arg-type]

    headers = [(b"host", b"app.test"), (b"cookie", cookie)]
    scope = {"type": "http", "path": "/", "method": "GET", "headers": headers, "query_string": b""}
    await app(scope, receive, send)  # type: ignore[arg-type]
    return b"".join(sent).decode()


def header(config: LogtoConfig, sub: str) -> bytes:
    cookies = signed_in_cookies(config, claims={"sub": sub})
    return "; ".join(f"{name}={value}" for name, value in cookies.items()).encode()


async def test_a_seen_cookie_still_expires() -> None:
    """The second request is served from the cache, and the session's end still applies."""
    now = [1_000_000.0]
    issuer = TestIssuer()
    config = issuer.config(session_max_age=3600, session_idle_timeout=1800)
    app = LogtoMiddleware(whoami, config=config, clock=lambda: now[0])
    # signed_in_cookies stamps the session with the wall clock: follow it.
    now[0] = time.time()
    cookie = header(config, "alice")
    assert await ask(app, cookie) == "alice"
    assert await ask(app, cookie) == "alice"
    now[0] += 1801  # idle for longer than the idle timeout
    assert await ask(app, cookie) == "anonymous"


async def test_the_cache_is_bounded_and_not_used_for_store_sessions() -> None:
    """More distinct headers than it holds: it stays at its bound; tampered ones are never kept."""
    config = TestIssuer().config()
    app = LogtoMiddleware(whoami, config=config)
    authenticator = app._single
    seen = authenticator._seen  # type: ignore[union-attr]
    assert seen is not None
    good = header(config, "bob")
    assert await ask(app, good[:-4] + b"AAAA") == "anonymous"
    assert len(seen) == 0
    for i in range(_SEEN_SIZE + 10):
        assert await ask(app, header(config, f"user-{i}")) == f"user-{i}"
    assert len(seen) == _SEEN_SIZE
    ended = LogtoMiddleware(whoami, config=TestIssuer().config(check_ended_sessions=True))
    assert ended._single._seen is None  # type: ignore[union-attr]


async def test_headers_up_to_16_kib_are_remembered_and_longer_ones_are_not() -> None:
    """The bound is on the header's bytes: exactly 16 KiB is kept, one byte more is not (still served)."""
    config = TestIssuer().config()
    app = LogtoMiddleware(whoami, config=config)
    seen = app._single._seen  # type: ignore[union-attr]
    assert seen is not None
    good = header(config, "carol")
    for extra, kept in ((0, 1), (1, 0)):
        seen._entries.clear()
        padding = b"; pad=" + b"x" * (_PARSED_COOKIE_MAX + extra - len(good) - len(b"; pad="))
        assert len(good + padding) == _PARSED_COOKIE_MAX + extra
        assert await ask(app, good + padding) == "carol"
        assert len(seen) == kept


def test_a_first_seen_cookie_session_is_read_without_a_coroutine() -> None:
    """Cookie sessions need no I/O: authenticate answers at once, first sight or not; a
    store session (which must be looked up) gets a coroutine to await."""
    issuer = TestIssuer()
    config = issuer.config()
    authenticator = LogtoMiddleware(whoami, config=config)._single
    scope: dict[str, Any] = {
        "type": "http",
        "path": "/",
        "headers": [(b"host", b"app.test"), (b"cookie", header(config, "bob"))],
    }
    found = authenticator.authenticate(scope)  # type: ignore[union-attr]
    assert found is not None and not inspect.iscoroutine(found)
    assert scope["state"]["user"].sub == "bob"
    stored = LogtoMiddleware(whoami, config=issuer.config(store=MemoryStore()))._single
    pending = stored.authenticate({**scope, "state": {}})  # type: ignore[union-attr]
    assert inspect.iscoroutine(pending)
    pending.close()


def _tampered_tail(cookie: bytes) -> bytes:
    """The same header with one ciphertext character near its end changed (past the
    22-character tag and its dot; every bit of an inner character counts): the caches'
    keys (the header's start) are the same, the value is not."""
    at = len(cookie) - 30
    assert b"." not in cookie[at:-23]
    return cookie[:at] + (b"B" if cookie[at : at + 1] != b"B" else b"C") + cookie[at + 1 :]


async def test_a_tampered_copy_of_a_remembered_cookie_is_refused() -> None:
    """A header that shares the remembered one's start but not its end is decoded afresh,
    and refused: the caches compare the whole header and the whole value."""
    config = TestIssuer().config()
    app = LogtoMiddleware(whoami, config=config)
    good = header(config, "dave")
    assert await ask(app, good) == "dave"
    assert await ask(app, _tampered_tail(good)) == "anonymous"
    assert await ask(app, good) == "dave"


async def test_another_cookies_change_still_finds_the_decoded_session() -> None:
    """A new header around the same session cookie (another cookie changed) misses the
    seen-header cache, is read again, and gives the same user; a tampered value in such a
    header is refused by the decoded-value cache's comparison."""
    config = TestIssuer().config()
    app = LogtoMiddleware(whoami, config=config)
    good = header(config, "erin")
    assert await ask(app, good) == "erin"
    assert await ask(app, b"csrf=1; " + good) == "erin"
    assert await ask(app, b"csrf=2; " + _tampered_tail(good)) == "anonymous"


async def test_our_marker_inside_another_cookie_first_does_not_confuse_the_cache() -> None:
    """The cache key starts where the cookie name first appears: a cookie whose name or
    value contains it, sent first, changes nothing but the key."""
    config = TestIssuer().config()
    app = LogtoMiddleware(whoami, config=config)
    marker = config.cookie_name
    first = f"my{marker}=1; other={marker}; ".encode()
    for sub in ("frank", "grace"):
        cookie = first + header(config, sub)
        assert await ask(app, cookie) == sub
        assert await ask(app, cookie) == sub
    assert await ask(app, first + _tampered_tail(header(config, "frank"))) == "anonymous"
