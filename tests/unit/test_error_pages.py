"""The built-in error pages: what they say, their one link, the developers' details, the
JSON for API clients, escaping, and another language's table."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from dataclasses import replace
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from logto_asgi.boundary import (
    ERRORS_KEY,
    BearerTokenRejected,
    RenderedError,
    install_framework_handler,
    render_error,
    rendered_for,
    renderer_for,
    retry_target,
)
from logto_asgi.error_hook import ErrorResponder
from logto_asgi.errors import (
    AccessDenied,
    AuthorizationError,
    InsufficientScope,
    InvalidRequest,
    LogtoError,
    NotAuthenticated,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    SessionExpired,
    StoreUnavailable,
    TransactionError,
)
from logto_asgi.messages import (
    DEFAULT_MESSAGES,
    NOTICE_PARAMETER,
    PAGE_POLICY,
    SIGN_IN_CANCELLED,
    Messages,
    PageText,
    notice_text,
    sign_out_page,
    with_notice,
)

BROWSER = b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
PAYLOAD = "\"'><script>alert(1)</script>&"

FRENCH = Messages(
    language="fr",
    pages={
        "400": PageText("La connexion n'a pas abouti", "Quelque chose l'a interrompue : recommencez."),
        "401": PageText("Vous devez vous connecter", "Connectez-vous pour voir cette page."),
        "403": PageText("Vous n'avez pas accès à cette page", "Votre compte n'y est pas autorisé."),
        "503": PageText("Le service de connexion est injoignable", "Réessayez dans une minute."),
        "5xx": PageText("Le service de connexion ne répond pas", "Réessayez dans une minute."),
        "default": PageText("Une erreur est survenue", "Réessayez plus tard."),
    },
    sign_in="Se connecter",
    start_again="Recommencer",
    try_again="Réessayer",
    details="Détails pour les développeurs",
    error_code="Code d'erreur",
    description="Description",
    notices={SIGN_IN_CANCELLED: "La connexion a été annulée."},
    sign_out_title="Se déconnecter ?",
    sign_out_sentence="Un autre site demande à vous déconnecter de cette application.",
    sign_out_button="Se déconnecter",
    sign_out_cancel="Rester connecté",
)


def scope(
    accept: bytes | None = BROWSER,
    *,
    method: str = "GET",
    path: str = "/orders",
    raw_path: bytes | None = None,
    query: bytes = b"",
    host: bytes = b"app.example.com",
) -> dict[str, Any]:
    headers = [(b"host", host)]
    if accept is not None:
        headers.append((b"accept", accept))
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode() if raw_path is None else raw_path,
        "query_string": query,
        "headers": headers,
    }


def text(rendered: RenderedError) -> str:
    return rendered.body.decode("utf-8")


def header(rendered: RenderedError, name: bytes) -> str | None:
    values = [value.decode() for key, value in rendered.headers if key == name]
    return values[0] if values else None


def links(rendered: RenderedError) -> list[tuple[str, str]]:
    return [
        (html.unescape(href), html.unescape(label))
        for href, label in re.findall(r'<a class="button" href="([^"]*)">([^<]*)</a>', text(rendered))
    ]


def visible(rendered: RenderedError) -> tuple[str, str]:
    """The headline and the sentence."""
    page = text(rendered)
    found = re.search(r"<h1>(.*?)</h1>\n<p>(.*?)</p>", page)
    assert found is not None, page
    return html.unescape(found.group(1)), html.unescape(found.group(2))


PAGES = [
    pytest.param(
        NotAuthenticated("sign in first"),
        ("/sign-in?return_to=%2Forders", "Sign in"),
        ("You need to sign in", "Sign in to continue to this page."),
        [("/sign-in?return_to=%2Forders", "Sign in")],
        id="401",
    ),
    pytest.param(
        SessionExpired("the refresh token was rejected"),
        ("/sign-in", "Sign in"),
        ("Your session has ended", "Please sign in again to continue."),
        [("/sign-in", "Sign in again")],
        id="401-session-expired",
    ),
    pytest.param(
        InsufficientScope("this route needs the scope(s) write", scopes=["write"]),
        None,
        ("You don't have access to this page", DEFAULT_MESSAGES.pages["403"].sentence),
        [],
        id="403",
    ),
    pytest.param(
        AccessDenied("not a member of org-1"),
        None,
        ("You don't have access to this page", DEFAULT_MESSAGES.pages["403"].sentence),
        [],
        id="403-access-denied",
    ),
    pytest.param(
        TransactionError("the sign-in attempt expired"),
        ("/sign-in", "Sign in again"),
        ("Sign-in didn't complete", "This sign-in link has expired or was already used. Please start again."),
        [("/sign-in", "Start again")],
        id="400-callback",
    ),
    pytest.param(
        AuthorizationError("the provider did not sign you in", provider_error="login_required"),
        ("/sign-in", "Sign in again"),
        ("Sign-in didn't complete", "The sign-in service did not sign you in. You can start again."),
        [("/sign-in", "Start again")],
        id="400-refused",
    ),
    pytest.param(
        InvalidRequest("the query has more than 64 parameters"),
        None,
        ("Sign-in didn't complete", "Something interrupted the sign-in. Please start again."),
        [],
        id="400-no-link",
    ),
    pytest.param(
        ProviderUnavailable("the provider could not be reached", retry_after=2.5),
        None,
        ("We can't reach the sign-in service right now", "Try again in a minute."),
        [("/orders?page=2", "Try again")],
        id="503",
    ),
    pytest.param(
        StoreUnavailable("the session store cannot be reached"),
        None,
        ("We can't load your session right now", "Try again in a minute."),
        [("/orders?page=2", "Try again")],
        id="503-store",
    ),
    pytest.param(
        ProviderError("the token response has no id_token"),
        None,
        ("The sign-in service isn't working right now", DEFAULT_MESSAGES.pages["502"].sentence),
        [("/orders?page=2", "Try again")],
        id="502",
    ),
    pytest.param(
        ProviderTimeout("the provider did not answer in time"),
        ("/sign-in", "Sign in again"),
        ("The sign-in service is taking too long to respond", "Try again in a minute."),
        [("/sign-in", "Try again")],
        id="504-callback-retries-from-the-sign-in",
    ),
    pytest.param(
        LogtoError("something else"),
        None,
        ("Something went wrong on our side", "Try again later."),
        [("/orders?page=2", "Try again")],
        id="500",
    ),
]


@pytest.mark.parametrize(("exc", "link", "says", "expected_links"), PAGES)
def test_each_page_speaks_to_the_user_and_keeps_the_details(
    exc: LogtoError,
    link: tuple[str, str] | None,
    says: tuple[str, str],
    expected_links: list[tuple[str, str]],
) -> None:
    """Headline, sentence and link for people; code and description under the details."""
    rendered = render_error(scope(query=b"page=2"), exc, link)
    assert rendered.status == exc.status_code
    assert header(rendered, b"content-type") == "text/html; charset=utf-8"
    assert visible(rendered) == says
    assert links(rendered) == expected_links
    page = text(rendered)
    assert '<html lang="en">' in page
    assert f"<title>{html.escape(says[0])}</title>" in page
    details = re.search(r"<details><summary>Details for developers</summary>(.*)</details>", page)
    assert details is not None, page
    assert f"<dd><code>{exc.error}</code></dd>" in details.group(1)
    assert f"<dd>{html.escape(exc.description)}</dd>" in details.group(1)
    # Self-contained, script-free, and nothing a traceback scan would flag.
    for absent in ("<script", "src=", "http://", "https://", "@import", "url(", "Traceback", "line ", ".py"):
        assert absent not in page, absent


def test_the_page_policy_allows_exactly_its_style_sheet() -> None:
    """CSP: default-src 'none' and the hash of the one inline style; JSON gets no policy."""
    rendered = render_error(scope(), ProviderUnavailable("down"))
    assert header(rendered, b"content-security-policy") == PAGE_POLICY
    style = re.search(r"<style>(.*?)</style>", text(rendered), re.DOTALL)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in PAGE_POLICY
    assert PAGE_POLICY.startswith("default-src 'none';")
    assert (
        header(render_error(scope(b"*/*"), ProviderUnavailable("down")), b"content-security-policy") is None
    )


def test_everything_echoed_is_escaped() -> None:
    """The description, the code, the caller's link and the request's path and query."""
    exc = NotAuthenticated(PAYLOAD)
    page = text(render_error(scope(), exc, (f"/sign-in?x={PAYLOAD}", PAYLOAD)))
    assert "<script>" not in page and "\"'>" not in page
    assert html.escape(PAYLOAD) in page
    outage = render_error(
        scope(path="/a", raw_path=b'/a"><script>', query=b'q="><img src=x>'), ProviderUnavailable(PAYLOAD)
    )
    assert "<script>" not in text(outage) and "<img" not in text(outage)
    assert links(outage) == [("/a%22%3E%3Cscript%3E?q=%22%3E%3Cimg%20src=x%3E", "Try again")]


@pytest.mark.parametrize(
    ("raw_path", "query", "expected"),
    [
        (b"/orders", b"", "/orders"),
        (b"/orders/%2F2", b"a=1&b=%26", "/orders/%2F2?a=1&b=%26"),
        (b"//evil.example/x", b"", "/evil.example/x"),
        (b"/\\evil.example", b"", "/%5Cevil.example"),
        (b"///\\/evil.example", b"", "/%5C/evil.example"),
        (b"/caf\xc3\xa9", b"q=\xff", "/caf%C3%83%C2%A9?q=%C3%BF"),
        (b"/a#frag", b"", "/a%23frag"),
        (b"http://evil.example/x", b"", "/http://evil.example/x"),
    ],
)
def test_the_retry_link_is_a_path_on_this_origin(raw_path: bytes, query: bytes, expected: str) -> None:
    """Never a full URL, never //host, never a backslash a browser would read as /."""
    assert retry_target(scope(raw_path=raw_path, query=query, host=b"evil.example")) == expected


