"""``LogtoMiddleware``: answers the auth paths, reads the session of every other request
and puts the user and a ``LogtoContext`` in the scope.

Pure ASGI, on the shared ``Engine``: per-request state lives in closures, headers are
touched only on ``http.response.start``, lifespan passes through (with our startup check
and the HTTP client closed at shutdown), and anything it does not handle goes to the app
untouched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from starlette.types import ASGIApp

from .boundary import ErrorRenderer, install_framework_handler, render_error, renderer_for
from .check import run_checks
from .config import LogtoConfig
from .core import LogtoCore
from .engine import Engine
from .routes import AuthRoutes
from .session_auth import SessionAuthenticator
from .silent_sign_in import SilentSignIn
from .users import LogtoUser

logger = logging.getLogger("logto_asgi")

#: A session's precedence: a valid bearer token (20) outranks it by default.
SESSION_PRECEDENCE = 10

_LEVELS = {"ok": logging.DEBUG, "warning": logging.WARNING, "error": logging.ERROR}


class LogtoMiddleware(Engine):
    """Sign-in with Logto (or any OpenID Connect provider) for any ASGI app.

    ``LogtoMiddleware(app, config=LogtoConfig(...))`` or
    ``app.add_middleware(LogtoMiddleware, config=config)``. ``precedence`` ranks the
    session against other logto-asgi middlewares on the same app (a bearer token's is 20);
    ``error_renderer`` replaces the built-in error pages.
    """

    def __init__(
        self,
        app: ASGIApp,
        config: LogtoConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        precedence: int = SESSION_PRECEDENCE,
        error_renderer: ErrorRenderer = render_error,
    ) -> None:
        if config is None:
            config = LogtoConfig.from_env()
        self.config = config
        self.core = LogtoCore(config, clock=clock)
        if error_renderer is render_error:
            error_renderer = renderer_for(config.messages)
        super().__init__(
            SilentSignIn(app, config) if config.silent_sign_in else app,
            routes=AuthRoutes(self.core, renderer=error_renderer).paths,
            authenticators=[SessionAuthenticator(self.core, precedence=precedence)],
            on_startup=self._startup_check,
            on_shutdown=self.core.aclose,
            renderer=error_renderer,
            on_error=config.on_error,
            startup_on_first_request=_may_lack_lifespan(app),
        )
        # Quart is wrapped as `app.asgi_app = LogtoMiddleware(app.asgi_app, ...)`: a bound method.
        install_framework_handler(getattr(app, "__self__", app), error_renderer)

    async def _startup_check(self) -> None:
        """Check the configuration against the provider once at startup, so a wrong
        endpoint shows up in the logs now, not at the first user's sign-in. Problems are
        logged, not fatal: the provider may simply not be up yet."""
        report = await run_checks(self.config, self.core.provider, self.core.coordination)
        for finding in report.findings:
            logger.log(_LEVELS[finding.level], "startup check: %s", finding.message)
        if report.ok:
            logger.info("logto-asgi ready: issuer %s", (await self.core.provider.metadata()).issuer)


def _may_lack_lifespan(app: ASGIApp) -> bool:
    """Django's and Channels' apps have no lifespan, and Daphne sends none: their first
    request runs our startup check unless a lifespan startup came first."""
    return type(app).__module__.startswith(("django.", "channels."))


__all__ = ["LogtoMiddleware", "LogtoUser"]
