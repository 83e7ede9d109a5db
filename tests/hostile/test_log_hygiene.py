"""No token, code, secret or cookie value in any log record or error body.

A full journey against the real test provider — sign-in, refresh, userinfo, sign-out,
then a few error pages — with every logger at DEBUG. The app runs under uvicorn in its
own thread, so the records the app's side wrote (the library and the HTTP client it
drives) are told apart from those of the test's own browser by thread.
"""

from __future__ import annotations

import logging
import threading

import httpx
import pytest

from logto_asgi import LogtoConfig, LogtoMiddleware
from logto_asgi._crypto import JweCodec
from logto_asgi.sessions.base import Session
from support.app import SHOPPING, build_app, register_app
from support.provider import OidcTestProvider, provider_login, provider_logout
from support.server import listen, serve

pytestmark = pytest.mark.anyio


class Secrets:
    """Every secret value seen during the journey."""

    def __init__(self, config: LogtoConfig) -> None:
        self.values: set[str] = {config.cookie_secrets[0]}
        assert config.app_secret
        self.values.add(config.app_secret)
        self._codec = JweCodec(config.cookie_secrets, "session cookie")

    def add_session(self, value: str) -> None:
        """A session cookie value and every token inside it."""
        self.values.add(value)
        session = Session.from_json(self._codec.decrypt(value))
        self.values.add(session.id_token)
        self.values.update(t.token for t in session.access_tokens.values())
        if session.refresh_token:
            self.values.add(session.refresh_token)

    def found_in(self, text: str) -> list[str]:
        leaks = [value for value in self.values if value and value in text]
        # A logged prefix or suffix of a token is a leak too (16 characters is plenty).
        leaks += [v for v in self.values if len(v) >= 32 and (v[:16] in text or v[-16:] in text)]
        return leaks


async def test_no_secret_in_logs_or_error_bodies(
    provider: OidcTestProvider, caplog: pytest.LogCaptureFixture
) -> None:
    """Sign-in, refresh, userinfo, sign-out and error pages at DEBUG leak nothing secret."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="logto_asgi")
    with listen() as listener:
        base = listener.url
        registration = await register_app(provider, base, prefix="logs")
        config = registration.config(
            base, scopes=["email", "custom_data", "shopping:read"], resources=[SHOPPING]
        )
        seen = Secrets(config)
        error_bodies: list[str] = []

        async def record(response: httpx.Response) -> None:
            if not str(response.url).startswith(base):
                return
            for line in response.headers.get_list("set-cookie"):
                name, _, rest = line.partition("=")
                value = rest.split(";", 1)[0].strip('"')
                if name.startswith("logto") and value:
                    seen.values.add(value)
                    if name == "logto":
                        seen.add_session(value)
            if response.status_code >= 300:
                await response.aread()
                error_bodies.append(response.text)

        with serve(LogtoMiddleware(build_app(), config=config), listener):
            app_thread = f"uvicorn:{listener.port}"
            async with httpx.AsyncClient(event_hooks={"response": [record]}, timeout=15) as browser:
                callback = await provider_login(
                    browser, f"{base}/sign-in?return_to=/me", username="alice", password="alice-password"
                )
                seen.values.add(callback.request.url.params["code"])
                assert callback.status_code == 302 and browser.cookies.get("logto")
                assert (await browser.get(f"{base}/token", params={"resource": SHOPPING})).status_code == 200
                assert (await browser.get(f"{base}/userinfo")).status_code == 200
                replayed = str(callback.request.url)
                assert (await provider_logout(browser, f"{base}/sign-out")).status_code == 200
                assert (await browser.get(replayed)).status_code == 400
                assert (await browser.get(f"{base}/token")).status_code == 401
                bad = await browser.get(f"{base}/callback", params={"code": "x" * 40, "state": "s" * 43})
                assert bad.status_code == 400

    assert len(seen.values) >= 8  # secrets, code, transaction, session, ID/access/refresh tokens
    records = [
        r
        for r in caplog.records
        if (r.threadName == app_thread and not r.name.startswith("uvicorn"))
        or r.name.startswith("logto_asgi")
    ]
    assert any(r.name == "logto_asgi" and "signed in" in r.getMessage() for r in records)
    assert any(r.name.startswith("httpx") for r in records)  # the provider calls were logged
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    log_text = "\n".join(formatter.format(r) for r in records)
    assert seen.found_in(log_text) == []
    for body in error_bodies:
        assert seen.found_in(body) == [], body
    assert threading.current_thread().name != app_thread