def test_the_retry_link_is_only_for_get_and_not_too_long() -> None:
    outage = ProviderUnavailable("down")
    assert links(render_error(scope(method="POST"), outage)) == []
    assert visible(render_error(scope(method="POST"), outage))[1] == "Try again in a minute."
    assert retry_target(scope(method="HEAD")) == "/orders"
    assert retry_target(scope(query=b"x=" + b"a" * 3000)) is None
    assert retry_target({"method": "GET", "path": "/from-path", "query_string": b""}) == "/from-path"
    assert retry_target({"method": "GET", "path": "/sp ace", "raw_path": None}) == "/sp%20ace"


def test_retry_after_header_and_json_field() -> None:
    rendered = render_error(scope(b"application/json"), ProviderUnavailable("down", retry_after=2.2))
    assert header(rendered, b"retry-after") == "3"
    assert json.loads(rendered.body) == {
        "error": "provider_unavailable",
        "error_description": "down",
        "retry_after": 3,
    }
    page = render_error(scope(), ProviderUnavailable("down", retry_after=0.1))
    assert header(page, b"retry-after") == "1"
    plain = render_error(scope(b"*/*"), ProviderUnavailable("down"))
    assert header(plain, b"retry-after") is None and "retry_after" not in json.loads(plain.body)


