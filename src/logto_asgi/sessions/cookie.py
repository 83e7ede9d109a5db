"""``CookieStore``: the whole session, encrypted, in the browser's cookies.

The session is a compact JWE. Browsers drop a ``Set-Cookie`` whose name and value exceed
4,096 bytes — silently, keeping the *old* cookie, which with rotating refresh tokens would
replay a consumed token and get the user's grant revoked. So a session larger than one
cookie is split into ``name.0``, ``name.1``, … and stale chunks are deleted when it
shrinks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .._http import RequestCookies, duplicated
from ..errors import ConfigurationError

__all__ = ["CookieStore"]

# Room left for the name and the attributes (Path, Domain, Max-Age, flags) in 4,096 bytes.
_COOKIE_BUDGET = 4096


@dataclass(frozen=True, slots=True, kw_only=True)
class CookieStore:
    """Keep the session in encrypted, chunked cookies (the default; no server state).

    ``chunk_size`` is the largest cookie value written; keep it under about 4,000 bytes.
    """

    chunk_size: int = 3800

    def __post_init__(self) -> None:
        if not 500 <= self.chunk_size <= _COOKIE_BUDGET - 100:
            raise ConfigurationError("store.chunk_size", "must be between 500 and 3996 bytes")


def split_chunks(value: str, size: int) -> list[str]:
    return [value[i : i + size] for i in range(0, len(value), size)] or [""]


#: More chunks than any session we write (a hostile header cannot make us loop for long).
MAX_CHUNKS = 50


def join_chunks(name: str, cookies: Mapping[str, str]) -> str | None:
    """The session value of ``cookies`` (see ``_join``), assembled once per parsed header."""
    memo = cookies.joined if isinstance(cookies, RequestCookies) else None
    if memo is not None and name in memo:
        return memo[name]
    value = _join(name, cookies)
    if memo is not None:
        memo[name] = value
    return value


def _join(name: str, cookies: Mapping[str, str]) -> str | None:
    """The session value from ``name`` or from ``name.0``, ``name.1``…; ``None`` when
    there is none, or when the set is ambiguous.

    Ambiguous — a sibling subdomain may have added cookies of these names for the parent
    domain ("cookie tossing"), so no reading of it can be trusted: a name sent twice, the
    single form and chunks together, a gap or a stray chunk in the numbering, numbers
    written in another form (``name.01``), more than ``MAX_CHUNKS``. Chunks of different
    sessions fail the decryption. Each of these reads as no session (and is cleared).
    """
    names = chunk_names_present(name, cookies)
    if not names or any(duplicated(cookies, each) for each in names):
        return None
    if names == [name]:
        return cookies[name]
    prefix = len(name) + 1
    numbers = sorted(int(each[prefix:]) for each in names if each != name)
    if len(numbers) != len(names) or numbers != list(range(len(numbers))) or len(numbers) > MAX_CHUNKS:
        return None
    if any(each != f"{name}.{int(each[prefix:])}" for each in names):
        return None
    return "".join(cookies[f"{name}.{index}"] for index in numbers)


def chunk_names_present(name: str, cookies: Mapping[str, str]) -> list[str]:
    """Every cookie of ours in the request: the single one and any numbered chunk."""
    prefix = f"{name}."
    return [
        key
        for key in cookies
        if key == name
        or (key.startswith(prefix) and key[len(prefix) :].isdigit() and key[len(prefix) :].isascii())
    ]
