"""``python -m logto_asgi check``: check a configuration against its provider.

With ``--app module:attribute`` the configuration is the one of the app's own
middlewares (found by ``app_finder``); without it, ``LOGTO_*`` variables and options.
Exit status: 0 when sign-in can work, 1 when a check failed, 2 when the app could not be
loaded (a sentence on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import anyio

from .app_finder import AppLoadError, Found, find_middlewares, load_app
from .bearer import BearerAuthMiddleware
from .check import Report, run_bearer_checks, run_checks
from .check_client import probe_client
from .config import LogtoConfig
from .core import LogtoCore
from .errors import ConfigurationError

#: The help texts are plain text (argparse prints them as they are).
DESCRIPTION = "Command-line tools of logto-asgi."
CHECK_DESCRIPTION = (
    "Check a logto-asgi configuration against its OpenID provider: discovery, signing keys, "
    "what the provider supports, and the URIs to register at the provider. The configuration "
    "is the one of an app's middleware (--app module:attribute, named the way uvicorn names "
    "apps), or else comes from the LOGTO_* environment variables and the options below. With "
    "--app the provider is also asked whether it knows the app's ID, secret and redirect URI "
    "(--no-probe to skip). Exit status: 0 when sign-in can work, 1 when a check failed, 2 when "
    "the app could not be loaded or has no logto-asgi middleware."
)

_ENV_OPTIONS = ("endpoint", "app_id", "app_secret", "cookie_secret", "base_url", "discovery_url", "issuer")
EXIT_FAILED = 1
EXIT_UNUSABLE = 2


async def _check(config: LogtoConfig, probe: bool = False) -> Report:
    core = LogtoCore(config)
    try:
        report = await run_checks(config, core.provider, core.coordination)
        if probe:
            await probe_client(report, config, core.provider)
        return report
    finally:
        await core.aclose()


async def _check_found(found: Found, probe: bool) -> Report:
    """The checks of one middleware of the app, with its own configuration and client."""
    middleware = found.middleware
    if isinstance(middleware, BearerAuthMiddleware):
        try:
            return await run_bearer_checks(
                middleware.provider,
                middleware.audiences,
                organization_tokens=middleware.authenticator.organization_tokens,
            )
        finally:
            await middleware.aclose()
    core = middleware.core
    try:
        report = await run_checks(middleware.config, core.provider, core.coordination)
        if probe:
            await probe_client(report, middleware.config, core.provider)
        return report
    finally:
        await core.aclose()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m logto_asgi", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "check", help="check a configuration against its provider", description=CHECK_DESCRIPTION
    )
    check.add_argument("--app", metavar="MODULE:ATTRIBUTE", help="check the middleware(s) of this ASGI app")
    check.add_argument("--app-dir", default=".", help="where to import the app from (default: .)")
    check.add_argument(
        "--factory", action="store_true", help="the attribute is a function that returns the app"
    )
    check.add_argument(
        "--probe",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="ask the provider whether it knows the app's ID, secret and redirect URI (default: with --app)",
    )
    check.add_argument("--endpoint", help="Logto endpoint (default: $LOGTO_ENDPOINT)")
    check.add_argument("--app-id", help="App ID (default: $LOGTO_APP_ID)")
    check.add_argument("--app-secret", help="App secret (default: $LOGTO_APP_SECRET)")
    check.add_argument("--cookie-secret", help="cookie secret (default: $LOGTO_COOKIE_SECRET)")
    check.add_argument("--base-url", help="the app's public URL (default: $LOGTO_BASE_URL)")
    check.add_argument(
        "--discovery-url", help="discovery URL of another OpenID provider (default: $LOGTO_DISCOVERY_URL)"
    )
    check.add_argument("--issuer", help="the issuer, when the discovery URL does not name it")
    return parser


def _configuration_failed(exc: ConfigurationError) -> int:
    print(f"ERROR    configuration: {exc.description}")
    print("Some checks failed: fix the errors above.")
    return EXIT_FAILED


def _unusable(message: str) -> int:
    print(f"python -m logto_asgi check: {message}", file=sys.stderr)
    return EXIT_UNUSABLE


def _from_env(args: argparse.Namespace) -> int:
    overrides = {name: getattr(args, name) for name in _ENV_OPTIONS if getattr(args, name) is not None}
    try:
        config = LogtoConfig.from_env(**overrides)
    except ConfigurationError as exc:
        return _configuration_failed(exc)
    report = anyio.run(_check, config, bool(args.probe))
    print(report.render())
    return 0 if report.ok else EXIT_FAILED


def _from_app(args: argparse.Namespace) -> int:
    given = [f"--{name.replace('_', '-')}" for name in _ENV_OPTIONS if getattr(args, name) is not None]
    if given:
        return _unusable(
            f"{', '.join(given)} cannot be combined with --app: the app's configuration is checked"
        )
    try:
        app = load_app(args.app, app_dir=args.app_dir, factory=args.factory)
        found, looked_at = find_middlewares(app, args.app)
    except AppLoadError as exc:
        return _unusable(str(exc))
    except ConfigurationError as exc:
        return _configuration_failed(exc)
    except Exception as exc:
        return _unusable(f"loading {args.app!r} failed: {type(exc).__name__}: {exc}")
    if not found:
        return _unusable(
            f"no LogtoMiddleware or BearerAuthMiddleware found in {args.app!r} (looked at {looked_at} "
            "objects): name the app that is wrapped, e.g. main:app where app = LogtoMiddleware(...)"
        )
    probe = args.probe is not False
    ok = True
    for index, item in enumerate(found):
        how = " (declared)" if item.declared else ""
        if index:
            print()
        print(f"{type(item.middleware).__name__} at {item.where}{how}")
        report = anyio.run(_check_found, item, probe)
        print(report.render())
        ok = ok and report.ok
    return 0 if ok else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.app is not None:
        return _from_app(args)
    return _from_env(args)


if __name__ == "__main__":
    sys.exit(main())
