"""``python -m logto_asgi check --app module:attribute`` against the shipped examples and
the real provider: the app's own middleware configuration is checked, the provider is
asked about the app's credentials and redirect URI, and a bad ``--app`` is a sentence."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from logto_asgi.__main__ import main
from support.app import Registration, register_app
from support.provider import OidcTestProvider

pytestmark = pytest.mark.anyio

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BASE = "http://localhost:3000"


def run_check(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LOGTO_")}
    return subprocess.run(
        [sys.executable, "-m", "logto_asgi", "check", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**clean, **(env or {})},
        timeout=60,
        check=False,
    )


async def registered(provider: OidcTestProvider) -> Registration:
    return await register_app(provider, BASE, prefix="check")


@pytest.mark.parametrize(
    ("spec", "where"),
    [
        ("starlette_app:app", ["LogtoMiddleware at starlette_app:app"]),
        (
            "fastapi_app:app",
            [
                "LogtoMiddleware at fastapi_app:app.user_middleware[0] (declared)",
                "BearerAuthMiddleware at fastapi_app:app.user_middleware[1] (declared)",
            ],
        ),
        ("quart_app:app", ["LogtoMiddleware at quart_app:app.asgi_app"]),
    ],
)
async def test_the_examples_pass(provider: OidcTestProvider, spec: str, where: list[str]) -> None:
    """Each example, configured for the provider: exit 0, its middlewares named, the probes passed."""
    registration = await registered(provider)
    result = run_check("--app", spec, cwd=EXAMPLES, env=registration.env(BASE))
    assert result.returncode == 0, result.stdout + result.stderr
    headers = [line for line in result.stdout.splitlines() if " at " in line and "Middleware" in line]
    assert headers == where
    assert f"issuer {provider.issuer}" in result.stdout
    assert "the token endpoint accepts the app ID and secret" in result.stdout
    accepted = f"the provider accepts app {registration.client_id!r} with the redirect URI {BASE}/callback"
    assert accepted in result.stdout
    assert result.stdout.rstrip().endswith("All checks passed.")
    assert result.stderr == ""


async def test_a_wrong_secret_fails_and_only_the_probe_sees_it(provider: OidcTestProvider) -> None:
    """The secret is wrong: exit 1 with invalid_client; with --no-probe nothing can tell (exit 0)."""
    registration = await registered(provider)
    env = {**registration.env(BASE), "LOGTO_APP_SECRET": "not-the-secret"}
    result = run_check("--app", "starlette_app:app", cwd=EXAMPLES, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ERROR    the token endpoint refused the app ID and secret (invalid_client)" in result.stdout
    assert "Some checks failed" in result.stdout
    unprobed = run_check("--app", "starlette_app:app", "--no-probe", cwd=EXAMPLES, env=env)
    assert unprobed.returncode == 0, unprobed.stdout
    assert "token endpoint" not in unprobed.stdout


async def test_an_unregistered_redirect_uri_fails(provider: OidcTestProvider) -> None:
    """base_url on another origin than the registered one: exit 1, the provider's invalid_redirect_uri."""
    registration = await registered(provider)
    env = registration.env("http://localhost:4000")
    result = run_check("--app", "quart_app:app", cwd=EXAMPLES, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        "ERROR    the provider refused the sign-in request (HTTP 400: invalid_redirect_uri): check that "
        f"http://localhost:4000/callback is a registered redirect URI of app {registration.client_id!r}"
    ) in result.stdout
    assert "the token endpoint accepts the app ID and secret" in result.stdout


async def test_a_factory_with_a_declared_middleware(provider: OidcTestProvider, tmp_path: Path) -> None:
    """--factory calls the attribute; a middleware added with add_middleware is checked with its config."""
    (tmp_path / "factory_main.py").write_text(
        "from starlette.applications import Starlette\n"
        "from logto_asgi import LogtoConfig, LogtoMiddleware\n\n\n"
        "def create_app() -> Starlette:\n"
        "    app = Starlette()\n"
        "    app.add_middleware(LogtoMiddleware, config=LogtoConfig.from_env())\n"
        "    return app\n"
    )
    registration = await registered(provider)
    result = run_check(
        "--app", "factory_main:create_app", "--factory", cwd=tmp_path, env=registration.env(BASE)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "LogtoMiddleware at factory_main:create_app.user_middleware[0] (declared)" in result.stdout
    without = run_check("--app", "factory_main:create_app", cwd=tmp_path, env=registration.env(BASE))
    assert without.returncode == 2
    assert "no LogtoMiddleware or BearerAuthMiddleware found in 'factory_main:create_app'" in without.stderr


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nowhere_to_be_found:app", "module 'nowhere_to_be_found' not found in "),
        ("plain_main:missing", "'plain_main' has no attribute 'missing'"),
        ("plain_main", "--app 'plain_main' is not module:attribute (for example main:app)"),
        (
            "plain_main:app",
            "no LogtoMiddleware or BearerAuthMiddleware found in 'plain_main:app' (looked at ",
        ),
        ("raising_main:app", "loading 'raising_main:app' failed: RuntimeError: no database"),
    ],
)
def test_a_bad_app_is_exit_2_and_a_sentence(tmp_path: Path, spec: str, message: str) -> None:
    """A missing module or attribute, no module:attr, no middleware, a raising import: exit 2, a sentence."""
    (tmp_path / "plain_main.py").write_text(
        "from starlette.applications import Starlette\n\napp = Starlette()\n"
    )
    (tmp_path / "raising_main.py").write_text("raise RuntimeError('no database')\n")
    result = run_check("--app", spec, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(f"python -m logto_asgi check: {message}"), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_a_configuration_error_at_import_is_a_failed_check() -> None:
    """The example without LOGTO_* variables: exit 1 and the field to fix, not a traceback."""
    result = run_check("--app", "starlette_app:app", cwd=EXAMPLES)
    assert result.returncode == 1
    assert result.stdout.startswith("ERROR    configuration: endpoint")
    assert "Traceback" not in result.stdout + result.stderr


def test_app_and_configuration_options_do_not_mix() -> None:
    """--app checks the app's configuration: --endpoint with it is refused (exit 2)."""
    result = run_check("--app", "starlette_app:app", "--endpoint", "https://x.example", cwd=EXAMPLES)
    assert result.returncode == 2
    assert "--endpoint cannot be combined with --app" in result.stderr


@pytest.mark.parametrize("argv", [["--help"], ["check", "--help"]])
def test_help_is_plain_text(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """The help texts carry no reStructuredText markup (no double backticks)."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert "usage: python -m logto_asgi" in text
    assert "``" not in text and ":class:" not in text
