"""Logout CSRF: only the app's own pages may sign a user out with one request.

A cross-site page could otherwise end the user's session here and at the provider with a
link or an image (``GET /sign-out``). A request counts as the app's own when Fetch
Metadata says ``same-origin`` or ``none`` (typed in, bookmarked), or — for browsers
without it — when ``Origin`` or ``Referer`` is the app's origin. Anything else that
would end a session gets a small confirmation page whose button POSTs a token bound to
the session (HMAC of its id), so only a page that can read ours can submit it.
"""

from __future__ import annotations

import html
from urllib.parse import parse_qsl, urlsplit

from starlette.types import Receive, Scope

from ._crypto import Signer
from ._http import header

__all__ = ["MAX_FORM", "PAGE_HEADERS", "SignOutGuard", "read_form", "same_origin_request"]

#: The confirmation form has one field: anything larger is not ours.
MAX_FORM = 4096
_FIELD = "csrf_token"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign out?</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}}
button{{font-size:1rem;padding:.4rem 1rem}}</style></head>
<body><h1>Sign out?</h1><p>Another site asked to sign you out of this application.</p>
<form method="post" action="{action}"><input type="hidden" name="{field}" value="{token}">
<button type="submit">Sign out</button> <a href="{cancel}">Stay signed in</a></form></body></html>"""

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

    __slots__ = ("_signer",)

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self._signer = Signer(secrets, "sign-out confirmation")

    def token(self, session_id: str) -> str:
        return self._signer.mac(session_id)

    def confirmed(self, session_id: str, form: dict[str, str]) -> bool:
        """Whether ``form`` carries the token of ``session_id``."""
        token = form.get(_FIELD)
        return bool(token) and self._signer.verify(session_id, str(token))

    def page(self, session_id: str, *, action: str, cancel: str) -> bytes:
        return _PAGE.format(
            action=html.escape(action),
            field=_FIELD,
            token=html.escape(self.token(session_id)),
            cancel=html.escape(cancel),
        ).encode("utf-8")
