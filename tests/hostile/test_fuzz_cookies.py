"""Properties of the session cookie parser at the ASGI surface.

Chunk sets built from a real session cookie — truncated, mutated, reordered, duplicated,
missing, swapped, padded past the size limit — sign the request in exactly when the
chunks still assemble into the genuine value; arbitrary Cookie headers never do. Never
a 500, never a session cookie set from forged input, never CR/LF in a response header.

Each example runs on its own event loop (``anyio.run``) against a fresh middleware.
"""

from __future__ import annotations

import json
import string

import anyio
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from hostile.inprocess import assert_clean_headers, call, genuine_cookies, logto_app, session_cookies
from logto_asgi import MemoryStore

FUZZ = settings(max_examples=150, deadline=None)
#: Characters a cookie value can carry without changing how the header splits.
VALUE_CHARS = string.ascii_letters + string.digits + "-_.~!#$%&'()*+/:<>?@[]^`{|}="
MAX_COOKIE_HEADER = 64 * 1024
GENUINE = genuine_cookies(logto_app())
CHUNKS = [value for _, value in GENUINE]
WHOLE = "".join(CHUNKS)
assert len(CHUNKS) >= 3 and GENUINE[0][0] == "logto.0"


def me(header: bytes, **overrides: object) -> tuple[int, dict[str, object], list[str], object]:
    """GET /me with ``header`` as the Cookie header: status, body, session cookies set, answer."""

    async def run() -> tuple[int, dict[str, object], list[str], object]:
        app = logto_app(**overrides)
        answer = await call(app, "/me", headers=[(b"cookie", header)])
        assert_clean_headers(answer)
        return answer.status, json.loads(answer.body), session_cookies(answer), answer

    return anyio.run(run)


def mutations(value: str) -> st.SearchStrategy[str]:
    """Truncated, one character changed, doubled, or garbage."""
    return st.one_of(
        st.integers(0, len(value) - 1).map(lambda i: value[:i]),
        st.integers(0, len(value) - 1).map(
            lambda i: value[:i] + ("A" if value[i] != "A" else "B") + value[i + 1 :]
        ),
        st.just(value + value),
        st.text(VALUE_CHARS, max_size=120),
    )


@st.composite
def chunk_sets(draw: st.DrawFn) -> list[tuple[str, str]]:
    """The genuine chunks, each kept, dropped, mutated or swapped; extra and duplicated
    cookies; any order; sometimes padded past the Cookie header limit."""
    n = len(CHUNKS)
    pairs: list[tuple[str, str]] = []
    for i, chunk in enumerate(CHUNKS):
        op = draw(st.sampled_from(["keep", "keep", "keep", "keep", "drop", "mutate", "swap"]))
        if op == "keep":
            pairs.append((f"logto.{i}", chunk))
        elif op == "mutate":
            pairs.append((f"logto.{i}", draw(mutations(chunk))))
        elif op == "swap":
            pairs.append((f"logto.{i}", draw(st.sampled_from(CHUNKS))))
    extra_names = ["logto", f"logto.{n}", f"logto.{n + 1}", "logto.50", "logto.-1", "logto.01", "LOGTO.0"]
    extra_values = st.one_of(st.sampled_from(CHUNKS), st.just(WHOLE), st.text(VALUE_CHARS, max_size=80))
    pairs += draw(st.lists(st.tuples(st.sampled_from(extra_names), extra_values), max_size=3))
    if pairs:
        pairs += draw(st.lists(st.sampled_from(pairs), max_size=3))
    pairs = list(draw(st.permutations(pairs)))
    padding = draw(st.sampled_from([0, 0, 0, 3000, MAX_COOKIE_HEADER]))
    if padding:
        pairs.append(("padding", "p" * padding))
    return pairs


def assembled(pairs: list[tuple[str, str]]) -> str | None:
    """What the chunk format says the session value is: ``logto`` alone, or exactly
    ``logto.0`` … ``logto.{n-1}``; anything ambiguous (a name twice, both forms, a gap or
    a stray chunk) is no session (cookie tossing)."""
    ours = [
        (name, value)
        for name, value in pairs
        if name == "logto" or (name.startswith("logto.") and name[6:].isascii() and name[6:].isdigit())
    ]
    names = [name for name, _ in ours]
    if not ours or len(set(names)) != len(names):
        return None
    values = dict(ours)
    if names == ["logto"]:
        return values["logto"]
    expected = {f"logto.{i}" for i in range(len(names))}
    if set(names) != expected or len(names) > 50:
        return None
    return "".join(values[f"logto.{i}"] for i in range(len(names)))


