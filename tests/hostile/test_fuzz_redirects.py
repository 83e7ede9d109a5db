"""Properties of the sign-in and callback routes at the ASGI surface.

Arbitrary ``return_to`` values — percent-encoded, backslashes, unicode look-alikes,
control characters, absolute and scheme-relative URLs — never make the app redirect
off-origin: /sign-in goes to the provider's authorization endpoint, the callback to a
relative same-origin path. Arbitrary callback query strings never sign anyone in and
never echo markup. Never a 500, never CR/LF in a response header.

Each example runs on its own event loop (``anyio.run``) against a fresh middleware.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import anyio
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hostile.inprocess import (
    AUTHORIZE,
    Answer,
    assert_clean_headers,
    browser_target,
    call,
    logto_app,
    session_cookies,
)
from logto_asgi import LogtoMiddleware
from support.app import APP_ORIGIN

FUZZ = settings(max_examples=150, deadline=None)
PIECES = [
    *("/", "//", "\\", "/\\", "\\\\", ".", "..", "~", "@", ":", "?", "#", "&", "=", "%", " "),
    *("%2F", "%2f", "%5C", "%252F", "%25252F", "%09", "%0A", "%0D", "%0d%0a", "%00", "%E2%80%A8", "%"),
    *("\t", "\n", "\r", "\x00", "\x0b", "\x7f", "\x85", "\u2028", "\u202e", "\ufeff"),
    *("\uff0f", "\uff3c", "\u2215", "\u2044", "\u3002", "\u00e9", "\u65e5\u672c", "\U0001f600"),
    *("evil.com", "http:", "https://evil.com", "javascript:alert(1)", "data:text/html,x", "orders", "a"),
    *("<x-evil>", "Set-Cookie: x=1"),
]
RETURN_TO = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=8).map("".join),
    st.lists(st.sampled_from(PIECES), max_size=6).map(lambda p: "/" + "".join(p)),
    st.text(max_size=40),
    st.text(max_size=40).map(lambda s: "/" + s),
)
SIGN_IN_EXTRAS = st.dictionaries(
    st.sampled_from(["interaction_mode", "first_screen", "login_hint", "direct_sign_in", "prompt", "scope"]),
    st.one_of(st.sampled_from(PIECES), st.text(max_size=30), st.just("signUp"), st.just("social:google")),
    max_size=3,
)


def relative_same_origin(location: str) -> None:
    assert location.isascii() and location.isprintable(), location
    assert location.startswith("/") and not location.startswith("//"), location
    assert "\\" not in location, location
    assert browser_target(location) == ("http", "app.test"), location


async def sign_in(app: LogtoMiddleware, query: bytes) -> tuple[Answer, str, str, tuple[str, str]]:
    """/sign-in with ``query``; the answer, its state and nonce, and the transaction cookie."""
    answer = await call(app, "/sign-in", query=query)
    assert_clean_headers(answer)
    assert answer.status == 302, answer.body
    location = answer.header(b"location") or ""
    assert location.startswith(AUTHORIZE + "?"), location
    params = parse_qs(urlsplit(location).query)
    assert params["redirect_uri"] == [f"{APP_ORIGIN}/callback"]
    cookie = answer.header_list(b"set-cookie")[0].split(";", 1)[0]
    name, _, value = cookie.partition("=")
    return answer, params["state"][0], params["nonce"][0], (name, value)


@FUZZ
@given(return_to=RETURN_TO, extras=SIGN_IN_EXTRAS, raw=st.booleans())
@example(return_to="/\u65e5\u672c?q=\u00e9", extras={}, raw=False)
@example(return_to="/\u00a1", extras={}, raw=True)
@example(return_to="/%2F%2Fevil.com", extras={}, raw=True)
@example(return_to="/\\evil.com", extras={}, raw=False)
def test_return_to_never_redirects_off_origin(return_to: str, extras: dict[str, str], raw: bool) -> None:
    """Any return_to, encoded or raw: sign-in goes to the provider, the callback stays on the app."""

    async def run() -> None:
        app = logto_app()
        encoded = urlencode(extras).encode()
        value = return_to.encode("utf-8") if raw else quote(return_to, safe="").encode()
        query = b"&".join(part for part in (b"return_to=" + value, encoded) if part)
        _, state, nonce, (name, tx) = await sign_in(app, query)
        answer = await call(
            app,
            "/callback",
            query=urlencode({"code": f"good.{nonce}", "state": state}).encode(),
            headers=[(b"cookie", f"{name}={tx}".encode())],
        )
        assert_clean_headers(answer)
        assert answer.status == 302, answer.body
        assert session_cookies(answer)
        relative_same_origin(answer.header(b"location") or "")

    anyio.run(run)


QUERY_KEYS = st.sampled_from(["code", "state", "error", "error_description", "iss", "session_state", "x"])
QUERY_VALUES = st.one_of(
    st.sampled_from(PIECES),
    st.text(max_size=60),
    st.just("{state}"),
    st.just("good.{nonce}"),
    st.text(max_size=20).map(lambda s: f"<x-evil>{s}</x-evil>"),
)
QUERY_STRINGS = st.one_of(
    st.binary(max_size=300),
    st.lists(st.tuples(QUERY_KEYS, QUERY_VALUES), max_size=6).map(lambda pairs: urlencode(pairs).encode()),
    st.lists(st.tuples(QUERY_KEYS, QUERY_VALUES), max_size=6).map(
        lambda pairs: "&".join(f"{k}={v}" for k, v in pairs).encode("utf-8")
    ),
)


@FUZZ
@given(query=QUERY_STRINGS, with_transaction=st.booleans(), wants_json=st.booleans())
def test_arbitrary_callback_queries_never_sign_in(
    query: bytes, with_transaction: bool, wants_json: bool
) -> None:
    """Any callback query string, pending sign-in or not: a 400, no session, no raw markup in HTML."""

    async def run() -> None:
        app = logto_app()
        _, state, nonce, (name, tx) = await sign_in(app, b"")
        filled = query.replace(b"{state}", state.encode()).replace(b"{nonce}", b"forged-" + nonce.encode())
        headers = [(b"accept", b"application/json" if wants_json else b"text/html")]
        if with_transaction:
            headers.append((b"cookie", f"{name}={tx}".encode()))
        answer = await call(app, "/callback", query=filled, headers=headers)
        assert_clean_headers(answer)
        assert answer.status == 400, answer.body
        assert session_cookies(answer) == [] and answer.header(b"location") is None
        if wants_json:
            assert answer.header(b"content-type") == "application/json"
            assert set(json.loads(answer.body)) == {"error", "error_description"}
        else:
            assert (answer.header(b"content-type") or "").startswith("text/html")
            assert b"<x-evil" not in answer.body

    anyio.run(run)
