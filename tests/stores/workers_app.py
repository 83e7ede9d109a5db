"""The app the worker tests run under ``uvicorn`` several times: cookie sessions.

Configured from the environment: ``LOGTO_*`` (``LogtoConfig.from_env``) and
``COORDINATION``: unset for the default (host-wide), ``host:<folder>`` for a host-wide
coordination in its own folder (another "host"), ``redis:<url>`` for ``RedisCoordination``.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette

from logto_asgi import HostCoordination, LogtoConfig, LogtoMiddleware, RedisCoordination
from logto_asgi.coordination import Coordination
from support.served_routes import RESOURCE, routes


def coordination() -> Coordination | None:
    kind, _, where = os.environ.get("COORDINATION", "").partition(":")
    if kind == "host":
        return HostCoordination(folder=Path(where))
    if kind == "redis":
        return RedisCoordination(url=where)
    return None


config = LogtoConfig.from_env(resources=[RESOURCE], coordination=coordination())
app = LogtoMiddleware(Starlette(routes=routes()), config=config)
