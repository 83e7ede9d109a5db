"""``return_to``: the sign-in route's query, through ``LogtoMiddleware``, down to where the
callback will send the browser.

Input: the raw query string of ``GET /sign-in`` (``return_to`` and the forwarded sign-in
options, in any encoding, repeated, malformed). The route validates ``return_to`` and
keeps it in the encrypted transaction cookie; the target decrypts that cookie and checks
the value the callback would put in ``Location``.

Allowed outcomes: a redirect to the provider's authorization endpoint whose transaction
``return_to`` is ASCII and, as a browser resolves it (tabs and newlines dropped, ``\\`` read
as ``/``) — also after up to three rounds of percent-decoding — stays on the app's
origin; or an error page below 500. Any exception is a crash.
"""

from __future__ import annotations

from urllib.parse import unquote, urljoin, urlsplit

from logto_asgi._crypto import InvalidToken
from logto_asgi.transaction import Transaction, cookie_name

from ._fixtures import AUTHORIZE, NOW, ORIGIN, logto_middleware, set_cookies
from ._harness import HarnessError, Target, http_scope, request

_C0_AND_SPACE = "".join(chr(c) for c in range(0x21))
_APP = urlsplit(ORIGIN)


def browser_origin(location: str) -> tuple[str, str]:
    """Where a browser on the callback page goes for ``location``: (scheme, host).
    WHATWG URL: leading and trailing C0 controls and spaces go, tabs and newlines
    anywhere go, and a backslash is a slash in http(s) URLs."""
    cleaned = location.strip(_C0_AND_SPACE)
    cleaned = cleaned.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    parts = urlsplit(urljoin(f"{ORIGIN}/callback", cleaned))
    return parts.scheme, parts.netloc


def check_return_to(value: str) -> None:
    if not value.isascii() or not value.isprintable():
        raise HarnessError(f"return_to is not printable ASCII: {value!r}")
    decoded = value
    for _ in range(4):
        if browser_origin(decoded) != (_APP.scheme, _APP.netloc):
            raise HarnessError(f"return_to {value!r} leaves the app as {decoded!r}")
        decoded = unquote(decoded)


def _seeds() -> list[bytes]:
    values = [
        "return_to=/dashboard",
        "return_to=/caf%C3%A9?x=1#top",
        "return_to=%2Fdashboard%3Fa%3Db",
        "return_to=//evil.example",
        "return_to=/%2Fevil.example",
        "return_to=/%252F%252Fevil.example",
        "return_to=/%5Cevil.example",
        "return_to=%09/%09/evil.example",
        "return_to=https://evil.example/",
        "return_to=javascript:alert(1)",
        "return_to=/ok&return_to=//evil.example",
        "return_to=/a%0d%0aSet-Cookie:%20x=1",
        "return_to=/" + "a" * 2100,
        "interaction_mode=signUp&first_screen=register&login_hint=a%40b.example"
        "&direct_sign_in=social:google&return_to=/x",
        "login_hint=%E2%80%AE&direct_sign_in=sso:" + "a" * 129,
        "&".join(f"p{i}=v" for i in range(70)),
        "",
    ]
    return [v.encode("latin-1") for v in values]


def build() -> Target:
    middleware = logto_middleware()
    core = middleware.core
    prefix = cookie_name(core.config.cookie_name, "")

    def test_one_input(data: bytes) -> None:
        answer = request(middleware, http_scope("/sign-in", query=data))
        if answer.status >= 500:
            raise HarnessError(f"the sign-in answered HTTP {answer.status}: {answer.body[:300]!r}")
        if answer.status != 302:
            return
        if not (answer.header(b"location") or "").startswith(f"{AUTHORIZE}?"):
            raise HarnessError(f"the sign-in redirected to {answer.header(b'location')!r}")
        pending = [(k, v) for k, v in set_cookies(answer.headers).items() if k.startswith(prefix) and v]
        if len(pending) != 1:
            raise HarnessError(f"the sign-in set {len(pending)} transaction cookies")
        name, value = pending[0]
        try:
            tx = Transaction.decode(value, core.transactions, state=name[len(prefix) :], now=NOW)
        except InvalidToken as exc:
            raise HarnessError("the sign-in's own transaction cookie does not decode") from exc
        check_return_to(tx.return_to)

    return Target("return_to", test_one_input, _seeds, None, 8192)
