"""The Flask sample of the Logto Python guide, ported to Starlette and ``LogtoMiddleware``.

Run it against the bundled test provider with ``make demo``, or against your Logto
tenant::

    export LOGTO_ENDPOINT=https://your-tenant.logto.app LOGTO_APP_ID=... LOGTO_APP_SECRET=...
    export LOGTO_COOKIE_SECRET=$(python -c 'import secrets; print(secrets.token_urlsafe(48))')
    export LOGTO_BASE_URL=http://localhost:3000
    uvicorn starlette_app:app --app-dir examples --port 3000

(register ``http://localhost:3000/callback`` as redirect URI and ``http://localhost:3000/``
as post sign-out redirect URI of a "Traditional web" application in the Logto Console).

Pages: ``/`` (sign in, sign up or sign out), ``/protected`` (ID token claims),
``/protected/userinfo`` (the userinfo endpoint), ``/protected/api-token`` (an API
resource's access token) and ``/protected/organizations`` (organization tokens). The
middleware answers ``/sign-in``, ``/callback`` and ``/sign-out`` itself.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timezone
from html import escape
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from logto_asgi import (
    LogtoConfig,
    LogtoContext,
    LogtoError,
    LogtoMiddleware,
    NotAuthenticated,
    UserInfoScope,
    get_context,
    requires_auth,
)

SHOPPING_API = "https://shopping.example.com/api"
STORE_API = "https://store.example.com/api"

SCOPES = [
    UserInfoScope.email,
    UserInfoScope.organizations,
    UserInfoScope.organization_roles,
    UserInfoScope.custom_data,
    UserInfoScope.identities,
    "shopping:read",
    "shopping:write",
    "store:read",
    "read:members",
]
RESOURCES = [SHOPPING_API, STORE_API]

Endpoint = Callable[[Request], Awaitable[Response]]

# Claims that hold seconds (JWT) or milliseconds (Logto's created_at / updated_at).
SECONDS_CLAIMS = {"exp", "iat", "nbf", "auth_time"}
MILLISECONDS_CLAIMS = {"created_at", "updated_at"}


# -- pages -------------------------------------------------------------------------------


async def home(request: Request) -> Response:
    logto = get_context(request)
    user = logto.user
    if user is None:
        body = f"""
<section class="card hero">
  <p class="status">Not authenticated · <a class="button" href="{escape(logto.sign_in_url())}">Sign in</a></p>
  <p class="muted">New here? Create an account, the provider shows its sign-up screen.</p>
  <p><a class="button secondary" id="sign-up"
        href="{escape(logto.sign_in_url(interaction_mode="signUp"))}">Sign up</a></p>
</section>"""
        return page(logto, "Home", body, active="/")
    name = user.name or user.username or user.email or user.sub or "there"
    details = " · ".join(escape(str(v)) for v in (user.username, user.email) if v)
    explore = "".join(
        f'<li><a href="{path}">{label}</a> <span class="muted">{escape(note)}</span></li>'
        for path, label, note in EXPLORE
    )
    body = f"""
<section class="card hero">
  <div class="profile">
    {avatar(user.picture, str(name), size=72)}
    <div>
      <h1 id="user-name">{escape(str(name))}</h1>
      <p class="muted">{details}</p>
    </div>
  </div>
  <div class="status-row">
    <span class="status">Authenticated · </span>{sign_out_button(logto)}
  </div>
</section>
<section class="card">
  <h2>Explore</h2>
  <ul class="links">{explore}</ul>
</section>"""
    return page(logto, "Home", body, active="/")


@requires_auth(redirect=True)
async def protected(request: Request) -> Response:
    logto = get_context(request)
    claims = logto.user.to_dict() if logto.user is not None else {}
    body = f"""
<section class="card">
  <h1>ID token claims</h1>
  <p class="muted">Validated at sign-in and kept in the encrypted session cookie.</p>
  {claims_table(claims, table_id="id-token-claims")}
