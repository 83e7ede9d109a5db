"""Where sessions live: in cookies (default) or in a server-side store."""

from .base import SessionStore
from .cookie import CookieStore
from .memory import MemoryStore

__all__ = ["CookieStore", "MemoryStore", "SessionStore"]
