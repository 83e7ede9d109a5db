"""A ``LogtoError`` answered from inside a framework's own exception handling.

Some frameworks (Litestar, Falcon) turn every exception a handler raises into their own
500 page before it can reach the middleware's boundary. Their error-handler hooks call
``answer_error``, which answers the way the engine serving the request would have: the
``ErrorResponder`` the engine records in the scope (``ERRORS_KEY``) runs the app's
``on_error`` hook, negotiates JSON or HTML, sets ``WWW-Authenticate`` and
``Retry-After``, and links a 401 to sign-in. Outside any engine the renderer answers
alone. ``redirect=True`` does what ``requires_auth(redirect=True)`` does for a signed-out
browser session: a ``303`` to sign in, coming back to the same page.

``collect_error`` is the same answer as status, headers and body, for frameworks whose
handlers fill in a response object instead of sending ASGI messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.types import Message, Receive, Scope, Send

from ._http import send_response
from ._scope_keys import session_context
from .boundary import ERRORS_KEY, ErrorRenderer, render_error, send_error
from .error_hook import ErrorResponder, sign_in_link
from .errors import LogtoError
from .guard_rules import sign_in_link as guard_sign_in_link

Headers = list[tuple[bytes, bytes]]


async def _no_body() -> Message:
    """A ``receive`` for handlers that run after the framework has read the body."""
    return {"type": "http.disconnect"}


def sign_in_redirect(scope: Scope, exc: LogtoError) -> str | None:
    """Where ``redirect=True`` sends a refused browser session (a guard's rule: a 401
    of a session that can sign in, a step-up with ``prompt=login``), else ``None``."""
    return guard_sign_in_link(scope, session_context(scope), exc)


async def answer_error(
    scope: Scope,
    receive: Receive,
    send: Send,
    exc: LogtoError,
    *,
    redirect: bool = False,
    renderer: ErrorRenderer = render_error,
) -> None:
    """Answer ``exc`` on an HTTP request as the boundary of the engine serving ``scope``
    would (``renderer`` when no engine serves it); with ``redirect``, a signed-out
    browser session is sent to sign in instead."""
    if redirect:
        location = sign_in_redirect(scope, exc)
        if location is not None:
            await send_response(send, 303, headers=[(b"location", location.encode("latin-1"))])
            return
    responder = scope.get(ERRORS_KEY)
    if isinstance(responder, ErrorResponder):
        await responder.respond(scope, receive, send, exc)
    else:
        await send_error(scope, send, exc, link=sign_in_link(scope, exc), renderer=renderer)


@dataclass
class CollectedAnswer:
    """An answer's status, headers (``content-length`` left out) and whole body."""

    status: int = 500
    headers: Headers = field(default_factory=list)
    body: bytes = b""

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"content-length"]
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")


async def collect_error(
    scope: Scope, exc: LogtoError, *, redirect: bool = False, renderer: ErrorRenderer = render_error
) -> CollectedAnswer:
    """``answer_error``'s answer, collected (the request body is not offered again)."""
    answer = CollectedAnswer()
    await answer_error(scope, _no_body, answer.send, exc, redirect=redirect, renderer=renderer)
    return answer
