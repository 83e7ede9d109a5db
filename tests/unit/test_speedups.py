"""The optional C decoders (``logto-asgi[speedups]``): the same answers as the standard
library, and the standard library when they are off or missing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from logto_asgi import LogtoMiddleware, _json, _speedups
from logto_asgi._crypto import InvalidToken, JweCodec, b64url_decode, b64url_encode
from logto_asgi.sessions.base import CachedToken, Session
from logto_asgi.testing import TestIssuer, signed_in_cookies


@pytest.fixture(params=[True, False], ids=["speedups", "stdlib"])
def mode(request: pytest.FixtureRequest) -> Iterator[bool]:
    _speedups.use(request.param)
    try:
        yield request.param
    finally:
        _speedups.use(True)


def _decoded(data: str) -> bytes | None:
    try:
        return b64url_decode(data)
    except InvalidToken:
        return None


def test_the_test_environment_runs_the_fast_decoders() -> None:
    """The dev dependencies install the extra, so the suite exercises the fast path."""
    assert _speedups.available() == {"pybase64": True, "orjson": True}
    assert _speedups.enabled() == {"pybase64": True, "orjson": True}


def test_use_false_turns_both_off_and_true_back_on() -> None:
    _speedups.use(False)
    try:
        assert _speedups.enabled() == {"pybase64": False, "orjson": False}
    finally:
        _speedups.use(True)
    assert _speedups.enabled() == {"pybase64": True, "orjson": True}


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/= \n.ä"


#: Short strings (an IV, a tag: the standard library decodes them either way) and long
#: ones (a ciphertext: pybase64 when the speedups are on), hostile bytes anywhere.
_B64_INPUTS = st.text(alphabet=_ALPHABET, max_size=40) | st.builds(
    lambda head, tail: head + tail,
    st.text(alphabet=_ALPHABET, min_size=256, max_size=300),
    st.text(alphabet=_ALPHABET, max_size=8),
)


@given(_B64_INPUTS)
def test_both_base64_decoders_accept_and_refuse_the_same_strings(data: str) -> None:
    _speedups.use(False)
    try:
        slow = _decoded(data)
    finally:
        _speedups.use(True)
    assert _decoded(data) == slow


@pytest.mark.parametrize("long", [False, True], ids=["short", "long"])
@pytest.mark.parametrize("data", ["QQ==", "QQ=", "Q", "ab+/", "ab cd", "abcd\n", "äb", "QR", "Q=Q="])
def test_refusals_hold_in_both_modes(mode: bool, data: str, long: bool) -> None:
    # (long: after 300 good characters, past the length from which pybase64 decodes)
    head = "A" * 300 if long else ""
    # (QR: unused bits set; both decoders ignore them, as RFC 4648 allows; the JWE tag
    # still authenticates the bytes)
    if data == "QR":
        assert b64url_decode(head + data) == bytes(225) + b"A" if long else b"A"
        return
    with pytest.raises(InvalidToken):
        b64url_decode(head + data)


@pytest.mark.parametrize("raw", [b"", b"\x00", bytes(range(256)), b"x" * 3001])
def test_round_trips_in_both_modes(mode: bool, raw: bytes) -> None:
    assert b64url_decode(b64url_encode(raw)) == raw
    codec = JweCodec(["s" * 32], "test")
    assert codec.decrypt(codec.encrypt(raw)) == raw


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@given(_json_values)
def test_sealed_json_reads_what_the_strict_parser_reads(value: Any) -> None:
    """Including lone surrogates (json.dumps writes them as escapes; orjson refuses those
    and the strict parser decides)."""
    raw = json.dumps(value).encode()
    assert _speedups.loads_sealed(raw) == _json.loads(raw)


def _session(**claims: Any) -> Session:
    tokens = {"": CachedToken("opaque", 2000.0, "openid"), "https://api": CachedToken("jwt", 3000.0, "read")}
    return Session(
        "id.token.x", {"sub": "u", **claims}, "refresh", "openid profile", 1000, 1000, 5000, tokens
    )


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {"name": "Ada \ud800 Lovelace"},  # a lone surrogate a provider sent in a claim
        {"nested": {"roles": ["a", "b"], "n": 2**53, "f": 0.5}},
    ],
    ids=["plain", "lone-surrogate", "nested"],
)
def test_a_session_reads_back_equal_in_both_modes(mode: bool, claims: dict[str, Any]) -> None:
    session = _session(**claims).replace(app_data={"cart": [1, 2]})
    assert Session.from_json(session.to_json()) == session


@pytest.mark.parametrize(
    "change",
    [
        {"c": [["sub", "u"]]},
        {"c": {"sub": 5}},
        {"r": 5},
        {"d": []},
        {"v": 2},
        {"t": [1, 2]},
        {"t": [1, 2, 1e308 * 10]},
        {"a": {"": ["t", "soon", "s"]}},
    ],
    ids=["claims-list", "sub-int", "refresh-int", "data-list", "version", "times", "huge-time", "token-exp"],
)
def test_a_malformed_session_is_refused_in_both_modes(mode: bool, change: dict[str, Any]) -> None:
    data = {**json.loads(_session().to_json()), **change}
    # (json.dumps writes 1e309 as Infinity: both parsers refuse it)
    with pytest.raises(ValueError, match="malformed session"):
        Session.from_json(json.dumps(data).encode())


@pytest.mark.anyio
async def test_the_middleware_reads_a_session_cookie_in_both_modes(mode: bool) -> None:
    config = TestIssuer().config()

    async def me(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.state.user.sub if request.state.user else None})

    app = LogtoMiddleware(Starlette(routes=[Route("/me", me)]), config=config)
    cookies = signed_in_cookies(config, claims={"sub": "user-7", "name": "Ada \ud800"})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://app.test"
    ) as client:
        client.cookies.update(cookies)
        assert (await client.get("/me")).json() == {"sub": "user-7"}
        client.cookies.clear()
        client.cookies.update({name: value[:-2] + "AA" for name, value in cookies.items()})
        assert (await client.get("/me")).json() == {"sub": None}