def test_genuine_chunks_sign_in_in_any_order() -> None:
    """Control: the genuine chunk set, in either order, is a session."""
    for order in (GENUINE, GENUINE[::-1]):
        status, body, _, _ = me("; ".join(f"{k}={v}" for k, v in order).encode())
        assert status == 200 and body == {"sub": "user-1"}


@FUZZ
@given(pairs=chunk_sets())
def test_chunk_sets_sign_in_only_when_genuine(pairs: list[tuple[str, str]]) -> None:
    """Mangled chunk sets of a real cookie: a session only if the chunks still assemble to it."""
    header = "; ".join(f"{k}={v}" for k, v in pairs)
    expected = len(header) <= MAX_COOKIE_HEADER and assembled(pairs) == WHOLE
    event("genuine" if expected else "forged")
    status, body, set_sessions, _ = me(header.encode())
    assert status == 200
    assert body == {"sub": "user-1" if expected else None}
    assert set_sessions == []


COOKIE_NAMES = st.one_of(
    st.sampled_from(["logto", "logto.0", "logto.1", "logto.2", "logto.\u00b2", "logto_tx."]),
    st.text(st.characters(max_codepoint=0xFF, exclude_characters=";="), max_size=20),
    st.text(st.characters(max_codepoint=0xFF, exclude_characters=";="), max_size=60).map(
        lambda s: "logto_tx." + s
    ),
    # Header-splitting material, dense enough to be found in a few examples.
    st.text(st.sampled_from('aZ09_-\r\n\x00\t ,\x7f\xff"<>'), min_size=1, max_size=50),
)
LATIN1_VALUES = st.text(st.characters(max_codepoint=0xFF, exclude_characters=";"), max_size=200)
COOKIE_HEADERS = st.one_of(
    st.binary(max_size=2000),
    st.lists(st.tuples(COOKIE_NAMES, LATIN1_VALUES), max_size=12).map(
        lambda pairs: "; ".join(f"{k}={v}" for k, v in pairs).encode("latin-1")
    ),
    # More pending sign-ins than allowed: /sign-in deletes the surplus, echoing names.
    st.lists(
        st.tuples(COOKIE_NAMES.map(lambda s: "logto_tx." + s), LATIN1_VALUES), min_size=5, max_size=9
    ).map(lambda pairs: "; ".join(f"{k}={v}" for k, v in pairs).encode("latin-1")),
)


@FUZZ
@given(raw=COOKIE_HEADERS)
@example(raw=b"; ".join(b"logto_tx.a%d\r\nX-Evil: 1=v" % i for i in range(6)))
def test_arbitrary_cookie_headers_never_crash_or_sign_in(raw: bytes) -> None:
    """Arbitrary Cookie headers on every route: no 500, no session, no CR/LF echoed."""

    async def run() -> None:
        app = logto_app()
        headers = [(b"cookie", raw)]
        me = await call(app, "/me", headers=headers)
        assert me.status == 200 and json.loads(me.body) == {"sub": None}
        for path in ("/me", "/sign-in", "/callback", "/sign-out"):
            answer = await call(app, path, headers=headers, query=b"state=" + b"s" * 43 + b"&code=c")
            assert answer.status < 500, (path, answer.body)
            assert session_cookies(answer) == []
            assert_clean_headers(answer)

    anyio.run(run)


@FUZZ
@given(value=st.text(st.characters(max_codepoint=0xFF, exclude_characters=";"), max_size=300))
def test_arbitrary_session_ids_never_sign_in_with_a_store(value: str) -> None:
    """With a server-side store, any forged session id cookie is signed out, never a 500."""
    status, body, set_sessions, _ = me(f"logto={value}".encode("latin-1"), store=MemoryStore())
    assert status == 200 and body == {"sub": None} and set_sessions == []
