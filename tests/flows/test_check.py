"""``python -m logto_asgi check`` against the real provider and against broken setups."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from logto_asgi import HostCoordination, LogtoConfig
from logto_asgi.check import run_checks
from support.provider import OidcTestProvider
from support.tokens import mock_provider

SECRET = "k" * 40


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LOGTO_")}
    return subprocess.run(
        [sys.executable, "-m", "logto_asgi", "check", *args],
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        timeout=60,
        check=False,
    )


def test_good_configuration_passes_and_lists_redirect_uris(provider: OidcTestProvider) -> None:
    """Against the real provider: exit 0, the issuer, the keys and the URIs to register."""
    result = run_cli(
        env={
            "LOGTO_ENDPOINT": provider.url,
            "LOGTO_APP_ID": "any-app",
            "LOGTO_COOKIE_SECRET": SECRET,
            "LOGTO_BASE_URL": "http://localhost:3000",
        }
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"issuer {provider.issuer}" in result.stdout
    assert "usable signing key" in result.stdout
    assert "ES384" in result.stdout
    assert "redirect URI in the Logto Console: http://localhost:3000/callback" in result.stdout
    assert "post sign-out redirect URI: http://localhost:3000/" in result.stdout
    assert "All checks passed." in result.stdout
    assert "coordination: host-wide (SQLite at " in result.stdout
    assert "across the worker processes of this host" in result.stdout


def test_unreachable_endpoint_fails(provider: OidcTestProvider) -> None:
    """A closed port: exit 1 and 'could not be reached'."""
    result = run_cli("--endpoint", "http://127.0.0.1:9", "--app-id", "a", "--cookie-secret", SECRET)
    assert result.returncode == 1
    assert "could not be reached" in result.stdout


def test_issuer_mismatch_fails(provider: OidcTestProvider) -> None:
    """The same provider under another host name: its issuer is not the expected one."""
    other = provider.url.replace("127.0.0.1", "localhost")
    result = run_cli("--endpoint", other, "--app-id", "a", "--cookie-secret", SECRET)
    assert result.returncode == 1
    assert "is not the expected" in result.stdout


def test_short_cookie_secret_fails() -> None:
    """A short cookie secret is reported with the fix, before any network call."""
    result = run_cli("--endpoint", "http://127.0.0.1:9", "--app-id", "a", "--cookie-secret", "short")
    assert result.returncode == 1
    assert "cookie_secret" in result.stdout and "at least 32 characters" in result.stdout


def test_missing_required_option_names_the_variable() -> None:
    """Without an endpoint the message names LOGTO_ENDPOINT."""
    result = run_cli()
    assert result.returncode == 1 and "LOGTO_ENDPOINT" in result.stdout


def config_with(keys: list[dict[str, Any]], **discovery: Any) -> LogtoConfig:
    return LogtoConfig(
        endpoint="https://id.example.com",
        app_id="a",
        cookie_secret=SECRET,
        http_client=httpx.AsyncClient(transport=mock_provider(keys, **discovery)),
    )


EC_KEY = {
    "kty": "EC",
    "crv": "P-256",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
    "kid": "k",
}


@pytest.mark.anyio
async def test_missing_endpoints_and_unsupported_algorithms_are_reported() -> None:
    """No end-session/revocation endpoint: warnings; only HS256 advertised: an error."""
    config = config_with([EC_KEY], id_token_signing_alg_values_supported=["HS256"])
    report = await run_checks(config)
    text = report.render()
    assert not report.ok
    assert "no end_session_endpoint" in text and "no revocation_endpoint" in text
    assert "none of which is allowed" in text
    await config.http_client.aclose()  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_empty_jwks_is_an_error() -> None:
    """A JWKS without usable keys fails the check."""
    config = config_with([{"kty": "oct", "k": "c2VjcmV0"}])
    report = await run_checks(config)
    assert not report.ok and "no signing key" in report.render()
    await config.http_client.aclose()  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_the_report_names_the_coordination_and_its_guarantee(tmp_path: Path) -> None:
    """Given a coordination plan, the report says which one and what it guarantees; a host
    folder that cannot be created falls back to in-process coordination and says so."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    config = LogtoConfig(endpoint="https://id.example.com", app_id="app", cookie_secret=SECRET)
    for folder, expected in ((tmp_path / "coord", "host-wide"), (blocker / "coord", "in-process")):
        plan = HostCoordination(folder=folder).connect("app-test")
        async with httpx.AsyncClient(transport=mock_provider([])) as http:
            report = await run_checks(config.replace(http_client=http), coordination=plan)
        assert any(f.message.startswith(f"coordination: {expected}") for f in report.findings), expected


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("options", "warned"),
    [
        ({"base_url": "https://app.example.com"}, True),
        ({"base_url": "https://app.example.com", "cookie_name": "__Host-logto"}, False),
        ({"base_url": "https://app.example.com", "cookie_domain": "example.com"}, False),
        ({"base_url": "http://localhost:3000"}, False),
    ],
)
async def test_https_without_a_host_prefix_is_a_warning(options: dict[str, Any], warned: bool) -> None:
    """On https with a host-only cookie, check suggests the __Host- name (cookie tossing)."""
    config = LogtoConfig(
        endpoint="https://id.example.com",
        app_id="a",
        cookie_secret=SECRET,
        http_client=httpx.AsyncClient(transport=mock_provider([EC_KEY])),
        **options,
    )
    report = await run_checks(config)
    assert ("no __Host- prefix" in report.render()) is warned
    await config.http_client.aclose()  # type: ignore[union-attr]
