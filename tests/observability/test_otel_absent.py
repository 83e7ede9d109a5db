"""Without OpenTelemetry: in a fresh interpreter where ``opentelemetry`` cannot be found,
logto_asgi imports, signs in for real, serves tokens and signs out, and nothing from
opentelemetry was ever imported."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import anyio
import pytest

from support.app import SHOPPING, register_app
from support.provider import OidcTestProvider

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]

#: Wraps every finder on sys.meta_path so that ``opentelemetry`` (and its submodules)
#: is not found: ``importlib.util.find_spec`` answers None, an import raises
#: ModuleNotFoundError — as when the package is not installed.
HIDE = """
import sys

class Hidden:
    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            return None
        find = getattr(self.finder, "find_spec", None)
        return find(name, path, target) if find is not None else None

    def __getattr__(self, attribute):
        return getattr(self.finder, attribute)

sys.meta_path[:] = [Hidden(finder) for finder in sys.meta_path]
"""

JOURNEY = """
import asyncio, importlib.util, json, os, sys

assert importlib.util.find_spec("opentelemetry") is None
try:
    import opentelemetry  # noqa: F401
except ModuleNotFoundError:
    pass
else:
    raise SystemExit("opentelemetry was not hidden")

from logto_asgi import LogtoConfig, LogtoMiddleware
from support.app import APP_ORIGIN, build_app, new_browser
from support.provider import provider_login, provider_logout

async def main():
    settings = json.loads(os.environ["OTEL_ABSENT_CONFIG"])
    middleware = LogtoMiddleware(build_app(), config=LogtoConfig(**settings))
    statuses = []
    async with new_browser(middleware) as browser:
        callback = await provider_login(
            browser, f"{APP_ORIGIN}/sign-in", username="alice", password="alice-password"
        )
        statuses.append(callback.status_code)
        for path in ("/me", "/userinfo", f"/token?resource={settings['resources'][0]}"):
            statuses.append((await browser.get(APP_ORIGIN + path)).status_code)
        statuses.append((await provider_logout(browser, f"{APP_ORIGIN}/sign-out")).status_code)
        statuses.append((await browser.get(APP_ORIGIN + "/me")).status_code)
    await middleware.core.aclose()
    loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
    print(json.dumps({"statuses": statuses, "loaded": loaded}))

asyncio.run(main())
"""


async def test_no_opentelemetry_is_imported_when_it_is_absent(provider: OidcTestProvider) -> None:
    """A real journey with opentelemetry hidden: every request answers as usual and
    sys.modules holds no opentelemetry module at the end."""
    registration = await register_app(provider, prefix="no-otel")
    config = registration.config("http://app.test")
    settings = {
        "endpoint": config.endpoint,
        "app_id": config.app_id,
        "app_secret": config.app_secret,
        "cookie_secret": config.cookie_secret,
        "base_url": config.base_url,
        "scopes": ["email", "shopping:read"],
        "resources": [SHOPPING],
    }
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT / "src")]),
        "OTEL_ABSENT_CONFIG": json.dumps(settings),
    }
    with anyio.fail_after(120):
        done = await anyio.run_process([sys.executable, "-c", HIDE + JOURNEY], env=env, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr.decode()
    result = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert result["statuses"] == [302, 200, 200, 200, 200, 401], result
    assert result["loaded"] == []
