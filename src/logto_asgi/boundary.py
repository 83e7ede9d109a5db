"""The error boundary: how a ``LogtoError`` becomes a response, in one place.

``render_error`` is the default renderer: JSON unless the client prefers HTML (see
``prefers_html``), a small escaped page for people otherwise, ``Cache-Control:
no-store`` always, RFC 6750 ``WWW-Authenticate`` where it applies, ``Retry-After`` when
the error knows when a retry may succeed (a provider that failed a moment ago). The page
speaks to the user with the strings of a ``Messages`` table (``renderer_for`` builds the
same renderer with another one); the error's code and description are in its "details"
block for developers. ``send_error`` answers with a renderer; ``install_framework_handler``
registers the same rendering with frameworks that turn unknown exceptions into 500 pages
before they reach us, through each framework's documented hook.
"""

from __future__ import annotations

import html
import importlib
import json
import math
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.types import Scope, Send

from ._http import NO_STORE, send_response
from .errors import InsufficientScope, LogtoError, NotAuthenticated, TokenValidationError
from .messages import DEFAULT_MESSAGES, PAGE_POLICY, Messages, document

Headers = list[tuple[bytes, bytes]]


class BearerTokenRejected(TokenValidationError):
    """A bearer token failed validation: RFC 6750's 401 ``invalid_token``, always JSON,
    with no hint of which check failed (that goes to the log)."""

    status_code = 401

    def __init__(self, check: str) -> None:
        super().__init__("the access token is not valid for this API", check=check)


@dataclass(frozen=True, slots=True)
class RenderedError:
    """A response for an error: status, headers (content type included) and body."""

    status: int
    headers: Headers
    body: bytes


#: Turns an error into a response; ``link`` is an optional (href, label) to go on: the
#: sign-in URL of a 401, the route that starts a sign-in over after a failed callback.
ErrorRenderer = Callable[[Scope, LogtoError, "tuple[str, str] | None"], RenderedError]

#: Where the engine may record its renderer for code that answers on its own (guards).
#: Where the engine records how it answers errors (its ``ErrorResponder``), so guards
#: and framework handlers inside the app answer the same way (``on_error``, messages).
ERRORS_KEY = "logto_asgi.errors"


# Content negotiation (RFC 9110 12.5.1) ------------------------------------------------

#: Characters of ``Accept`` parsed; a browser's is under 300.
MAX_ACCEPT = 2048
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
#: The ranges that match application/json, most specific first.
_JSON_RANGES = ("application/json", "application/*", "*/*")
_TOKEN = r"[!#$%&'*+.^_`|~0-9a-z-]+"
_MEDIA_RANGE = re.compile(rf"{_TOKEN}/{_TOKEN}")
_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")


def _weight(params: list[str]) -> float | None:
    """The ``q`` of a media range's parameters (1 without one), ``None`` when invalid."""
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            value = value.strip()
            return float(value) if _QVALUE.fullmatch(value) else None
    return 1.0


def media_ranges(accept: str) -> Iterator[tuple[str, float]]:
    """The (media range, weight) pairs of an ``Accept`` value, lower-cased; malformed
    ones are skipped, and only the first ``MAX_ACCEPT`` characters are read."""
    if len(accept) > MAX_ACCEPT:
        accept = accept[:MAX_ACCEPT].rpartition(",")[0]
    for item in accept.split(","):
        media, *params = item.split(";")
        media = media.strip().lower()
        weight = _weight(params)
        if weight is not None and _MEDIA_RANGE.fullmatch(media):
            yield media, weight


