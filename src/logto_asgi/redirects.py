"""Where the middleware may send a browser: same-origin targets only.

``return_to`` (from the sign-in link) and the configured ``post_sign_in_redirect`` /
``post_sign_out_redirect`` follow the same rules, so no value can become an open redirect.
"""

from __future__ import annotations

import string
from urllib.parse import quote, unquote, urlsplit

from starlette.types import Scope

__all__ = ["safe_return_to", "same_origin_target"]

_MAX_RETURN_TO = 2048
#: Kept as is when percent-encoding a non-ASCII return_to: every printable ASCII but space.
_ASCII_PRINTABLE = string.ascii_letters + string.digits + string.punctuation


def safe_return_to(value: str | None) -> str | None:
    """``value`` if it is a same-origin relative path, else ``None``.

    Refused: absolute and scheme-relative URLs (``//evil``), backslashes (browsers read
    ``/\\evil`` as ``//evil``), control characters and whitespace, and the same tricks
    hidden behind percent-encoding. Non-ASCII characters come back percent-encoded (UTF-8),
    as a browser would send them: a ``Location`` header is ASCII.
    """
    # isprintable() refuses every control character and every whitespace but the space.
    if not value or len(value) > _MAX_RETURN_TO or not value.isprintable() or " " in value:
        return None
    decoded = value
    for _ in range(3):  # undo nested encodings such as %252F
        step = unquote(decoded)
        if step == decoded:
            break
        decoded = step
    for candidate in (value, decoded):
        if not candidate.startswith("/") or candidate.startswith("//"):
            return None
        if "\\" in candidate or any(ord(c) < 0x20 or ord(c) == 0x7F for c in candidate):
            return None
    return value if value.isascii() else quote(value, safe=_ASCII_PRINTABLE)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin_target(value: str, base_url: str | None) -> str | None:
    """Why ``value`` may not be a configured redirect, or ``None`` when it may: a relative
    path by ``return_to``'s rules, or an absolute URL on ``base_url``'s origin."""
    if value.startswith("/"):
        return None if safe_return_to(value) == value else "must be a same-origin path such as '/'"
    if base_url is None:
        return "must be a path such as '/' (an absolute URL needs base_url, on its origin)"
    parts = urlsplit(value)
    path = parts.path or "/"
    if origin_of(value) != origin_of(base_url) or parts.username is not None or parts.password is not None:
        return f"must be on the app's own origin {origin_of(base_url)!r}"
    target = path + (f"?{parts.query}" if parts.query else "")
    return None if safe_return_to(target) == target else "must be a same-origin URL without tricks"


def request_target(scope: Scope) -> str:
    """The path and query of the request, as sent (for ``return_to``)."""
    raw = scope.get("raw_path")
    if isinstance(raw, bytes) and raw.startswith(b"/"):
        path = raw.split(b"?", 1)[0].decode("latin-1")
    else:
        path = quote(scope.get("path") or "/")
    query = scope.get("query_string") or b""
    return f"{path}?{query.decode('latin-1')}" if query else path
