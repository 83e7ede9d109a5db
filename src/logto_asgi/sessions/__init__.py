"""Where sessions live: in cookies (default) or in a server-side store."""

from typing import TYPE_CHECKING, Any

from .base import SessionStore
from .cookie import CookieStore
from .memory import MemoryStore

if TYPE_CHECKING:
    from .postgres import PostgresStore
    from .redis import RedisStore

__all__ = ["CookieStore", "MemoryStore", "PostgresStore", "RedisStore", "SessionStore"]


def __getattr__(name: str) -> Any:
    # RedisStore and PostgresStore are imported on first use, so redis-py and psycopg are
    # needed only by those who use them.
    if name == "RedisStore":
        from .redis import RedisStore  # noqa: PLC0415 - redis-py is an optional extra

        return RedisStore
    if name == "PostgresStore":
        from .postgres import PostgresStore  # noqa: PLC0415 - psycopg is an optional extra

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
