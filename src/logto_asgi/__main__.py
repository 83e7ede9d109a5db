"""``python -m logto_asgi check``: check a configuration against its provider."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import anyio

from .check import Report, run_checks
from .config import LogtoConfig
from .core import LogtoCore
from .errors import ConfigurationError


async def _check(config: LogtoConfig) -> Report:
    core = LogtoCore(config)
    try:
        return await run_checks(config, core.provider, core.coordination)
    finally:
        await core.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m logto_asgi", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="check the configuration against the provider")
    check.add_argument("--endpoint", help="Logto endpoint (default: $LOGTO_ENDPOINT)")
    check.add_argument("--app-id", help="App ID (default: $LOGTO_APP_ID)")
    check.add_argument("--app-secret", help="App secret (default: $LOGTO_APP_SECRET)")
    check.add_argument("--cookie-secret", help="cookie secret (default: $LOGTO_COOKIE_SECRET)")
    check.add_argument("--base-url", help="the app's public URL (default: $LOGTO_BASE_URL)")
    check.add_argument(
        "--discovery-url", help="discovery URL of another OpenID provider (default: $LOGTO_DISCOVERY_URL)"
    )
    check.add_argument("--issuer", help="the issuer, when the discovery URL does not name it")
    args = parser.parse_args(argv)
    overrides = {
        name: value
        for name, value in (
            ("endpoint", args.endpoint),
            ("app_id", args.app_id),
            ("app_secret", args.app_secret),
            ("cookie_secret", args.cookie_secret),
            ("base_url", args.base_url),
            ("discovery_url", args.discovery_url),
            ("issuer", args.issuer),
        )
        if value is not None
    }
    try:
        config = LogtoConfig.from_env(**overrides)
    except ConfigurationError as exc:
        print(f"ERROR    configuration: {exc.description}")
        print("Some checks failed: fix the errors above.")
        return 1
    report = anyio.run(_check, config)
    print(report.render())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
