"""Launcher and async admin client for the test OpenID Provider (``tests/provider/server.mjs``).

The provider is npm's ``oidc-provider`` configured like Logto (issuer ``{url}/oidc``, ES384,
PKCE, resource indicators with JWT access tokens, organization tokens, rotating refresh
tokens, RP-initiated and back-channel logout). Start it with :func:`start_provider`; drive a
sign-in with :func:`provider_login` and a sign-out with :func:`provider_logout`.

Logout confirmation: oidc-provider normally asks "Do you want to sign out?". The test
provider renders, instead, a page holding one form (hidden ``xsrf`` and ``logout=yes``) that a
browser submits by itself (inline script). Clients without JavaScript, like httpx, complete
the logout by POSTing that single form as is, which is what :func:`provider_logout` does.

The provider needs ``node`` (20+) and ``npm ci`` run once in ``tests/provider``.
"""

from __future__ import annotations

import atexit
import collections
import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Awaitable, Callable
from html.parser import HTMLParser
from pathlib import Path
from types import TracebackType
from typing import IO, Any, cast
from urllib.parse import urljoin

import httpx

__all__ = [
    "PROVIDER_DIR",
    "OidcTestProvider",
    "ProviderAdminError",
    "ProviderStartError",
    "provider_login",
    "provider_logout",
    "start_provider",
]

PROVIDER_DIR = Path(__file__).resolve().parent.parent / "provider"
SERVER_SCRIPT = PROVIDER_DIR / "server.mjs"
READY_PREFIX = "READY "
START_TIMEOUT = 20.0


class ProviderStartError(RuntimeError):
    """The provider process could not be started or never reported READY."""


class ProviderAdminError(RuntimeError):
    """An admin call (``/__test__/...``) failed; the message carries the response body."""


