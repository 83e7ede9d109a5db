"""Cookie tossing (security review, finding 3): a set of session cookies that could be
read more than one way is no session at all."""

from __future__ import annotations

import pytest

from logto_asgi._http import parse_cookies
from logto_asgi.sessions.cookie import MAX_CHUNKS, join_chunks


def read(header: str) -> str | None:
    return join_chunks("logto", parse_cookies(header))


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("logto=AAA", "AAA"),
        ("logto.0=AA; logto.1=BB; logto.2=CC", "AABBCC"),
        ("logto.2=CC; logto.0=AA; logto.1=BB", "AABBCC"),
        ("other=1; logto_tx.abc=x; logto=AAA", "AAA"),
        ("", None),
        ("logtox=1", None),
    ],
)
def test_unambiguous_sets_are_read(header: str, value: str | None) -> None:
    """One single cookie, or chunks numbered 0..n-1 in any order: read as they are."""
    assert read(header) == value


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("logto=victim; logto.0=attacker", id="single-and-chunk"),
        pytest.param("logto.0=attacker; logto=victim", id="chunk-and-single"),
        pytest.param("logto=victim; logto=attacker", id="duplicate-single"),
        pytest.param("logto.0=A; logto.1=B; logto.1=C", id="duplicate-chunk"),
        pytest.param("logto.0=A; logto.2=C", id="gap"),
        pytest.param("logto.1=B", id="stray-chunk"),
        pytest.param("logto.0=A; logto.01=B", id="non-canonical-number"),
        pytest.param("; ".join(f"logto.{i}=x" for i in range(MAX_CHUNKS + 1)), id="too-many-chunks"),
    ],
)
def test_ambiguous_sets_are_no_session(header: str) -> None:
    """Whatever the order, a set that could be read two ways reads as no session."""
    assert read(header) is None


def test_fifty_chunks_are_still_read() -> None:
    """The limit is ``MAX_CHUNKS`` chunks."""
    assert read("; ".join(f"logto.{i}=x" for i in range(MAX_CHUNKS))) == "x" * MAX_CHUNKS
