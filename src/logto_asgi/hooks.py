"""Hooks: the app's code at sign-in and sign-out (``LogtoConfig(on_sign_in=..., on_sign_out=...)``).

``on_sign_in(event)`` runs after the ID token is validated and before the session is
written, once per sign-in (however many duplicates of the callback arrive). It sees the
claims, the granted scopes and where the user goes next; it may create or update the
user's row, change ``event.return_to`` (same-origin rules apply), keep a little JSON in
``event.data`` (stored in the session, at most ``MAX_APP_DATA`` bytes; read back as
``request.state.logto.app_data``), or refuse the sign-in with ``event.refuse(reason)``
(a 403 page saying the reason, no session, the new refresh token revoked).

``on_sign_out(event)`` runs when a session ends: the user's sign-out, or a back- or
front-channel logout from the provider (``event.reason``). It cannot stop a sign-out.

Hooks may be plain or ``async`` functions. An exception in ``on_sign_in`` is logged with
its traceback and answered with a plain 500 page (``HookFailed``): no session is written.
An exception in ``on_sign_out`` is logged; the session has ended anyway.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Literal, NoReturn, TypeVar

from .errors import AccessDenied, LogtoError
from .models import IdTokenClaims
from .redirects import safe_return_to
from .sessions.base import Session

__all__ = [
    "MAX_APP_DATA",
    "HookFailed",
    "SignInEvent",
    "SignInHook",
    "SignInRefused",
    "SignOutEvent",
    "SignOutHook",
    "run_hook",
    "signed_out",
]

logger = logging.getLogger("logto_asgi")

#: The largest ``event.data`` a session may carry, as compact JSON (cookie sessions carry
#: it in every request's cookie).
MAX_APP_DATA = 4096
#: The longest refusal reason shown.
MAX_REASON = 200

E = TypeVar("E")


class SignInRefused(AccessDenied):
    """``on_sign_in`` refused the sign-in (``event.refuse(reason)``): 403, no session."""

    error = "sign_in_refused"


class HookFailed(LogtoError):
    """A hook raised: a plain 500 page; the traceback is in the log, not the page."""

    status_code: ClassVar[int] = 500
    error = "hook_failed"


@dataclass
class SignInEvent:
    """What ``on_sign_in`` sees and may change."""

    #: The validated ID token claims.
    claims: IdTokenClaims
    #: The scopes the provider granted.
    scopes: frozenset[str]
    #: Where the browser goes after the sign-in (a same-origin path); may be changed.
    return_to: str
    #: JSON-serialisable app data kept in the session (at most ``MAX_APP_DATA`` bytes).
    data: dict[str, Any] = field(default_factory=dict)

    def refuse(self, reason: str = "This account may not sign in here.") -> NoReturn:
        """Refuse the sign-in: the user sees ``reason`` on a 403 page, no session is made."""
        raise SignInRefused(str(reason)[:MAX_REASON])


@dataclass(frozen=True)
class SignOutEvent:
    """What ``on_sign_out`` sees: whose session ended, its app data, and why."""

    claims: IdTokenClaims
    data: Mapping[str, Any]
    reason: Literal["sign_out", "backchannel", "frontchannel"]


SignInHook = Callable[[SignInEvent], "Awaitable[None] | None"]
SignOutHook = Callable[[SignOutEvent], "Awaitable[None] | None"]


async def run_hook(name: str, hook: Callable[[E], Any], event: E) -> None:
    """Call ``hook(event)``, awaiting it if it is async; anything it raises but a
    ``SignInRefused`` becomes ``HookFailed`` (logged with its traceback)."""
    try:
        result = hook(event)
        if inspect.isawaitable(result):
            await result
    except SignInRefused:
        raise
    except Exception as exc:
        logger.exception("the %s hook raised %s", name, type(exc).__name__)
        raise HookFailed(f"the application's {name} hook failed") from exc


def checked_sign_in(event: SignInEvent, fallback: str) -> tuple[str, dict[str, Any]]:
    """``event``'s ``return_to`` (same-origin, else ``fallback``) and its data, checked to
    be a small JSON object; ``HookFailed`` otherwise."""
    return_to = safe_return_to(event.return_to) or fallback
    if not isinstance(event.data, dict):
        raise HookFailed("on_sign_in: event.data must be a dict")
    try:
        size = len(json.dumps(event.data, separators=(",", ":"), allow_nan=False).encode())
    except (TypeError, ValueError) as exc:
        raise HookFailed("on_sign_in: event.data must be JSON-serialisable") from exc
    if size > MAX_APP_DATA:
        raise HookFailed(f"on_sign_in: event.data is {size} bytes of JSON, more than {MAX_APP_DATA}")
    return return_to, event.data


async def signed_out(
    hook: SignOutHook | None, session: Session, reason: Literal["sign_out", "backchannel", "frontchannel"]
) -> None:
    """Tell ``on_sign_out`` that ``session`` ended; its failure is logged, nothing more
    (the session has ended whatever the hook does)."""
    if hook is None:
        return
    event = SignOutEvent(IdTokenClaims(session.claims), MappingProxyType(dict(session.app_data)), reason)
    try:
        await run_hook("on_sign_out", hook, event)
    except LogtoError:
        pass  # logged with its traceback by run_hook
