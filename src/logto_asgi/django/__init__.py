"""Django on ASGI with logto-asgi: ``request.user``, decorators, errors, Channels.

Setup (see the Django page of the docs)::

    # asgi.py
    application = LogtoMiddleware(get_asgi_application(), config=LogtoConfig(...))

    # settings.py
    INSTALLED_APPS += ["logto_asgi.django"]
    MIDDLEWARE = [..., "logto_asgi.django.LogtoAuthMiddleware", ...]  # replaces AuthenticationMiddleware
    AUTHENTICATION_BACKENDS = ["logto_asgi.django.LogtoBackend", "django.contrib.auth.backends.ModelBackend"]

Names are loaded on first use, so ``import logto_asgi.django`` needs Django installed but
not configured (settings modules, decorators at import time), and nothing else in
``logto_asgi`` imports Django.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

try:
    import django  # noqa: F401 - fail early, with the install hint
except ImportError as exc:  # pragma: no cover - exercised without Django installed
    raise ImportError("logto_asgi.django needs Django: pip install 'logto-asgi[django]'") from exc

if TYPE_CHECKING:
    from .backends import LogtoBackend
    from .channels import LogtoChannelsMiddleware
    from .conf import Options, default_user_fields
    from .database import link_user, sync_user
    from .decorators import requires_auth
    from .middleware import LogtoAuthMiddleware
    from .users import LogtoDjangoUser
    from .views import sign_in

__all__ = [
    "LogtoAuthMiddleware",
    "LogtoBackend",
    "LogtoChannelsMiddleware",
    "LogtoDjangoUser",
    "Options",
    "default_user_fields",
    "link_user",
    "requires_auth",
    "sign_in",
    "sync_user",
]

_HOMES = {
    "LogtoAuthMiddleware": "middleware",
    "LogtoBackend": "backends",
    "LogtoChannelsMiddleware": "channels",
    "LogtoDjangoUser": "users",
    "Options": "conf",
    "default_user_fields": "conf",
    "link_user": "database",
    "requires_auth": "decorators",
    "sign_in": "views",
    "sync_user": "database",
}


def __getattr__(name: str) -> Any:
    # The middleware imports django.contrib.auth.middleware, which needs configured
    # settings, and the Channels middleware needs Channels: load each name when asked.
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