def prefers_html(accept: str | None) -> bool:
    """Whether a client sending ``accept`` prefers an HTML page to JSON: it names
    ``text/html`` (or ``application/xhtml+xml``) with a weight above its ``*/*`` and at
    least that of ``application/json``. Browsers' navigations do; ``*/*`` (curl, fetch,
    httpx), no ``Accept`` and ``application/json`` do not."""
    if not accept:
        return False
    html_q = star_q = 0.0
    json_q: dict[str, float] = {}
    for media, weight in media_ranges(accept):
        if media in _HTML_TYPES:
            html_q = max(html_q, weight)
        if media == "*/*":
            star_q = max(star_q, weight)
        if media in _JSON_RANGES:
            json_q[media] = max(json_q.get(media, 0.0), weight)
    json_weight = next((json_q[media] for media in _JSON_RANGES if media in json_q), 0.0)
    return html_q > 0 and html_q > star_q and html_q >= json_weight


def accept_header(scope: Scope) -> str:
    """Every ``Accept`` header of the request, joined (RFC 9110 5.3)."""
    return ",".join(value.decode("latin-1") for name, value in scope.get("headers", ()) if name == b"accept")


def wants_json(scope: Scope) -> bool:
    """Whether the answer to this request is JSON: unless the client prefers HTML."""
    return not prefers_html(accept_header(scope))


# Headers ---------------------------------------------------------------------------


def www_authenticate(exc: LogtoError) -> Headers:
    if isinstance(exc, BearerTokenRejected):
        return [(b"www-authenticate", b'Bearer error="invalid_token"')]
    if isinstance(exc, InsufficientScope):
        value = 'Bearer error="insufficient_scope"'
        if exc.scopes:
            value += f', scope="{" ".join(exc.scopes)}"'
        return [(b"www-authenticate", value.encode("latin-1", "replace"))]
    if isinstance(exc, NotAuthenticated):
        return [(b"www-authenticate", b"Bearer")]
    return []


def retry_seconds(exc: LogtoError) -> int | None:
    """``exc.retry_after`` in whole seconds, rounded up, at least 1; ``None`` when unknown."""
    return None if exc.retry_after is None else max(1, math.ceil(exc.retry_after))


def retry_after(exc: LogtoError) -> Headers:
    """``Retry-After`` in whole seconds (rounded up, at least 1) for an error that carries
    ``retry_after``, such as a provider that failed a moment ago (RFC 9110 10.2.3)."""
    seconds = retry_seconds(exc)
    return [] if seconds is None else [(b"retry-after", str(seconds).encode())]


# Bodies ----------------------------------------------------------------------------


def error_json(exc: LogtoError, link: tuple[str, str] | None = None) -> bytes:
    """``{"error", "error_description"}``, with ``sign_in_url`` on a 401 that has a
    sign-in link and ``retry_after`` (seconds) when known."""
    payload: dict[str, Any] = {"error": exc.error, "error_description": exc.description}
    if link is not None and exc.status_code == 401:
        payload["sign_in_url"] = link[0]
    seconds = retry_seconds(exc)
    if seconds is not None:
        payload["retry_after"] = seconds
    return json.dumps(payload).encode()


#: Characters a retry link keeps as they are (RFC 3986 reserved and ``%``); everything
#: else is percent-encoded (a backslash, which browsers read as ``/``, included).
_TARGET_SAFE = "/?&=%:@!$'()*+,;~"
MAX_RETRY_TARGET = 2048


def retry_target(scope: Scope) -> str | None:
    """The path and query of a GET (or HEAD) to link back to, on this origin: never a
    URL built from ``Host``, never ``//other.example``; ``None`` for other methods or a
    target too long to be worth a link."""
    if scope.get("method") not in ("GET", "HEAD"):
        return None
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes) else str(scope.get("path") or "/")
    target = path.partition("?")[0]
    query = scope.get("query_string") or b""
    if query:
        target += "?" + query.decode("latin-1")
    target = "/" + quote(target, safe=_TARGET_SAFE).lstrip("/")
    return target if len(target) <= MAX_RETRY_TARGET else None


# The page --------------------------------------------------------------------------

