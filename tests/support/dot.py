"""Launcher and async admin client for the second test OpenID Provider: django-oauth-toolkit.

The provider (``tests/support/dot_provider``) is django-oauth-toolkit 3 on Django 5.2, served
by uvicorn in a subprocess, with a fresh SQLite database and a fresh RS256 key at each start.
It differs from the npm provider (:mod:`support.provider`) in many ways a client must cope
with: issuer ``{url}/o`` (DOT's own derivation, no trailing slash) or ``{url}/o/`` when
started with ``issuer_trailing_slash=True``; RS256 ID tokens; opaque access tokens; no
``offline_access`` scope (refresh tokens come with every code grant); introspection and
revocation endpoints absent from OIDC discovery (only in ``/o/.well-known/oauth-authorization-server``);
end-session without a prompt when ``id_token_hint`` names the signed-in user.

Start it with :func:`start_dot_provider`; sign in with :func:`dot_login` and sign out with
:func:`dot_logout`, both driving an ``httpx.AsyncClient`` that plays the browser (its cookie
jar keeps the provider's session). Users: ``alice`` / ``alice-password`` (Alice Liddell,
alice@example.com) and ``bob`` / ``bob-password`` (Bob Builder, bob@example.com).
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from html.parser import HTMLParser
from pathlib import Path
from types import TracebackType
from typing import Any, TypedDict, cast
from urllib.parse import urljoin, urlsplit

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = [
    "PASSWORDS",
    "DotAdminError",
    "DotClient",
    "DotProvider",
    "DotStartError",
    "dot_login",
    "dot_logout",
    "start_dot_provider",
]

TESTS_DIR = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
#: The seeded users' passwords (see ``dot_provider/__main__.py``).
PASSWORDS = {"alice": "alice-password", "bob": "bob-password"}
#: Paths served by the provider itself; a redirect anywhere else leaves the provider.
PROVIDER_PATHS = ("/o/", "/accounts/")


class DotStartError(RuntimeError):
    """The provider process exited, or did not serve discovery in time."""


class DotAdminError(RuntimeError):
    """An admin call (``/__test__/...``) failed; the message carries the response body."""


class DotClient(TypedDict):
    """A registered client: ``client_secret`` is the plain secret (None for public clients)."""

    client_id: str
    client_secret: str | None


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _rsa_private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem.decode("ascii")


class DotProvider:
    """A running django-oauth-toolkit process and an async client for its ``/__test__/`` API."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, issuer: str, workdir: Path) -> None:
        self._process = process
        self._workdir = workdir
        self.url = url
        self.issuer = issuer
        self.pid = process.pid
        base = f"{url}/o"
        self.discovery_url = f"{base}/.well-known/openid-configuration"
        self.oauth_metadata_url = f"{base}/.well-known/oauth-authorization-server"
        self.authorization_endpoint = f"{base}/authorize/"
        self.token_endpoint = f"{base}/token/"
        self.userinfo_endpoint = f"{base}/userinfo/"
        self.jwks_uri = f"{base}/.well-known/jwks.json"
        self.end_session_endpoint = f"{base}/logout/"
        self.introspection_endpoint = f"{base}/introspect/"
        self.revocation_endpoint = f"{base}/revoke_token/"

    # -- process ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    @property
    def output(self) -> str:
        """Everything the process wrote (stdout and stderr) so far."""
        try:
            return (self._workdir / "server.log").read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        """Terminates the process by its PID and removes its temporary directory (idempotent)."""
        atexit.unregister(self.stop)
        process = self._process
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> DotProvider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"DotProvider(url={self.url!r}, pid={self.pid}, running={self.running})"

    # -- admin API -------------------------------------------------------------------------

    async def _admin(
        self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None
    ) -> Any:
        async with httpx.AsyncClient(base_url=self.url, timeout=10.0) as client:
            response = await client.request(method, f"/__test__/{path}", json=body, params=params)
        if response.status_code >= 400:
            raise DotAdminError(f"{method} /__test__/{path} answered {response.status_code}: {response.text}")
        return response.json()

    async def register_client(
        self,
        *,
        redirect_uris: list[str],
        post_logout_redirect_uris: list[str] | None = None,
        confidential: bool = True,
        skip_authorization: bool = True,
        client_id: str | None = None,
        allowed_origins: list[str] | None = None,
    ) -> DotClient:
        """Creates an authorization-code application signing ID tokens with RS256.

        ``post_logout_redirect_uris`` defaults to the origins of the redirect URIs plus ``/``.
        With ``skip_authorization`` (default) DOT shows no consent page. A confidential
        client authenticates with ``client_secret_basic`` or ``client_secret_post``.
        """
        if post_logout_redirect_uris is None:
            post_logout_redirect_uris = sorted({urljoin(uri, "/") for uri in redirect_uris})
        body: dict[str, Any] = {
            "redirect_uris": redirect_uris,
            "post_logout_redirect_uris": post_logout_redirect_uris,
            "confidential": confidential,
            "skip_authorization": skip_authorization,
            "allowed_origins": allowed_origins or [],
        }
        if client_id is not None:
            body["client_id"] = client_id
        return cast("DotClient", await self._admin("POST", "clients", body))

    async def register_resource_server(self) -> DotClient:
        """A confidential application whose HTTP Basic credentials may call introspection."""
        return cast("DotClient", await self._admin("POST", "resource-servers"))

    async def counts(self) -> dict[str, int]:
        """Requests since the last reset: ``token:<grant_type>``, ``introspect``, ``userinfo``,
        ``revoke``, ``logout`` (each end-session request), ``authorize``, ``discovery``, ``jwks``."""
        return cast("dict[str, int]", await self._admin("GET", "counts"))

    async def reset_counts(self) -> None:
        await self._admin("POST", "counts/reset")

    async def set_rotation(self, rotate: bool) -> None:
        """Whether refresh grants rotate the refresh token, from the next grant on (default on)."""
        await self._admin("POST", "rotation", {"rotate": rotate})

    async def active_sessions(self, username: str) -> int:
        """The number of unexpired provider (Django) sessions of the user."""
        answer = await self._admin("GET", "sessions", params={"username": username})
        return int(answer["active"])

    async def revoke_all(self, username: str) -> dict[str, int]:
        """Revokes every refresh and access token of the user and ends their provider sessions;
        returns how many of each (``refresh_tokens``, ``access_tokens``, ``sessions``)."""
        answer = await self._admin("POST", "revoke-all", params={"username": username})
        return cast("dict[str, int]", answer)


