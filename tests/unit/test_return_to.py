"""``return_to`` accepts same-origin relative paths only."""

from __future__ import annotations

import pytest

from logto_asgi.redirects import safe_return_to

HOSTILE = [
    "//evil.example",
    "//evil.example/path",
    "///evil.example",
    "https://evil.example",
    "http://evil.example/",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,hi",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "%2F%2Fevil.example",
    "/%2Fevil.example",
    "/%2F%2Fevil.example",
    "/%5Cevil.example",
    "/%252F%252Fevil.example",
    "%68ttps://evil.example",
    "/\tevil",
    "/\n/evil.example",
    "/%0a/evil.example",
    "/%09/evil.example",
    " /orders",
    "/orders\r\nSet-Cookie: x=1",
    "evil.example",
    "orders",
    "",
    "/" + "a" * 3000,
    "/\x00",
    "/\u2028evil",
]

SAFE = ["/", "/orders", "/orders?id=3&x=y", "/a/b/c#frag", "/caf%C3%A9", "/path%20with%20space"]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_refused(value: str) -> None:
    """Off-origin, scheme, backslash, control-character and encoded tricks give None."""
    assert safe_return_to(value) is None


@pytest.mark.parametrize("value", SAFE)
def test_relative_paths_are_kept(value: str) -> None:
    """Plain same-origin paths (with query and fragment) pass unchanged."""
    assert safe_return_to(value) == value


def test_none_is_none() -> None:
    """No value gives None (the configured default applies)."""
    assert safe_return_to(None) is None
