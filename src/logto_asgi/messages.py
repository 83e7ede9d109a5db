"""Every string a user can read on a page logto-asgi answers with, in one table, and the
one look those pages share.

``Messages`` holds them; ``DEFAULT_MESSAGES`` is the English table the built-in renderer
uses. To translate the pages, build another table (``dataclasses.replace`` on the English
one to change a few strings) and pass ``renderer_for(messages)`` (``logto_asgi.boundary``)
where an ``error_renderer`` is taken.

A page's headline and sentence are looked up by the error's code (``session_expired``),
then its status (``"503"``), then its status class (``"5xx"``), then ``"default"``. The
error's own ``description`` is for developers: it stays in the log and in the page's
"details" block, never in the headline.

The pages load nothing and run no script: one inline style sheet, allowed by its hash in
``PAGE_POLICY``. This module imports nothing from the package, so everything can import it.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "DEFAULT_MESSAGES",
    "NOTICE_PARAMETER",
    "PAGE_POLICY",
    "SIGN_IN_CANCELLED",
    "Messages",
    "PageText",
    "document",
    "notice_text",
    "sign_out_page",
    "with_notice",
]


@dataclass(frozen=True, slots=True)
class PageText:
    """What an error page says to the user: a headline, one or two sentences, and the
    label of the page's link when it has one (``None``: the table's label for the status
    class, ``sign_in``, ``start_again`` or ``try_again``)."""

    headline: str
    sentence: str
    action: str | None = None


def _frozen(pages: Mapping[str, PageText]) -> Mapping[str, PageText]:
    return MappingProxyType(dict(pages))


_AGAIN = "Try again in a minute."

#: Keys: an error code, a status ("503"), a status class ("5xx"), or "default".
_PAGES = {
    "400": PageText("Sign-in didn't complete", "Something interrupted the sign-in. Please start again."),
    "invalid_transaction": PageText(
        "Sign-in didn't complete",
        "This sign-in link has expired or was already used. Please start again.",
    ),
    "authorization_error": PageText(
        "Sign-in didn't complete", "The sign-in service did not sign you in. You can start again."
    ),
    "invalid_token": PageText(
        "Sign-in didn't complete",
        "The sign-in service sent an answer we could not verify. Please start again.",
    ),
    "401": PageText("You need to sign in", "Sign in to continue to this page."),
    "session_expired": PageText(
        "Your session has ended", "Please sign in again to continue.", "Sign in again"
    ),
    "insufficient_user_authentication": PageText(
        "Please sign in again", "This page needs a recent sign-in.", "Sign in again"
    ),
    "403": PageText(
        "You don't have access to this page",
        "You are signed in, but your account is not allowed to see this page. "
        "If you think it should be, ask the site's administrator.",
    ),
    "4xx": PageText("This request could not be handled", "Go back and try again."),
    "502": PageText(
        "The sign-in service isn't working right now",
        "Try again later. If it keeps happening, let the site's administrator know.",
    ),
    "503": PageText("We can't reach the sign-in service right now", _AGAIN),
    "store_unavailable": PageText("We can't load your session right now", _AGAIN),
    "504": PageText("The sign-in service is taking too long to respond", _AGAIN),
    "5xx": PageText("Something went wrong on our side", "Try again later."),
    "default": PageText("Something went wrong", "Try again later."),
}

#: The notice key of a sign-in the user cancelled at the provider.
SIGN_IN_CANCELLED = "sign_in_cancelled"
#: The query parameter that carries a notice key back to the app (``?logto_notice=...``).
NOTICE_PARAMETER = "logto_notice"


@dataclass(frozen=True, slots=True)
class Messages:
    """The user-facing strings of logto-asgi's pages (see the module docstring)."""

    #: The pages' ``<html lang>``.
    language: str = "en"
    #: Headline and sentence by error code, status, status class or "default".
    pages: Mapping[str, PageText] = field(default_factory=lambda: _frozen(_PAGES))
    #: The link of a 401 page (to the sign-in route, coming back here).
    sign_in: str = "Sign in"
    #: The link of a 4xx page to start the sign-in over.
    start_again: str = "Start again"
    #: The link of a 5xx page (the same page again, or where the app says to retry).
    try_again: str = "Try again"
    #: The summary of the block that shows the error code and description.
    details: str = "Details for developers"
    error_code: str = "Error code"
    description: str = "Description"
    #: Short notices the app may show, by key (see ``with_notice``).
    notices: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({SIGN_IN_CANCELLED: "Sign-in was cancelled."})
    )
    # The sign-out confirmation page (another site asked to sign the user out).
    sign_out_title: str = "Sign out?"
    sign_out_sentence: str = "Another site asked to sign you out of this application."
    sign_out_button: str = "Sign out"
    sign_out_cancel: str = "Stay signed in"

    def page(self, error: str, status: int) -> PageText:
        """The headline and sentence for an error ``error`` answered with ``status``."""
        pages = self.pages
        for key in (error, str(status), f"{status // 100}xx", "default"):
            found = pages.get(key)
            if found is not None:
                return found
        return _PAGES["default"]


