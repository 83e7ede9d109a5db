"""Where sessions live: in cookies (default) or in a server-side store."""

from typing import TYPE_CHECKING, Any

from .base import SessionStore
from .cookie import CookieStore
from .memory import MemoryStore

if TYPE_CHECKING:
    from .redis import RedisStore

__all__ = ["CookieStore", "MemoryStore", "RedisStore", "SessionStore"]


def __getattr__(name: str) -> Any:
    # RedisStore is imported on first use, so redis-py is needed only by those who use it.
    if name == "RedisStore":
        from .redis import RedisStore  # noqa: PLC0415 - redis-py is an optional extra

        return RedisStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