</section>"""
    return page(logto, "ID token", body, active="/protected")


@requires_auth(redirect=True)
async def userinfo(request: Request) -> Response:
    logto = get_context(request)
    try:
        info = await logto.fetch_user_info()
    except NotAuthenticated:
        raise
    except LogtoError as exc:
        return page(logto, "User info", error_card(exc), active="/protected/userinfo", status=exc.status_code)
    data = info.to_dict()
    organizations = info.organization_data or []
    org_rows = "".join(
        f"<tr><td><code>{escape(str(org.get('id', '')))}</code></td>"
        f"<td>{escape(str(org.get('name', '')))}</td>"
        f"<td class='muted'>{escape(str(org.get('description') or ''))}</td></tr>"
        for org in organizations
    )
    org_table = (
        "<table id='organization-data'><thead><tr><th>ID</th><th>Name</th><th>Description</th></tr></thead>"
        f"<tbody>{org_rows}</tbody></table>"
        if org_rows
        else "<p class='muted'>No organizations.</p>"
    )
    body = f"""
<section class="card">
  <h1>User info</h1>
  <p class="muted">Fetched from the provider's userinfo endpoint just now.</p>
  <div class="grid">
    <div><h2>Custom data</h2>{json_block(data.get("custom_data"), block_id="custom-data")}</div>
    <div><h2>Identities</h2>{json_block(data.get("identities"), block_id="identities")}</div>
  </div>
  <h2>Organizations</h2>
  {org_table}
  <h2>All claims</h2>
  {claims_table(data, table_id="userinfo-claims")}
</section>"""
    return page(logto, "User info", body, active="/protected/userinfo")


@requires_auth(redirect=True)
async def api_token(request: Request) -> Response:
    logto = get_context(request)
    try:
        claims = await logto.get_access_token_claims(SHOPPING_API)
    except NotAuthenticated:
        raise
    except LogtoError as exc:
        return page(
            logto, "API token", error_card(exc), active="/protected/api-token", status=exc.status_code
        )
    body = f"""
<section class="card">
  <h1>API resource token</h1>
  <p class="muted">A JWT access token for <code>{escape(SHOPPING_API)}</code>, refreshed when it expires.</p>
  <p>{scope_pills(claims.scopes)}</p>
  {claims_table(claims.to_dict(), table_id="api-token-claims")}
</section>"""
    return page(logto, "API token", body, active="/protected/api-token")


@requires_auth(redirect=True)
async def organizations(request: Request) -> Response:
    logto = get_context(request)
    ids = (logto.user.organizations if logto.user is not None else None) or []
    sections = []
    for organization_id in ids:
        try:
            claims = await logto.get_organization_token_claims(organization_id)
        except NotAuthenticated:
            raise
        except LogtoError as exc:
            sections.append(error_card(exc, title=f"Organization {organization_id}"))
            continue
        sections.append(f"""
<section class="card" id="org-{escape(organization_id)}">
  <h2>Organization <code>{escape(organization_id)}</code></h2>
  <p>{scope_pills(claims.scopes)}</p>
  {claims_table(claims.to_dict())}
</section>""")
    if not sections:
        sections.append("<section class='card'><p class='muted'>You belong to no organization.</p></section>")
    intro = """
<section class="card">
  <h1>Organization tokens</h1>
  <p class="muted">One token per organization in the ID token's <code>organizations</code> claim
  (a refresh grant with <code>organization_id</code>).</p>
</section>"""
    return page(logto, "Organizations", intro + "".join(sections), active="/protected/organizations")


# -- HTML helpers (everything from users or providers goes through escape()) -------------


EXPLORE = [
    ("/protected", "ID token claims", "read from the session, no network call"),
    ("/protected/userinfo", "User info", "custom data, identities, organizations"),
    ("/protected/api-token", "API resource token", SHOPPING_API),
    ("/protected/organizations", "Organization tokens", "one per organization"),
]
NAV = [
    ("/", "Home"),
    ("/protected", "ID token"),
    ("/protected/userinfo", "User info"),
    ("/protected/api-token", "API token"),
    ("/protected/organizations", "Organizations"),
]


def page(logto: LogtoContext, title: str, body: str, *, active: str, status: int = 200) -> HTMLResponse:
    links = "".join(
        f'<a href="{path}"{" class=active" if path == active else ""}>{label}</a>' for path, label in NAV
    )
    if logto.user is not None:
        name = logto.user.name or logto.user.username or logto.user.sub or ""
        account = f"{avatar(logto.user.picture, str(name), size=28)}{sign_out_button(logto, small=True)}"
    else:
        account = f'<a class="button small" href="{escape(logto.sign_in_url())}">Sign in</a>'
    html = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · logto-asgi Starlette sample</title>
<link rel="icon" href="data:,">
<style>{CSS}</style>
</head>
<body>
<header>
  <div class="bar">
    <a class="brand" href="/"><span class="logo">◆</span> logto-asgi
      <span class="muted">Starlette sample</span></a>
    <nav>{links}</nav>
    <div class="account">{account}</div>
  </div>
</header>
<main>{body}</main>
<footer class="muted">Sign-in by <code>LogtoMiddleware</code> · OpenID Connect with PKCE</footer>
</body>
</html>"""
    return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})


