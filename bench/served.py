"""The app a uvicorn subprocess serves (``uvicorn bench.served:app``), chosen by
``BENCH_APP`` (``bare``, ``logto`` or ``baseline``) with its settings in
``BENCH_SETTINGS`` (JSON: the ``LogtoConfig`` options, or the baseline's ``secret_key``)."""

from __future__ import annotations

import json
import os

from starlette.types import ASGIApp

from bench.apps import bare_app, baseline_app, logto_app
from logto_asgi import LogtoConfig


def build() -> ASGIApp:
    kind = os.environ.get("BENCH_APP", "bare")
    settings = json.loads(os.environ.get("BENCH_SETTINGS", "{}"))
    if kind == "bare":
        return bare_app()
    if kind == "logto":
        return logto_app(LogtoConfig(**settings))
    if kind == "baseline":
        return baseline_app(str(settings["secret_key"]))
    raise SystemExit(f"unknown BENCH_APP {kind!r}")


app = build()
