"""Run an example app against the bundled test OpenID Provider: ``make demo [APP=...]``.

Starts ``tests/provider/server.mjs --demo`` (npm's oidc-provider configured like Logto) on
127.0.0.1:3001 with a ``demo-app`` client, then serves ``examples/{APP}_app.py`` (its
``app``) with uvicorn on 127.0.0.1:3000 configured through the ``LOGTO_*`` variables.
Sign in as ``demo`` / ``demo-password``. Ctrl-C stops both.

Environment: ``DEMO_PORT`` (3000) and ``DEMO_PROVIDER_PORT`` (3001) move the ports.
Needs ``make install`` (the venv and ``npm ci`` in tests/provider).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import re
import secrets
import signal
import socket
import sys
import tempfile
from pathlib import Path

import uvicorn

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(ROOT / "tests"))  # the provider launcher lives in tests/support

from support.provider import ProviderStartError, start_provider  # noqa: E402

CLIENT_ID = "demo-app"
DEMO_USER = ("demo", "demo-password")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--app",
        default=os.environ.get("APP") or "starlette",
        help="which example to serve: examples/<APP>_app.py (default: starlette)",
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("DEMO_PORT") or 3000))
    parser.add_argument(
        "--provider-port", type=int, default=int(os.environ.get("DEMO_PROVIDER_PORT") or 3001)
    )
    return parser.parse_args()


def bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise SystemExit(
            f"demo: port {port} is busy ({exc.strerror}); set DEMO_PORT=<another port>"
        ) from None
    return sock


def main() -> int:
    args = parse_args()
    module_name = f"{args.app}_app"
    if not (EXAMPLES / f"{module_name}.py").is_file():
        available = sorted(p.stem.removesuffix("_app") for p in EXAMPLES.glob("*_app.py"))
        print(f"demo: no examples/{module_name}.py (available: {', '.join(available)})", file=sys.stderr)
        return 2

    app_url = f"http://localhost:{args.port}"
    app_secret = secrets.token_urlsafe(24)
    client = {
        "client_id": CLIENT_ID,
        "client_secret": app_secret,
        "client_name": f"logto-asgi demo ({args.app})",
        "redirect_uris": [f"{origin}/callback" for origin in origins(args.port)],
        "post_logout_redirect_uris": [f"{origin}/" for origin in origins(args.port)],
    }
    sock = bind(args.port)  # before anything starts: a busy port fails fast
    with contextlib.ExitStack() as stack:
        stack.callback(sock.close)
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="logto-asgi-demo-")))
        clients_file = workdir / "clients.json"
        clients_file.write_text(json.dumps([client]), encoding="utf-8")
        print(f"demo: starting the test OpenID Provider on 127.0.0.1:{args.provider_port} …", flush=True)
        try:
            provider = start_provider(port=args.provider_port, clients_file=str(clients_file), demo=True)
        except ProviderStartError as exc:
            print(
                f"demo: {exc}\n(did `make install` run? is port {args.provider_port} free?)", file=sys.stderr
            )
            return 1
        stack.callback(provider.stop)

        os.environ.update(
            {
                "LOGTO_ENDPOINT": provider.url,
                "LOGTO_APP_ID": CLIENT_ID,
                "LOGTO_APP_SECRET": app_secret,
                "LOGTO_COOKIE_SECRET": secrets.token_urlsafe(48),  # new each run: old sessions end
                "LOGTO_BASE_URL": app_url,
            }
        )
        sys.path.insert(0, str(EXAMPLES))
        app = importlib.import_module(module_name).app
        config = uvicorn.Config(app, lifespan="on", log_level="info", ws="none")
        logging.getLogger("uvicorn.access").addFilter(redact_query)  # after Config set logging up
        server = uvicorn.Server(config)
        banner(args.app, app_url, provider.url)
        # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal: make
        # SIGTERM an exception too, so the provider is stopped below rather than orphaned.
        signal.signal(signal.SIGTERM, interrupt)
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:
            pass
        print("demo: stopped", flush=True)
    return 0


def redact_query(record: logging.LogRecord) -> bool:
    """uvicorn's access log prints query strings: keep authorization codes out of it."""
    if isinstance(record.args, tuple) and len(record.args) > 2 and isinstance(record.args[2], str):
        path = re.sub(r"([?&](?:code|state)=)[^&]*", r"\1…", record.args[2])
        record.args = (*record.args[:2], path, *record.args[3:])
    return True


def interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def origins(port: int) -> list[str]:
    return [f"http://localhost:{port}", f"http://127.0.0.1:{port}"]


def banner(app_name: str, app_url: str, provider_url: str) -> None:
    user, password = DEMO_USER
    lines = [
        f"logto-asgi demo: examples/{app_name}_app.py",
        "",
        f"  Open      {app_url}   (this host name: the cookies are set for it)",
        f"  Sign in   {user} / {password}",
        "",
        f"  Provider  {provider_url}/oidc (test OpenID Provider, like Logto)",
        "  Stop      Ctrl-C",
    ]
    width = max(len(line) for line in lines) + 4
    print(
        "\n" + "=" * width,
        *(f"  {line}".rstrip() for line in lines),
        "=" * width + "\n",
        sep="\n",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