def test_json_carries_the_sign_in_url_on_401s_only() -> None:
    link = ("/sign-in?return_to=%2Forders", "Sign in")
    api = scope(None)
    assert json.loads(render_error(api, NotAuthenticated("sign in first"), link).body) == {
        "error": "not_authenticated",
        "error_description": "sign in first",
        "sign_in_url": "/sign-in?return_to=%2Forders",
    }
    assert "sign_in_url" not in json.loads(render_error(api, NotAuthenticated("sign in first")).body)
    assert set(json.loads(render_error(api, TransactionError("expired"), link).body)) == {
        "error",
        "error_description",
    }


def test_bearer_rejections_are_json_with_their_challenge_even_for_browsers() -> None:
    rendered = render_error(scope(), BearerTokenRejected("signature"))
    assert rendered.status == 401
    assert header(rendered, b"content-type") == "application/json"
    assert header(rendered, b"www-authenticate") == 'Bearer error="invalid_token"'
    assert json.loads(rendered.body) == {
        "error": "invalid_token",
        "error_description": "the access token is not valid for this API",
    }
    scoped = render_error(scope(), InsufficientScope("needs write", scopes=["write"]))
    assert header(scoped, b"www-authenticate") == 'Bearer error="insufficient_scope", scope="write"'
    assert header(render_error(scope(), NotAuthenticated("x")), b"www-authenticate") == "Bearer"


def test_a_french_table_renders_french_pages() -> None:
    render = renderer_for(FRENCH)
    page = render(scope(), SessionExpired("the refresh token was rejected"), ("/sign-in", "Sign in"))
    assert '<html lang="fr">' in text(page)
    assert visible(page) == ("Vous devez vous connecter", "Connectez-vous pour voir cette page.")
    assert links(page) == [("/sign-in", "Se connecter")]
    assert "<summary>Détails pour les développeurs</summary>" in text(page)
    assert "<dt>Code d'erreur</dt>" in html.unescape(text(page))
    outage = render(scope(query=b"a=1"), ProviderTimeout("slow"), None)
    assert visible(outage) == ("Le service de connexion ne répond pas", "Réessayez dans une minute.")
    assert links(outage) == [("/orders?a=1", "Réessayer")]
    callback = render(scope(), TransactionError("expired"), ("/sign-in", "Sign in again"))
    assert links(callback) == [("/sign-in", "Recommencer")]
    assert visible(render(scope(), AccessDenied("no"), None))[0] == "Vous n'avez pas accès à cette page"
    for english in ("Sign in", "Try again", "Details for developers", "Start again"):
        assert english not in text(page) + text(outage) + text(callback)
    # The JSON is for programs: the same whatever the language.
    assert render(scope(None), TransactionError("expired"), None).body == (
        render_error(scope(None), TransactionError("expired"), None).body
    )