def sign_out_button(logto: LogtoContext, *, small: bool = False) -> str:
    size = " small" if small else ""
    element_id = "" if small else ' id="sign-out"'
    return (
        f'<form class="inline" method="post" action="{escape(logto.sign_out_url())}">'
        f'<button type="submit" class="button secondary{size}"{element_id}>Sign out</button></form>'
    )


def avatar(picture: str | None, name: str, *, size: int) -> str:
    """The picture over an initials badge: a picture that does not load leaves the initials."""
    initials = "".join(part[0] for part in name.split()[:2]).upper() or "?"
    image = ""
    if picture and urlsplit(picture).scheme in ("http", "https"):
        image = (
            f'<img class="avatar-img" src="{escape(picture)}" alt="" data-initials="{escape(initials)}" '
            'referrerpolicy="no-referrer">'
        )
    return (
        f'<span class="avatar" style="width:{size}px;height:{size}px;font-size:{size * 0.4:.0f}px" '
        f'title="{escape(name)}"><span>{escape(initials)}</span>{image}</span>'
    )


def claims_table(claims: Mapping[str, Any], *, table_id: str | None = None) -> str:
    rows = "".join(
        f"<tr><th scope='row'><code>{escape(key)}</code></th><td>{claim_value(key, value)}</td></tr>"
        for key, value in sorted(claims.items())
    )
    id_attr = f' id="{escape(table_id)}"' if table_id else ""
    return f"<table class='claims'{id_attr}><tbody>{rows}</tbody></table>"


def claim_value(key: str, value: Any) -> str:
    if isinstance(value, (dict, list)):
        return f"<pre>{escape(json.dumps(value, indent=2, ensure_ascii=False))}</pre>"
    text = escape(json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value)
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value / 1000 if key in MILLISECONDS_CLAIMS else value if key in SECONDS_CLAIMS else None
        if seconds is not None:
            when = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
            text += f" <span class='muted'>{when}</span>"
    return text


def json_block(value: Any, *, block_id: str) -> str:
    if value is None:
        return f"<p class='muted' id='{escape(block_id)}'>Not granted.</p>"
    return f"<pre id='{escape(block_id)}'>{escape(json.dumps(value, indent=2, ensure_ascii=False))}</pre>"


def scope_pills(scopes: Iterable[str]) -> str:
    pills = "".join(f"<span class='pill'>{escape(s)}</span>" for s in sorted(scopes))
    return pills or "<span class='muted'>no scopes</span>"


def error_card(exc: LogtoError, *, title: str = "Something went wrong") -> str:
    return f"""
<section class="card error">
  <h2>{escape(title)}</h2>
  <p><code>{escape(exc.error)}</code> {escape(exc.description)}</p>
</section>"""