def _wait_until_ready(process: subprocess.Popen[bytes], discovery_url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    with httpx.Client(timeout=2.0) as client:
        while True:
            if process.poll() is not None:
                output = log.read_text(encoding="utf-8", errors="replace")
                raise DotStartError(f"the DOT provider exited with code {process.returncode}:\n{output}")
            try:
                if client.get(discovery_url).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                output = log.read_text(encoding="utf-8", errors="replace")
                raise DotStartError(f"the DOT provider did not serve {discovery_url} in time:\n{output}")
            time.sleep(0.05)


def start_dot_provider(
    *,
    rotate_refresh_token: bool = True,
    issuer_trailing_slash: bool = False,
    authorization_response_iss: bool = False,
    access_token_seconds: int | None = None,
    host: str = "127.0.0.1",
) -> DotProvider:
    """Starts ``python -m support.dot_provider`` on a free port and waits for discovery.

    ``issuer_trailing_slash`` sets the issuer to ``{url}/o/`` (DOT's ``OIDC_ISS_ENDPOINT``)
    instead of the derived ``{url}/o``; ``authorization_response_iss`` turns on RFC 9207
    (``iss`` in authorization responses); ``access_token_seconds`` shortens access tokens
    (DOT's default: 36,000 s). Stop it with :meth:`DotProvider.stop` or ``with``.
    """
    port = _free_port(host)
    url = f"http://{host}:{port}"
    issuer = f"{url}/o/" if issuer_trailing_slash else f"{url}/o"
    workdir = Path(tempfile.mkdtemp(prefix="dot-provider-"))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "DJANGO_SETTINGS_MODULE": "support.dot_provider.settings",
        "DOT_DATABASE": str(workdir / "db.sqlite3"),
        "OIDC_RSA_PRIVATE_KEY": _rsa_private_key_pem(),
        "ROTATE_REFRESH_TOKEN": "1" if rotate_refresh_token else "0",
        "OIDC_ISS_ENDPOINT": issuer if issuer_trailing_slash else "",
        "AUTHZ_RESPONSE_ISS": "1" if authorization_response_iss else "0",
        "DOT_ACCESS_TOKEN_SECONDS": str(access_token_seconds or ""),
        "PYTHONUNBUFFERED": "1",
    }
    log = workdir / "server.log"
    command = [sys.executable, "-m", "support.dot_provider", "--host", host, "--port", str(port)]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=TESTS_DIR, env=env, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT
        )
    provider = DotProvider(process, url, issuer, workdir)
    atexit.register(provider.stop)
    try:
        _wait_until_ready(process, provider.discovery_url, log)
    except BaseException:
        provider.stop()
        raise
    return provider


# -- driving the provider's pages -------------------------------------------------------------