class OidcTestProvider:
    """A running test provider process and an async client for its ``/__test__/`` API."""

    def __init__(
        self,
        process: subprocess.Popen[str],
        url: str,
        stderr: collections.deque[str],
        readers: list[threading.Thread],
    ) -> None:
        self._process = process
        self._stderr = stderr
        self._readers = readers
        self.url = url
        self.issuer = f"{url}/oidc"
        self.discovery_url = f"{self.issuer}/.well-known/openid-configuration"
        self.authorization_endpoint = f"{self.issuer}/auth"
        self.token_endpoint = f"{self.issuer}/token"
        self.userinfo_endpoint = f"{self.issuer}/me"
        self.jwks_uri = f"{self.issuer}/jwks"
        self.end_session_endpoint = f"{self.issuer}/session/end"
        self.revocation_endpoint = f"{self.issuer}/token/revocation"
        self.introspection_endpoint = f"{self.issuer}/token/introspection"

    # -- process ---------------------------------------------------------------------------

    @property
    def stderr_tail(self) -> str:
        """The last lines the provider wrote to stderr."""
        return "".join(self._stderr)

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    def stop(self) -> None:
        """Terminates the provider process (idempotent)."""
        atexit.unregister(self.stop)
        process = self._process
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        for reader in self._readers:  # they end at EOF; closing first could race them
            reader.join(timeout=5)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> OidcTestProvider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"OidcTestProvider(url={self.url!r}, running={self.running})"

    # -- admin API -------------------------------------------------------------------------

    async def _admin(self, method: str, path: str, body: Any = None) -> Any:
        async with httpx.AsyncClient(base_url=self.url, timeout=10.0) as client:
            response = await client.request(method, f"/__test__/{path}", json=body)
        if response.status_code >= 400:
            raise ProviderAdminError(
                f"{method} /__test__/{path} answered {response.status_code}: {response.text}"
            )
        return response.json()

    async def register_client(
        self,
        *,
        client_id: str,
        redirect_uris: list[str],
        client_secret: str | None = None,
        post_logout_redirect_uris: list[str] | None = None,
        backchannel_logout_uri: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Registers (or replaces) a client and returns its metadata as the provider sees it.

        Without ``client_secret`` the client is public (``token_endpoint_auth_method=none``);
        with one, ``client_secret_basic`` (``client_secret_post`` is accepted too). Any other
        oidc-provider client metadata can be passed as keyword arguments. When
        ``post_logout_redirect_uris`` is omitted it defaults to the origins of the redirect URIs
        plus ``/``. With ``backchannel_logout_uri``, ``backchannel_logout_session_required``
        defaults to true (so ID tokens and logout tokens carry ``sid``).
        """
        if post_logout_redirect_uris is None:
            post_logout_redirect_uris = sorted({urljoin(uri, "/") for uri in redirect_uris})
        metadata: dict[str, Any] = {
            "client_id": client_id,
            "redirect_uris": redirect_uris,
            "post_logout_redirect_uris": post_logout_redirect_uris,
            **extra,
        }
        if client_secret is not None:
            metadata["client_secret"] = client_secret
        if backchannel_logout_uri is not None:
            metadata["backchannel_logout_uri"] = backchannel_logout_uri
        return cast("dict[str, Any]", await self._admin("POST", "clients", metadata))

    async def counts(self) -> dict[str, int]:
        """Requests received per endpoint since the last reset (keys like ``token:refresh_token``)."""
        return cast("dict[str, int]", await self._admin("GET", "counts"))

    async def reset_counts(self) -> None:
        await self._admin("POST", "counts/reset")

    async def set_ttl(self, **seconds: int) -> None:
        """Sets lifetimes, e.g. ``set_ttl(AccessToken=2, IdToken=2, RefreshToken=60)``."""
        await self._admin("POST", "ttl", seconds)

    async def reset_ttl(self) -> None:
        await self._admin("POST", "ttl/reset")

    async def set_rotation(self, enabled: bool) -> None:
        """Whether refresh grants rotate the refresh token (on by default, as at Logto)."""
        await self._admin("POST", "rotation", {"enabled": enabled})

    async def revoke_grants(self, sub: str) -> None:
        """Revokes every grant of the user, and with them every refresh and access token."""
        await self._admin("POST", "grants/revoke", {"sub": sub})

    async def sessions(self) -> list[dict[str, Any]]:
        """Provider sessions: ``uid``, ``sub``, ``clients``, ``sids`` (per client) and ``sid``."""
        return cast("list[dict[str, Any]]", await self._admin("GET", "sessions"))

    async def backchannel_logout(
        self, *, sub: str, sid: str | None = None, client_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Sends real back-channel logout tokens to the matching clients.

        Returns one entry per notified client: ``client_id``, ``sid``, ``uri``, ``status`` (the
        HTTP status the client answered, or None) and ``error`` (None when 200/204).
        """
        body: dict[str, Any] = {"sub": sub}
        if sid is not None:
            body["sid"] = sid
        if client_id is not None:
            body["client_id"] = client_id
        return cast("list[dict[str, Any]]", await self._admin("POST", "backchannel-logout", body))

    async def rotate_keys(self, *, drop_old: bool = False, alg: str = "ES384") -> dict[str, Any]:
        """Adds a new signing key (new kid) used from now on; the old ones stay in the JWKS
        unless ``drop_old``. ``alg="RS256"`` switches signing (ID tokens of clients without an
        explicit alg, JWT access tokens) to a new RSA key."""
        body = {"drop_old": drop_old, "alg": alg}
        return cast("dict[str, Any]", await self._admin("POST", "keys/rotate", body))


def _drain(stream: IO[str], sink: collections.deque[str] | queue.Queue[str]) -> None:
    for line in stream:
        if isinstance(sink, queue.Queue):
            sink.put(line)
        else:
            sink.append(line)
    if isinstance(sink, queue.Queue):
        sink.put("")  # EOF: the process closed stdout (it exited)


def _provider_command(port: int, clients_file: str | None, demo: bool) -> list[str]:
    """The ``node server.mjs`` command line, after checking node and oidc-provider exist."""
    node = os.environ.get("NODE") or shutil.which("node")
    if node is None:
        raise ProviderStartError("node is not installed (or set NODE=/path/to/node)")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        raise ProviderStartError(f"oidc-provider is not installed: run `npm ci` in {PROVIDER_DIR}")
    command = [node, str(SERVER_SCRIPT), "--port", str(port), "--host", "127.0.0.1"]
    if clients_file is not None:
        command += ["--clients", str(Path(clients_file).resolve())]
    if demo:
        command.append("--demo")
    return command


class _Launch:
    """A provider process being started: its output readers and how to give up on it."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.process = subprocess.Popen(
            command,
            cwd=PROVIDER_DIR,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.stderr: collections.deque[str] = collections.deque(maxlen=200)
        self.stdout: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None and self.process.stderr is not None
        self.readers = [
            threading.Thread(target=_drain, args=(stream, sink), daemon=True)
            for stream, sink in ((self.process.stdout, self.stdout), (self.process.stderr, self.stderr))
        ]
        for reader in self.readers:
            reader.start()

    def fail(self, reason: str) -> ProviderStartError:
        """Kill the process, release its pipes, and say why with the stderr tail."""
        process = self.process
        if process.poll() is None:
            process.kill()
        process.wait(timeout=5)
        for reader in self.readers:
            reader.join(timeout=5)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
        tail = "".join(self.stderr).strip() or "(nothing on stderr)"
        return ProviderStartError(f"test provider {reason}; command: {self.command}\nstderr:\n{tail}")

    def ready_url(self) -> str:
        """The URL from the READY line; raises ``ProviderStartError`` if none comes."""
        try:
            line = self.stdout.get(timeout=START_TIMEOUT)
        except queue.Empty:
            raise self.fail(f"did not report READY within {START_TIMEOUT:.0f}s") from None
        if not line:
            raise self.fail(f"exited with code {self.process.wait(timeout=5)} before READY")
        if not line.startswith(READY_PREFIX):
            raise self.fail(f"printed {line!r} instead of READY")
        return line[len(READY_PREFIX) :].strip()


def start_provider(*, port: int = 0, clients_file: str | None = None, demo: bool = False) -> OidcTestProvider:
    """Starts ``node tests/provider/server.mjs`` and waits for its READY line."""
    launch = _Launch(_provider_command(port, clients_file, demo))
    provider = OidcTestProvider(launch.process, launch.ready_url(), launch.stderr, launch.readers)
    atexit.register(provider.stop)
    return provider


# -- driving the provider's pages -------------------------------------------------------------


class _Form:
    def __init__(self, attrs: dict[str, str | None]) -> None:
        self.action = attrs.get("action") or ""
        self.method = (attrs.get("method") or "get").lower()
        self.id = attrs.get("id")
        self.fields: dict[str, str] = {}


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[_Form] = []
        self._current: _Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self._current = _Form(attributes)
            self.forms.append(self._current)
        elif tag == "input" and self._current is not None:
            name = attributes.get("name")
            if name and attributes.get("type") not in {"submit", "button"}:
                self._current.fields[name] = attributes.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def _forms(html: str) -> list[_Form]:
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


def _page_text(response: httpx.Response, limit: int = 2000) -> str:
    return f"{response.request.method} {response.url} -> {response.status_code}\n{response.text[:limit]}"


async def _drive(
    client: httpx.AsyncClient,
    url: str,
    *,
    provider_prefix: str,
    on_page: Callable[[httpx.Response], Awaitable[httpx.Response | None]],
    max_steps: int = 20,
) -> httpx.Response:
    """Follows redirects from ``url``; once on the provider (first URL whose path starts with
    ``provider_prefix`` fixes its origin), lets ``on_page`` handle non-redirect provider pages
    and returns the first response from another origin."""
    provider: tuple[str, str, int | None] | None = None
    # The first request is the user's click on the app's own page (Fetch Metadata says so).
    response = await client.get(url, follow_redirects=False, headers={"sec-fetch-site": "same-origin"})
    for _ in range(max_steps):
        request_url = response.request.url
        if provider is None and request_url.path.startswith(provider_prefix):
            provider = _origin(request_url)
        if provider is not None and _origin(request_url) != provider:
            return response
        if response.is_redirect:
            location = urljoin(str(request_url), response.headers["location"])
            response = await client.get(location, follow_redirects=False)
            continue
        if provider is None:
            raise AssertionError(f"never reached the provider:\n{_page_text(response)}")
        next_response = await on_page(response)
        if next_response is None:
            return response
        response = next_response
    raise AssertionError(f"too many steps without leaving the provider:\n{_page_text(response)}")


async def provider_login(
    client: httpx.AsyncClient, authorize_url: str, *, username: str, password: str
) -> httpx.Response:
    """Signs in at the provider and returns the first response off the provider.

    ``authorize_url`` is the provider's authorization URL, or any URL that redirects there
    (e.g. the app's sign-in route). Redirects are followed by hand, the login form is
    submitted, the automatic consent step is followed, and the first response whose request
    URL is not on the provider (normally the app's callback) is returned without following it.
    Raises AssertionError with the page text when stuck (wrong password, provider error page).
    """
    submitted = False

    async def on_page(response: httpx.Response) -> httpx.Response:
        nonlocal submitted
        forms = [form for form in _forms(response.text) if "password" in form.fields]
        if response.status_code != 200 or not forms or submitted:
            raise AssertionError(f"sign-in stuck at the provider:\n{_page_text(response)}")
        submitted = True
        form = forms[0]
        data = {**form.fields, "username": username, "password": password}
        action = urljoin(str(response.request.url), form.action)
        return await client.post(action, data=data, follow_redirects=False)

    return await _drive(client, authorize_url, provider_prefix="/oidc/auth", on_page=on_page)


async def provider_logout(client: httpx.AsyncClient, end_session_url: str) -> httpx.Response:
    """Completes RP-initiated logout and returns the first response off the provider.

    ``end_session_url`` is the provider's end-session URL (with ``id_token_hint``,
    ``post_logout_redirect_uri``, ...) or any URL redirecting there (the app's sign-out
    route). The provider's self-submitting logout form is POSTed as is. Without a
    ``post_logout_redirect_uri`` the provider's "Signed out" page is returned.
    """
    posted = 0

    async def on_page(response: httpx.Response) -> httpx.Response | None:
        nonlocal posted
        forms = [form for form in _forms(response.text) if form.method == "post"]
        if response.status_code == 200 and not forms and "Signed out" in response.text:
            return None
        if response.status_code != 200 or len(forms) != 1 or posted >= 2:
            raise AssertionError(f"logout stuck at the provider:\n{_page_text(response)}")
        posted += 1
        action = urljoin(str(response.request.url), forms[0].action)
        return await client.post(action, data=forms[0].fields, follow_redirects=False)

    return await _drive(client, end_session_url, provider_prefix="/oidc/session/end", on_page=on_page)
