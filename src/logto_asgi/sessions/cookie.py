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


def join_chunks(name: str, cookies: Mapping[str, str]) -> str | None:
    """The session value from ``name`` or from ``name.0``, ``name.1``…; ``None`` if absent.

    A gap in the numbering ends the value; what is assembled is then rejected by the
    decryption, so a missing chunk means "signed out", never a crash.
    """
    first = cookies.get(f"{name}.0")
    if first is None:
        return cookies.get(name)
    parts = [first]
    index = 1
    while (part := cookies.get(f"{name}.{index}")) is not None:
        parts.append(part)
        index += 1
        if index > 50:  # a hostile header cannot make us loop for long
            break
    return "".join(parts)


def chunk_names_present(name: str, cookies: Mapping[str, str]) -> list[str]:
    """Every cookie of ours in the request: the single one and any numbered chunk."""
    prefix = f"{name}."
    return [
        key for key in cookies if key == name or (key.startswith(prefix) and key[len(prefix) :].isdigit())
    ]
