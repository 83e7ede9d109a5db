"""Keys the engine records in an ASGI scope for the code running inside it."""

from __future__ import annotations

from typing import Any

from starlette.types import Scope

#: The session middleware's ``LogtoContext`` (whoever else authenticated the request).
SESSION = "logto_asgi.session"


def session_context(scope: Scope) -> Any:
    """The session context recorded for ``scope`` (``None`` without a session middleware)."""
    return scope.get(SESSION)
