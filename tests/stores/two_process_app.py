"""The app the two-process test runs under ``uvicorn`` twice, sharing one Redis (or, with
``POSTGRES_DSN`` and ``POSTGRES_TABLE``, one PostgreSQL).

Configured from the environment: ``LOGTO_ENDPOINT``, ``LOGTO_APP_ID``,
``LOGTO_APP_SECRET``, ``LOGTO_COOKIE_SECRET`` (read by ``LogtoConfig.from_env``),
``REDIS_URL`` and ``REDIS_PREFIX``. No ``base_url``: each process takes its origin from
the request, so the redirect URI names the port that served the sign-in.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette

from logto_asgi import LogtoConfig, LogtoMiddleware, PostgresStore, RedisStore, SessionStore
from support.served_routes import RESOURCE, routes


def store() -> SessionStore:
    if "POSTGRES_DSN" in os.environ:
        return PostgresStore(os.environ["POSTGRES_DSN"], table=os.environ["POSTGRES_TABLE"])
    return RedisStore(os.environ["REDIS_URL"], prefix=os.environ.get("REDIS_PREFIX", "logto:"))


config = LogtoConfig.from_env(
    store=store(),
    resources=[RESOURCE],
)
app = LogtoMiddleware(Starlette(routes=routes()), config=config)
