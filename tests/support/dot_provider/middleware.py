"""Request counters of the test provider (``GET /__test__/counts``).

Keys: ``token:<grant_type>`` for ``POST /o/token/``, and ``introspect``, ``userinfo``,
``revoke``, ``logout`` (every request to the end-session endpoint, the confirm POST
included), ``authorize``, ``discovery``, ``jwks``.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

PATH_KEYS = {
    "/o/introspect/": "introspect",
    "/o/userinfo/": "userinfo",
    "/o/revoke_token/": "revoke",
    "/o/logout/": "logout",
    "/o/authorize/": "authorize",
    "/o/.well-known/openid-configuration": "discovery",
    "/o/.well-known/jwks.json": "jwks",
}

_lock = threading.Lock()
_counts: Counter[str] = Counter()


def snapshot() -> dict[str, int]:
    with _lock:
        return dict(_counts)


def reset() -> None:
    with _lock:
        _counts.clear()


def _key(request: Any) -> str | None:
    path: str = request.path
    if path == "/o/token/":
        if request.method != "POST":
            return None
        # request.body is cached: the view can still read request.POST afterwards.
        form = parse_qs(request.body.decode("latin-1"))
        return f"token:{form.get('grant_type', [''])[0]}"
    return PATH_KEYS.get(path)


class CountingMiddleware:
    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        key = _key(request)
        if key is not None:
            with _lock:
                _counts[key] += 1
        return self.get_response(request)
