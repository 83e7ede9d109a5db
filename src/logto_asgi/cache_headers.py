"""Keep shared caches (CDNs, proxies) from storing one user's session for the next.

A response to which we add a session ``Set-Cookie`` gets ``Cache-Control: private,
no-store``, merged with the app's own directives and never weakening them; a response
of a signed-in request gets ``Vary: Cookie`` (as Django does for sessions it reads), so a
cache that stores it anyway keys it by the cookie.
"""

from __future__ import annotations

from starlette.types import Message

Headers = list[tuple[bytes, bytes]]

#: Directives that would let a shared cache store the response: dropped when we add ours.
_PERMISSIVE = {"public", "s-maxage", "max-age", "immutable", "stale-while-revalidate", "stale-if-error"}
_PRIVATE = ("private", "no-store")


def _directives(headers: Headers) -> tuple[list[str], Headers]:
    """The Cache-Control directives in ``headers``, and the other headers."""
    directives: list[str] = []
    rest: Headers = []
    for name, value in headers:
        if name.lower() == b"cache-control":
            directives.extend(part.strip() for part in value.decode("latin-1").split(",") if part.strip())
        else:
            rest.append((name, value))
    return directives, rest


def private_no_store(message: Message) -> None:
    """``Cache-Control: private, no-store`` on ``message``, keeping the app's stricter
    directives (``no-cache``, ``must-revalidate``…) and dropping the ones that allow a
    shared cache to keep it."""
    directives, rest = _directives(list(message.get("headers", ())))
    kept = [d for d in directives if d.split("=", 1)[0].strip().lower() not in {*_PERMISSIVE, *_PRIVATE}]
    value = ", ".join([*_PRIVATE, *kept])
    message["headers"] = [*rest, (b"cache-control", value.encode("latin-1"))]


_VARY_COOKIE = (b"vary", b"Cookie")


def vary_cookie(message: Message) -> None:
    """``Vary: Cookie`` on ``message``, merged with the app's ``Vary`` (``*`` is kept)."""
    headers: Headers = list(message.get("headers", ()))
    for name, _ in headers:
        if len(name) == 4 and name.lower() == b"vary":  # (the length first: no copy per name)
            break
    else:  # the common case: the app sent no Vary of its own
        headers.append(_VARY_COOKIE)
        message["headers"] = headers
        return
    values = [value.decode("latin-1") for name, value in headers if name.lower() == b"vary"]
    fields = [part.strip() for value in values for part in value.split(",") if part.strip()]
    if "*" in fields or any(field.lower() == "cookie" for field in fields):
        return
    rest = [(name, value) for name, value in headers if name.lower() != b"vary"]
    message["headers"] = [*rest, (b"vary", ", ".join([*fields, "Cookie"]).encode("latin-1"))]


def sets_cookie(headers: Headers) -> bool:
    return any(name == b"set-cookie" for name, _ in headers)