def test_a_table_changed_in_one_place() -> None:
    """replace() on the English table: one page reworded, the rest as before."""
    pages = {**DEFAULT_MESSAGES.pages, "403": PageText("Members only", "Ask Ada for an invitation.")}
    render = renderer_for(replace(DEFAULT_MESSAGES, pages=pages))
    assert visible(render(scope(), AccessDenied("no"), None)) == (
        "Members only",
        "Ask Ada for an invitation.",
    )
    assert visible(render(scope(), NotAuthenticated("no"), None))[0] == "You need to sign in"


def test_page_lookup_order() -> None:
    """Error code, then status, then status class, then "default"."""
    table = Messages(
        pages={"default": PageText("d", "d"), "4xx": PageText("4", "4"), "418": PageText("t", "t")}
    )
    assert table.page("anything", 418).headline == "t"
    assert table.page("anything", 404).headline == "4"
    assert table.page("anything", 500).headline == "d"
    assert Messages(pages={}).page("x", 500) == DEFAULT_MESSAGES.pages["default"]
    assert DEFAULT_MESSAGES.page("session_expired", 401).action == "Sign in again"


def test_the_default_renderer_is_the_english_one() -> None:
    assert renderer_for(DEFAULT_MESSAGES) is render_error
    assert renderer_for(Messages()) is not render_error


@pytest.mark.anyio
async def test_inside_an_engine_errors_are_answered_its_way() -> None:
    """rendered_for: the engine's responder (its renderer and on_error) when one is in
    the scope, else the renderer given."""
    scope: dict[str, Any] = {
        "type": "http",
        "headers": [(b"accept", b"text/html")],
        "method": "GET",
        "path": "/x",
    }
    exc = NotAuthenticated("sign in first")
    alone = await rendered_for(scope, exc)
    assert alone.status == 401
    french = ErrorResponder(None, renderer_for(FRENCH))
    inside = await rendered_for({**scope, ERRORS_KEY: french}, exc)
    assert inside.body != alone.body and inside.status == 401


def test_notices_are_keys_in_the_url_and_words_from_the_table() -> None:
    assert with_notice("/", SIGN_IN_CANCELLED) == f"/?{NOTICE_PARAMETER}=sign_in_cancelled"
    assert with_notice("/orders?page=2#top", SIGN_IN_CANCELLED) == (
        "/orders?page=2&logto_notice=sign_in_cancelled#top"
    )
    assert notice_text(DEFAULT_MESSAGES, SIGN_IN_CANCELLED) == "Sign-in was cancelled."
    assert notice_text(FRENCH, SIGN_IN_CANCELLED) == "La connexion a été annulée."
    assert notice_text(DEFAULT_MESSAGES, "<b>you won</b>") is None
    assert notice_text(DEFAULT_MESSAGES, None) is None


def test_the_sign_out_confirmation_page() -> None:
    page = sign_out_page(
        FRENCH, action="/sign-out", name="csrf_token", token=PAYLOAD, cancel=PAYLOAD
    ).decode()
    assert '<html lang="fr">' in page and "<h1>Se déconnecter ?</h1>" in page
    assert '<form method="post" action="/sign-out"><input type="hidden" name="csrf_token"' in page
    assert '<button type="submit">Se déconnecter</button>' in page and "Rester connecté" in page
    assert "<script>" not in page and html.escape(PAYLOAD) in page


@pytest.mark.anyio
async def test_framework_handler_renders_with_the_table() -> None:
    """install_framework_handler(app, renderer_for(table)): a Starlette handler's error."""

    async def orders(request: Request) -> Response:
        raise ProviderUnavailable("down", retry_after=5)

    app = Starlette(routes=[Route("/orders", orders)])
    install_framework_handler(app, renderer_for(FRENCH))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/orders?x=1", headers={"accept": BROWSER.decode()})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-security-policy"] == PAGE_POLICY
    assert "Le service de connexion est injoignable" in response.text
    assert 'href="/orders?x=1"' in response.text
