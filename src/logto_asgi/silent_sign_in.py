"""Silent sign-in (``LogtoConfig(silent_sign_in=True)``): reuse the provider's session.

A browser that arrives anonymous — a top-level navigation, ``GET``, asking for a page —
is sent once through the sign-in route with ``prompt=none`` (OIDC Core 3.1.2.1): a user
already signed in at the provider comes back signed in here without seeing anything, and
one who is not comes back anonymous to the same page (``login_required`` and its kin are
not errors for a silent attempt: ``callback_checks.SILENT_REFUSALS``). The attempt is
made once per browser session: the sign-in route sets a marker cookie without
``Max-Age``, and a browser carrying it is never redirected again (also not after
sign-out, which must not sign the user straight back in).

Requests that are not navigations (``fetch``, images, API calls, prefetches, frames)
are never redirected, judged by Fetch Metadata where the browser sends it and by
``Accept`` otherwise.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.types import ASGIApp, Receive, Scope, Send

from ._http import header, redirect
from .config import LogtoConfig
from .redirects import request_target, safe_return_to

__all__ = ["SilentSignIn", "marker_name"]


def marker_name(config: LogtoConfig) -> str:
    """The cookie saying this browser session has had its silent attempt."""
    return f"{config.cookie_name}_silent"


def _is_navigation(scope: Scope) -> bool:
    if header(scope, b"sec-purpose") or header(scope, b"purpose"):
        return False  # a prefetch or prerender: the user is not there yet
    mode = header(scope, b"sec-fetch-mode")
    if mode is not None:
        return mode == "navigate" and header(scope, b"sec-fetch-dest") in (None, "document")
    return "text/html" in (header(scope, b"accept") or "")


class SilentSignIn:
    """Wraps the app: the first anonymous page view of a browser session goes through
    ``/sign-in?prompt=none`` (see the module)."""

    def __init__(self, app: ASGIApp, config: LogtoConfig) -> None:
        self.app = app
        self._sign_in_path = config.sign_in_path
        self._marker = marker_name(config).encode("latin-1") + b"="

    def _should_try(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope["method"] != "GET":
            return False
        logto = scope.get("state", {}).get("logto")
        if logto is None or getattr(logto, "is_authenticated", True):
            return False
        cookies = b"; ".join(value for name, value in scope["headers"] if name == b"cookie")
        if self._marker in cookies:
            return False
        return _is_navigation(scope)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._should_try(scope):
            await self.app(scope, receive, send)
            return
        target = safe_return_to(request_target(scope)) or "/"
        query = urlencode({"prompt": "none", "return_to": target})
        await redirect(send, f"{self._sign_in_path}?{query}", status=302)
