"""The session cookie, single and chunked: raw ``Cookie`` headers through ``LogtoMiddleware``.

Input: one ``Cookie`` header per line (HTTP/2 may split them; the middleware joins them
like a browser). Each input is a whole request to an app route, so it takes the request
path itself: header join, ``parse_cookies``, the chunk join, the JWE decryption,
``Session.from_json``, the expiry and renewal checks, the user's view, and the write-back
(renewal ``Set-Cookie`` or the deletion of a stale cookie).

Allowed outcome: the app's 200, with clean headers. The session authenticator documents
no exception for a bad cookie (it is "signed out"), so any exception is a crash.

The mutator decrypts the session (with the real key), mutates the plaintext JSON and
re-encrypts it in new chunks, so ``Session.from_json`` meets hostile fields.
"""

from __future__ import annotations

import random
from typing import cast

from logto_asgi._crypto import InvalidToken, JweCodec
from logto_asgi._http import parse_cookies
from logto_asgi.sessions._backends import CookieBackend
from logto_asgi.sessions.base import CachedToken, Session
from logto_asgi.sessions.cookie import join_chunks, split_chunks

from . import _mutate
from ._fixtures import (
    API,
    COOKIE_SECRET,
    NOW,
    STATE,
    SUB,
    access_claims,
    cookie_header,
    id_claims,
    jwt,
    logto_middleware,
)
from ._harness import HarnessError, Target, http_scope, request

NAME = "logto"


def _sessions() -> dict[str, Session]:
    """Small (one cookie) and large (several chunks) sessions, fresh, due for renewal,
    idle, expired."""
    now = int(NOW)
    tokens = {
        "": CachedToken("opaque-access-token", NOW + 3600, "openid"),
        API: CachedToken(jwt(access_claims()), NOW + 3600, "read write"),
    }
    big = Session(
        jwt(id_claims()), id_claims(), "a-refresh-token", "openid profile", now, now, now + 7 * 86400, tokens
    )
    small = Session("t", {"sub": SUB}, None, "openid", now, now, now + 3600, id="small-session")
    return {
        "small": small,
        "big": big.replace(id="big-session"),
        "renew": small.replace(updated_at=now - 5000),
        "idle": small.replace(updated_at=now - 86400),
        "expired": small.replace(expires_at=now - 1),
        "refreshable": big.replace(updated_at=now - 5000, id="refreshable-session"),
    }


def _seeds(backend: CookieBackend, other_key: JweCodec) -> list[bytes]:
    sessions = _sessions()
    chunked = list(backend.cookies(sessions["big"]).items())
    single = backend.cookies(sessions["small"])
    assert len(chunked) >= 3 and list(single) == [NAME], "the seeds must be chunked and single"
    headers = [
        cookie_header(single),
        cookie_header(chunked),
        cookie_header(chunked[::-1]),
        cookie_header(chunked[:1] + chunked[2:]),  # a chunk missing
        cookie_header([*chunked, (f"{NAME}.{len(chunked)}", "junk")]),
        cookie_header([("theme", "dark"), *chunked, ("other", "x=y")]),
        cookie_header([(NAME, '"' + single[NAME] + '"')]),  # quoted
        cookie_header([*single.items(), *chunked]),  # both forms: the chunks win
        cookie_header(chunked[:2]) + "\n" + cookie_header(chunked[2:]),  # split over two headers
        cookie_header(single) + f"; {NAME}_tx.{STATE}=abc",
        cookie_header([(NAME, other_key.encrypt(sessions["small"].to_json()))]),  # another key
        f"{NAME}=; {NAME}.0=",
        f"{NAME}.01=a; {NAME}.-1=b; {NAME}.\u00b2=c",
        "",
    ]
    for name in ("renew", "idle", "expired", "refreshable"):
        headers.append(cookie_header(backend.cookies(sessions[name])))
    return [h.encode("latin-1") for h in headers]


def _ours(name: str) -> bool:
    return name == NAME or (name.startswith(f"{NAME}.") and name[len(NAME) + 1 :].isdigit())


def build() -> Target:
    middleware = logto_middleware()
    backend = cast(CookieBackend, middleware.core.backend)
    codec = JweCodec((COOKIE_SECRET,), "session cookie")
    probe = _sessions()["small"]
    if Session.from_json(codec.decrypt(backend.encode(probe))) != probe:
        raise HarnessError("fuzz/session_cookie.py's codec no longer matches the session cookie's")

    def test_one_input(data: bytes) -> None:
        headers = [(b"cookie", line) for line in data.split(b"\n")] if data else []
        answer = request(middleware, http_scope("/me", headers=headers))
        if answer.status != 200:
            raise HarnessError(f"a Cookie header changed the app's answer: HTTP {answer.status}")

    def mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        cookies = parse_cookies(data.decode("latin-1").replace("\n", "; "))
        value = join_chunks(NAME, cookies)
        if value is None or rng.random() < 0.4:
            return _mutate.raw(data, max_size)
        try:
            plain = codec.decrypt(value)
        except InvalidToken:
            return _mutate.raw(data, max_size)
        sealed = codec.encrypt(_mutate.plaintext(plain, rng, max_size))
        chunks = split_chunks(sealed, rng.choice([500, 3800, rng.randrange(1, 1200)]))
        ours = (
            [(NAME, sealed)]
            if len(chunks) == 1 and rng.random() < 0.8
            else [(f"{NAME}.{i}", chunk) for i, chunk in enumerate(chunks)]
        )
        pairs = [(k, v) for k, v in cookies.items() if not _ours(k)] + ours
        if rng.random() < 0.2:
            rng.shuffle(pairs)
        return cookie_header(pairs).encode("latin-1")[:max_size]

    other_key = JweCodec(("another-secret-" + "1" * 32,), "session cookie")
    return Target("session_cookie", test_one_input, lambda: _seeds(backend, other_key), mutator, 16384)