_DETAILS = (
    "<details><summary>{summary}</summary><dl>"
    "<dt>{code_label}</dt><dd><code>{code}</code></dd>"
    "<dt>{description_label}</dt><dd>{description}</dd></dl></details>"
)


def page_link(
    scope: Scope, exc: LogtoError, link: tuple[str, str] | None, messages: Messages
) -> tuple[str, str] | None:
    """The page's one link (href, label). A 401 links to the sign-in it was given; a
    5xx to where the caller says to retry, else (a GET) to the same page again; another
    4xx to where the caller says to start again. Labels come from ``messages``."""
    status = exc.status_code
    action = messages.page(exc.error, status).action
    if status >= 500:
        href = link[0] if link is not None else retry_target(scope)
        return None if href is None else (href, action or messages.try_again)
    if link is None:
        return None
    if status == 401:
        return link[0], action or messages.sign_in
    if status == 403:
        return link[0], action or link[1]
    return link[0], action or messages.start_again


def error_page(
    scope: Scope, exc: LogtoError, link: tuple[str, str] | None = None, messages: Messages = DEFAULT_MESSAGES
) -> bytes:
    """The HTML page for ``exc``: headline, sentence and link from ``messages``, the
    error's code and description in a "details" block. Everything is escaped."""
    status = exc.status_code
    text = messages.page(exc.error, status)
    parts = [f"<h1>{html.escape(text.headline)}</h1>", f"<p>{html.escape(text.sentence)}</p>"]
    target = page_link(scope, exc, link, messages)
    if target is not None:
        parts.append(f'<p><a class="button" href="{html.escape(target[0])}">{html.escape(target[1])}</a></p>')
    parts.append(
        _DETAILS.format(
            summary=html.escape(messages.details),
            code_label=html.escape(messages.error_code),
            code=html.escape(exc.error),
            description_label=html.escape(messages.description),
            description=html.escape(exc.description),
        )
    )
    tone = "" if status == 401 else "c5" if status >= 500 else "c4"
    return document(messages.language, text.headline, "\n".join(parts), tone)


def error_body(
    scope: Scope,
    exc: LogtoError,
    *,
    link: tuple[str, str] | None = None,
    messages: Messages = DEFAULT_MESSAGES,
) -> tuple[bytes, bytes]:
    """A body and content type for ``exc``: JSON unless the client prefers HTML (and
    always for rejected bearer tokens), else the page."""
    if isinstance(exc, BearerTokenRejected) or wants_json(scope):
        return error_json(exc, link), b"application/json"
    return error_page(scope, exc, link, messages), b"text/html; charset=utf-8"


# Renderers -------------------------------------------------------------------------


def _render(scope: Scope, exc: LogtoError, link: tuple[str, str] | None, messages: Messages) -> RenderedError:
    body, content_type = error_body(scope, exc, link=link, messages=messages)
    headers = [*www_authenticate(exc), *retry_after(exc), (b"content-type", content_type)]
    if content_type.startswith(b"text/html"):
        headers.append((b"content-security-policy", PAGE_POLICY.encode()))
    return RenderedError(exc.status_code, headers, body)


def render_error(scope: Scope, exc: LogtoError, link: tuple[str, str] | None = None) -> RenderedError:
    """The built-in rendering of ``exc``, in English (``DEFAULT_MESSAGES``)."""
    return _render(scope, exc, link, DEFAULT_MESSAGES)


def renderer_for(messages: Messages) -> ErrorRenderer:
    """The built-in renderer speaking ``messages`` (``render_error`` itself for the
    English table), for ``error_renderer=``."""
    if messages is DEFAULT_MESSAGES:
        return render_error

    def render(scope: Scope, exc: LogtoError, link: tuple[str, str] | None = None) -> RenderedError:
        return _render(scope, exc, link, messages)

    return render