CSS = """
:root { --ink: #1d2433; --muted: #6b7385; --line: #e4e7ee; --brand: #5d34f2; --brand-dark: #4a23d8;
        --bg: #f6f7fb; --card: #fff; --danger: #c4314b; --tint: #efeafe; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", "DejaVu Sans",
             sans-serif; }
a { color: var(--brand); text-decoration: none; }
a:hover { text-decoration: underline; }
code, pre { font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", "Liberation Mono", monospace;
            font-size: 13px; }
header { background: var(--card); border-bottom: 1px solid var(--line); }
.bar { max-width: 960px; margin: 0 auto; padding: 10px 20px; display: flex; align-items: center; gap: 24px; }
.brand { font-weight: 700; color: var(--ink); white-space: nowrap; }
.brand .muted { font-weight: 400; }
.logo { color: var(--brand); }
nav { display: flex; gap: 4px; flex: 1; flex-wrap: wrap; }
nav a { color: var(--muted); padding: 6px 10px; border-radius: 8px; }
nav a.active, nav a:hover { background: var(--tint); color: var(--brand); text-decoration: none; }
.account { display: flex; align-items: center; gap: 10px; }
main { max-width: 960px; margin: 28px auto; padding: 0 20px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 14px; padding: 24px 28px;
        margin-bottom: 20px; box-shadow: 0 1px 2px rgba(16, 24, 40, .04); }
.card.error { border-color: #f3c2cb; background: #fff6f8; }
.card.error h2 { color: var(--danger); }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 20px 0 8px; }
.card > h2:first-child { margin-top: 0; }
.muted { color: var(--muted); }
.hero .status { font-size: 20px; font-weight: 600; margin: 0 0 8px; }
.status-row { display: flex; align-items: center; gap: 8px; margin-top: 18px; }
.status-row .status { margin: 0; font-size: 16px; }
.profile { display: flex; align-items: center; gap: 18px; }
.profile h1 { margin: 0; }
.profile p { margin: 2px 0 0; }
.button { display: inline-block; border: 1px solid var(--brand); background: var(--brand); color: #fff;
          font: inherit; font-weight: 600; padding: 8px 18px; border-radius: 10px; cursor: pointer; }
.button:hover { background: var(--brand-dark); text-decoration: none; }
.button.secondary { background: #fff; color: var(--brand); }
.button.secondary:hover { background: #f4f0ff; }
.button.small { padding: 4px 12px; font-size: 13px; }
form.inline { display: inline; margin: 0; }
.avatar { position: relative; display: inline-flex; align-items: center; justify-content: center;
          flex: none; border-radius: 50%; overflow: hidden; color: #fff; font-weight: 700;
          background: linear-gradient(135deg, #7c5cff, #c06cf0); }
.avatar-img { position: absolute; inset: 0; width: 100%; height: 100%; object-fit: cover; }
/* Only a picture that failed to load renders ::before: cover the broken-image icon. */
.avatar-img::before { content: attr(data-initials); position: absolute; inset: 0; display: flex;
                      align-items: center; justify-content: center;
                      background: linear-gradient(135deg, #7c5cff, #c06cf0); }
.links { list-style: none; padding: 0; margin: 0; }
.links li { padding: 8px 0; border-bottom: 1px solid var(--line); }
.links li:last-child { border-bottom: 0; }
.links .muted { margin-left: 8px; font-size: 13px; }
table { width: 100%; border-collapse: collapse; margin: 8px 0; }
th, td { text-align: left; vertical-align: top; padding: 7px 10px; border-bottom: 1px solid var(--line); }
thead th { color: var(--muted); font-weight: 600; font-size: 13px; }
table.claims th { width: 30%; font-weight: 400; white-space: nowrap; }
td { word-break: break-word; }
pre { margin: 0; background: #f3f4f8; border-radius: 8px; padding: 10px 12px; overflow: auto;
      white-space: pre-wrap; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 16px; }
.pill { display: inline-block; background: var(--tint); color: var(--brand-dark); border-radius: 999px;
        padding: 2px 10px; margin: 0 6px 6px 0; font-size: 13px;
        font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
footer { max-width: 960px; margin: 0 auto 32px; padding: 0 20px; font-size: 13px; }
"""


def create_app(config: LogtoConfig | None = None) -> LogtoMiddleware:
    """The Starlette app wrapped in ``LogtoMiddleware`` (configured from the environment by
    default: ``LOGTO_ENDPOINT``, ``LOGTO_APP_ID``, ``LOGTO_APP_SECRET``,
    ``LOGTO_COOKIE_SECRET``, ``LOGTO_BASE_URL``)."""
    if config is None:
        config = LogtoConfig.from_env(scopes=SCOPES, resources=RESOURCES)
    starlette = Starlette(
        routes=[
            Route("/", home),
            Route("/protected", protected),
            Route("/protected/userinfo", userinfo),
            Route("/protected/api-token", api_token),
            Route("/protected/organizations", organizations),
        ]
    )
    return LogtoMiddleware(starlette, config=config)


app = create_app()
