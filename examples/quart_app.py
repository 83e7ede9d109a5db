"""The Flask sample of the Logto Python guide, ported route for route to Quart.

Run it against the bundled test provider with ``make demo APP=quart``, or against your
Logto tenant::

    export LOGTO_ENDPOINT=https://your-tenant.logto.app LOGTO_APP_ID=... LOGTO_APP_SECRET=...
    export LOGTO_COOKIE_SECRET=$(python -c 'import secrets; print(secrets.token_urlsafe(48))')
    export LOGTO_BASE_URL=http://localhost:3000
    uvicorn quart_app:app --app-dir examples --port 3000

The guide's routes: ``/`` (home), ``/sign-in`` and ``/sign-out`` (answered by
``LogtoMiddleware`` itself, with the callback), ``/protected`` (ID token claims),
``/protected/userinfo`` (the userinfo endpoint) and ``/protected/organizations``
(organization tokens). The guide's ``@authenticated(shouldRedirect, fetchUserInfo)`` is
``requires_auth(redirect=…, fetch_user_info=…)``; Quart handlers take no request, so they
read the request's context with ``current()``.
"""

from __future__ import annotations

from html import escape

from quart import Quart

from logto_asgi import LogtoConfig, LogtoError, LogtoMiddleware, UserInfoScope, current, requires_auth

config = LogtoConfig.from_env(
    scopes=[
        UserInfoScope.email,
        UserInfoScope.organizations,
        UserInfoScope.organization_roles,
        UserInfoScope.custom_data,
    ],
)

app = Quart(__name__)
# Quart types ASGI callables with hypercorn's TypedDicts, Starlette with plain mappings.
app.asgi_app = LogtoMiddleware(app.asgi_app, config=config)  # type: ignore[arg-type, assignment, method-assign]

NAVIGATION = (
    "<hr><a href='/'>Home</a>&nbsp;&nbsp;<a href='/protected'>ID token claims</a>&nbsp;&nbsp;"
    "<a href='/protected/userinfo'>User info</a>&nbsp;&nbsp;"
    "<a href='/protected/organizations'>Organization tokens</a>&nbsp;&nbsp;"
    "<a href='/sign-out'>Sign out</a>"
)


def as_html(json_text: str) -> str:
    return f"<pre>{escape(json_text)}</pre>"


@app.route("/")
async def index() -> str:
    if not current().is_authenticated:
        return (
            "Not authenticated <a href='/sign-in'>Sign in</a> · "
            "<a href='/sign-in?interaction_mode=signUp'>Sign up</a>"
        )
    return "Authenticated <a href='/sign-out'>Sign out</a>" + NAVIGATION


@app.route("/protected")
@requires_auth(redirect=True)
async def protected() -> str:
    user = current().user
    assert user is not None  # the guard let a signed-in user through
    return "<h2>ID token claims</h2>" + as_html(user.to_json(indent=2)) + NAVIGATION


@app.route("/protected/userinfo")
@requires_auth(redirect=True, fetch_user_info=True)
async def protected_userinfo() -> str:
    info = current().user_info
    assert info is not None  # fetched by the guard
    return "<h2>User info</h2>" + as_html(info.to_json(indent=2)) + NAVIGATION


@app.route("/protected/organizations")
@requires_auth(redirect=True)
async def organizations() -> str:
    logto = current()
    user = logto.user
    assert user is not None
    sections = []
    for organization_id in user.organizations or []:
        try:
            claims = await logto.get_organization_token_claims(organization_id)
            sections.append(f"<h3>{escape(organization_id)}</h3>" + as_html(claims.to_json(indent=2)))
        except LogtoError as exc:
            sections.append(f"<h3>{escape(organization_id)}</h3><p>Error: {escape(exc.description)}</p>")
    body = "".join(sections) or "<p>You are not a member of any organization.</p>"
    return "<h2>Organization tokens</h2>" + body + NAVIGATION
