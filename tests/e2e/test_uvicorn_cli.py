"""The Starlette example as users run it: ``uvicorn starlette_app:app`` configured by LOGTO_*."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from support.app import register_app
from support.provider import OidcTestProvider
from support.server import free_port, run_uvicorn

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.anyio
async def test_example_runs_under_the_uvicorn_command(e2e_provider: OidcTestProvider) -> None:
    """`uvicorn starlette_app:app` starts from the environment and sends /protected to the provider."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = (await register_app(e2e_provider, base_url, prefix="e2e-uvicorn-cli")).env(base_url)
    with run_uvicorn("starlette_app:app", port=port, env=env, app_dir=EXAMPLES) as server:
        async with httpx.AsyncClient(base_url=server.url) as client:
            home = await client.get("/")
            assert home.status_code == 200
            assert "Not authenticated" in home.text
            protected = await client.get("/protected")
            assert protected.status_code == 303
            assert protected.headers["location"] == "/sign-in?return_to=%2Fprotected"
            sign_in = await client.get(protected.headers["location"])
            assert sign_in.headers["location"].startswith(e2e_provider.authorization_endpoint)
        assert "Traceback" not in server.output(), server.output()