class _Form:
    def __init__(self, attrs: dict[str, str | None]) -> None:
        self.action = attrs.get("action") or ""
        self.method = (attrs.get("method") or "get").lower()
        self.fields: dict[str, str] = {}
        self.buttons: dict[str, str] = {}  # named submit inputs/buttons (DOT's "allow")


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
            return
        name = attributes.get("name")
        if self._current is None or not name or tag not in {"input", "button"}:
            return
        if tag == "button" or attributes.get("type") in {"submit", "button"}:
            self._current.buttons[name] = attributes.get("value") or ""
        else:
            self._current.fields[name] = attributes.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def _forms(html: str) -> list[_Form]:
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


def _page_text(response: httpx.Response, limit: int = 2000) -> str:
    return f"{response.request.method} {response.url} -> {response.status_code}\n{response.text[:limit]}"


def _on_provider(url: str, provider_origin: tuple[str, str]) -> bool:
    parts = urlsplit(url)
    return (parts.scheme, parts.netloc) == provider_origin and parts.path.startswith(PROVIDER_PATHS)


async def _post_form(
    http: httpx.AsyncClient, response: httpx.Response, form: _Form, **data: str
) -> httpx.Response:
    action = urljoin(str(response.request.url), form.action)
    return await http.post(action, data={**form.fields, **data}, follow_redirects=False)


async def _walk(
    http: httpx.AsyncClient,
    url: str,
    *,
    marker: str,
    on_page: Callable[[httpx.Response], Awaitable[httpx.Response]],
    max_steps: int = 20,
) -> str:
    """GETs ``url`` and follows redirects by hand; once a URL whose path starts with ``marker``
    fixes the provider's origin, returns the first redirect target off the provider (not
    requested). Provider pages (non-redirects) go to ``on_page``, which returns the next response."""
    provider: tuple[str, str] | None = None
    response = await http.get(url, follow_redirects=False)
    for _ in range(max_steps):
        request_url = urlsplit(str(response.request.url))
        if provider is None and request_url.path.startswith(marker):
            provider = (request_url.scheme, request_url.netloc)
        if response.is_redirect:
            location = urljoin(str(response.request.url), response.headers["location"])
            if provider is not None and not _on_provider(location, provider):
                return location
            response = await http.get(location, follow_redirects=False)
            continue
        if provider is None:
            raise AssertionError(f"never reached the provider:\n{_page_text(response)}")
        response = await on_page(response)
    raise AssertionError(f"too many steps without leaving the provider:\n{_page_text(response)}")


async def dot_login(
    http: httpx.AsyncClient, authorization_url: str, username: str = "alice", password: str | None = None
) -> str:
    """Signs in at the provider; returns the URL it finally redirects to (the client's
    ``redirect_uri`` with ``code`` and ``state``, or with ``error=...``), without requesting it.

    ``authorization_url`` is the provider's ``/o/authorize/`` URL or any URL redirecting there
    (the app's sign-in route). The login form is posted (unless ``http`` already holds a
    provider session) and DOT's approval page, if shown, is approved. ``password`` defaults to
    the seeded user's. Raises AssertionError with the page text when stuck.
    """
    secret = password if password is not None else PASSWORDS[username]
    logins = 0

    async def on_page(response: httpx.Response) -> httpx.Response:
        nonlocal logins
        forms = [form for form in _forms(response.text) if form.method == "post"]
        if response.status_code == 200 and len(forms) == 1:
            form = forms[0]
            if "password" in form.fields and logins == 0:
                logins += 1
                return await _post_form(http, response, form, username=username, password=secret)
            if "allow" in form.buttons and "client_id" in form.fields:
                return await _post_form(http, response, form, allow=form.buttons["allow"])
        raise AssertionError(f"sign-in stuck at the provider:\n{_page_text(response)}")

    return await _walk(http, authorization_url, marker="/o/authorize/", on_page=on_page)


async def dot_logout(http: httpx.AsyncClient, end_session_url: str) -> str:
    """Completes RP-initiated logout; returns the URL the provider redirects to afterwards
    (``post_logout_redirect_uri`` with ``state``, or ``{url}/`` without one), not requested.

    ``end_session_url`` is the provider's ``/o/logout/`` URL or any URL redirecting there.
    DOT logs out at once when ``id_token_hint`` names the signed-in user (or nobody is signed
    in); otherwise it shows a confirm form, which is submitted with ``allow``.
    """
    confirmed = False

    async def on_page(response: httpx.Response) -> httpx.Response:
        nonlocal confirmed
        forms = [form for form in _forms(response.text) if form.method == "post"]
        if response.status_code == 200 and len(forms) == 1 and "allow" in forms[0].buttons and not confirmed:
            confirmed = True
            return await _post_form(http, response, forms[0], allow=forms[0].buttons["allow"])
        raise AssertionError(f"logout stuck at the provider:\n{_page_text(response)}")

    return await _walk(http, end_session_url, marker="/o/logout/", on_page=on_page)
