"""Logout CSRF: only the app's own pages may sign a user out with one request.

A cross-site page could otherwise end the user's session here and at the provider with a
link or an image (``GET /sign-out``). A request counts as the app's own when Fetch
Metadata says ``same-origin`` or ``none`` (typed in, bookmarked), or — for browsers
without it — when ``Origin`` or ``Referer`` is the app's origin. Anything else that
would end a session gets a small confirmation page whose button POSTs a token bound to
the session (HMAC of its id), so only a page that can read ours can submit it.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from starlette.types import Receive, Scope

from ._crypto import Signer
from ._http import header
from .messages import DEFAULT_MESSAGES, Messages, sign_out_page

__all__ = ["MAX_FORM", "PAGE_HEADERS", "SignOutGuard", "read_form", "same_origin_request"]

#: The confirmation form has one field: anything larger is not ours.
MAX_FORM = 4096
_FIELD = "csrf_token"


#: The page must not be framed (a click-jacked "Sign out" button is logout CSRF again).
PAGE_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin_request(scope: Scope, own_origin: str) -> bool:
    """Whether the browser says the request comes from the app's own pages (or from the
    user: the address bar, a bookmark)."""
    site = header(scope, b"sec-fetch-site")
    if site is not None:
        return site.strip().lower() in ("same-origin", "none")
    origin = header(scope, b"origin")
    if origin is not None:
        return _origin(origin.strip()) == own_origin.lower()
    referer = header(scope, b"referer")
    return referer is not None and _origin(referer.strip()) == own_origin.lower()


async def read_form(receive: Receive, limit: int = MAX_FORM) -> dict[str, str]:
    """A small urlencoded body as a dict; empty when it is larger than ``limit``, not
    ASCII or the client went away."""
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return {}
        body += message.get("body", b"")
        if len(body) > limit:
            return {}
        if not message.get("more_body", False):
            break
    try:
        return dict(parse_qsl(body.decode("ascii"), keep_blank_values=True, max_num_fields=8))
    except (UnicodeDecodeError, ValueError):
        return {}


class SignOutGuard:
    """Tokens for the confirmation form, bound to one session."""

    __slots__ = ("_messages", "_signer")

    def __init__(self, secrets: tuple[str, ...], messages: Messages = DEFAULT_MESSAGES) -> None:
        self._messages = messages
        self._signer = Signer(secrets, "sign-out confirmation")

    def token(self, session_id: str) -> str:
        return self._signer.mac(session_id)

    def confirmed(self, session_id: str, form: dict[str, str]) -> bool:
        """Whether ``form`` carries the token of ``session_id``."""
        token = form.get(_FIELD)
        return bool(token) and self._signer.verify(session_id, str(token))

    def page(self, session_id: str, *, action: str, cancel: str) -> bytes:
        """The confirmation page, in the configured ``messages``."""
        return sign_out_page(
            self._messages, action=action, name=_FIELD, token=self.token(session_id), cancel=cancel
        )