#: The English table, used by the built-in renderer.
DEFAULT_MESSAGES = Messages()


def with_notice(target: str, key: str) -> str:
    """``target`` (a path, with or without a query) with ``logto_notice=<key>`` added, so
    the page the user lands on can show ``notice_text``. Only keys go in the URL: a link
    cannot make the app show words of its own."""
    parts = urlsplit(target)
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=f"{query}{NOTICE_PARAMETER}={key}"))


def notice_text(messages: Messages, value: str | None) -> str | None:
    """The notice for a ``logto_notice`` query value, or ``None`` for anything unknown."""
    if not value:
        return None
    return messages.notices.get(value)


# How the pages look -----------------------------------------------------------------

#: No external resources and no script: the only thing a page needs is this style sheet,
#: which its ``Content-Security-Policy`` allows by hash.
STYLE = (
    ":root{color-scheme:light dark;--fg:#1f2328;--muted:#59636e;--bg:#f3f4f6;--card:#fff;"
    "--rule:#d9dee3;--accent:#3451b2;--on-accent:#fff;--c4:#bf8700;--c5:#cf222e}"
    "@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9da7b3;--bg:#0d1117;"
    "--card:#161b22;--rule:#30363d;--accent:#7d9bff;--on-accent:#0d1117}}"
    "*{box-sizing:border-box}"
    "body{margin:0;min-height:100vh;display:flex;align-items:flex-start;justify-content:center;"
    "padding:14vh 1rem 2rem;background:var(--bg);color:var(--fg);"
    "font:16px/1.55 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}"
    "main{width:100%;max-width:34rem;background:var(--card);border:1px solid var(--rule);"
    "border-top:4px solid var(--accent);border-radius:10px;padding:2rem 2.25rem 1.5rem;"
    "box-shadow:0 1px 2px rgba(0,0,0,.04),0 8px 24px rgba(0,0,0,.06)}"
    "main.c4{border-top-color:var(--c4)}main.c5{border-top-color:var(--c5)}"
    "h1{margin:0 0 .5rem;font-size:1.5rem;line-height:1.3}"
    "p{margin:0 0 1.5rem}"
    ".button,button{display:inline-block;padding:.55rem 1.25rem;border:0;border-radius:6px;"
    "background:var(--accent);color:var(--on-accent);font:inherit;font-weight:600;"
    "text-decoration:none;cursor:pointer}"
    ".button:hover,button:hover{filter:brightness(1.12)}"
    ".button:focus-visible,button:focus-visible{outline:3px solid var(--rule);outline-offset:2px}"
    "form a{margin-left:1rem;color:var(--accent)}"
    "details{margin-top:1.75rem;padding-top:.9rem;border-top:1px solid var(--rule);"
    "color:var(--muted);font-size:.875rem}"
    "summary{cursor:pointer}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem;margin:.75rem 0 .25rem}"
    "dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}"
    "code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
#: The pages' policy: their own style sheet, nothing else (no script, no frames, no forms
#: but the sign-out confirmation's, which comes with its own policy).
PAGE_POLICY = f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; form-action 'none'"

_DOCUMENT = """<!doctype html>
<html lang="{language}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>{style}</style></head>
<body><main class="{tone}">
{content}
</main></body></html>
"""


def document(language: str, title: str, content: str, tone: str = "") -> bytes:
    """A page in the house style; ``content`` is HTML already escaped, the rest is text."""
    return _DOCUMENT.format(
        language=html.escape(language),
        title=html.escape(title),
        style=STYLE,
        tone=tone,
        content=content,
    ).encode("utf-8")


def sign_out_page(messages: Messages, *, action: str, name: str, token: str, cancel: str) -> bytes:
    """The sign-out confirmation page (another site asked to sign the user out): a form
    POSTing ``name=token`` to ``action``, and a link back to ``cancel``."""
    content = (
        f"<h1>{html.escape(messages.sign_out_title)}</h1>\n<p>{html.escape(messages.sign_out_sentence)}</p>\n"
        f'<form method="post" action="{html.escape(action)}">'
        f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(token)}">'
        f'<button type="submit">{html.escape(messages.sign_out_button)}</button>'
        f'<a href="{html.escape(cancel)}">{html.escape(messages.sign_out_cancel)}</a></form>'
    )
    return document(messages.language, messages.sign_out_title, content)