async def rendered_for(
    scope: Scope, exc: LogtoError, link: tuple[str, str] | None = None, renderer: ErrorRenderer = render_error
) -> RenderedError:
    """How the engine serving ``scope`` answers ``exc``: the app's ``on_error`` first,
    then its renderer (``ERRORS_KEY``); ``renderer`` outside any engine."""
    answerer = scope.get(ERRORS_KEY)
    rendered = getattr(answerer, "rendered", None)
    if callable(rendered):
        result: RenderedError = await rendered(scope, exc, link)
        return result
    return renderer(scope, exc, link)


async def send_error(
    scope: Scope,
    send: Send,
    exc: LogtoError,
    *,
    headers: Iterable[tuple[bytes, bytes]] = (),
    link: tuple[str, str] | None = None,
    renderer: ErrorRenderer = render_error,
) -> None:
    """Answer ``exc`` (``headers`` added, e.g. cookie deletions)."""
    rendered = renderer(scope, exc, link)
    await send_response(send, rendered.status, rendered.body, headers=[*rendered.headers, *headers])


def close_code(exc: LogtoError) -> int:
    """The websocket close code for a refusal: 1011 when the server side failed."""
    return 1011 if exc.status_code >= 500 else 1008


async def refuse(scope: Scope, send: Send, exc: LogtoError, renderer: ErrorRenderer = render_error) -> None:
    """Answer ``exc`` on an HTTP request, or close a websocket before accepting it."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": close_code(exc)})
    else:
        await send_error(scope, send, exc, renderer=renderer)


def str_headers(headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """Raw ASGI headers as the ``dict[str, str]`` frameworks' responses take."""
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in headers}


def install_framework_handler(app: Any, renderer: ErrorRenderer = render_error) -> None:
    """Let a ``LogtoError`` raised in a handler become its own response inside Starlette
    (FastAPI), Quart, Litestar and Falcon, which would otherwise answer 500 before it
    reaches us. Uses the documented hooks: ``Starlette.add_exception_handler``,
    ``Quart.register_error_handler``, Litestar's ``exception_handlers``, Falcon's
    ``add_error_handler`` (``logto_asgi.litestar``, ``logto_asgi.falcon``). Other apps
    need nothing: the error reaches the middleware's boundary."""
    starlette_apps = sys.modules.get("starlette.applications")
    quart = sys.modules.get("quart")
    litestar = sys.modules.get("litestar")
    falcon_asgi = sys.modules.get("falcon.asgi")
    if starlette_apps is not None and isinstance(app, starlette_apps.Starlette):
        _install_starlette(app, renderer)
    elif quart is not None and isinstance(app, quart.Quart):
        _install_quart(app, quart, renderer)
    elif litestar is not None and isinstance(app, litestar.Litestar):
        importlib.import_module("logto_asgi.litestar").install(app, renderer)
    elif falcon_asgi is not None and isinstance(app, falcon_asgi.App):
        importlib.import_module("logto_asgi.falcon").install(app, renderer)


def _install_starlette(app: Any, renderer: ErrorRenderer) -> None:
    responses = sys.modules["starlette.responses"]
    if LogtoError in app.exception_handlers:
        return

    async def handle(request: Any, exc: Exception) -> Any:
        assert isinstance(exc, LogtoError)
        rendered = await rendered_for(request.scope, exc, None, renderer)
        return responses.Response(
            rendered.body, status_code=rendered.status, headers=str_headers([*NO_STORE, *rendered.headers])
        )

    app.add_exception_handler(LogtoError, handle)


def _install_quart(app: Any, quart: Any, renderer: ErrorRenderer) -> None:
    async def handle(exc: LogtoError) -> tuple[bytes, int, dict[str, str]]:
        scope = quart.request.scope if quart.has_request_context() else {"headers": []}
        rendered = await rendered_for(scope, exc, None, renderer)
        return rendered.body, rendered.status, str_headers([*NO_STORE, *rendered.headers])

    app.register_error_handler(LogtoError, handle)
