"""FastAPI with logto-asgi: pages for people, a JSON API for programs, organization routes.

Run it against the bundled test provider with ``make demo APP=fastapi``, or against your
Logto tenant::

    export LOGTO_ENDPOINT=https://your-tenant.logto.app LOGTO_APP_ID=... LOGTO_APP_SECRET=...
    export LOGTO_COOKIE_SECRET=$(python -c 'import secrets; print(secrets.token_urlsafe(48))')
    export LOGTO_BASE_URL=http://localhost:3000
    uvicorn fastapi_app:app --app-dir examples --port 3000

Pages (browser session): ``/`` and ``/profile``. ``/token`` shows your access token for
the shopping API — a demo convenience, so you can call the API with ``curl``.

API (a session cookie *or* ``Authorization: Bearer <access token of the shopping API>``):
``GET /api/me``, ``GET /api/orders`` (``shopping:read``), ``POST /api/orders``
(``shopping:write``). Organizations (a session, or an organization token):
``GET /orgs/{org_id}/members`` (``read:members``) and ``POST /orgs/{org_id}/invitations``
(``invite:members``). ``/docs`` lists every route with the scopes it needs.
"""

from __future__ import annotations

from html import escape
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse

from logto_asgi import (
    AccessTokenClaims,
    BearerAuthMiddleware,
    IdTokenClaims,
    LogtoConfig,
    LogtoMiddleware,
    UserInfoScope,
    get_context,
    requires_auth,
)
from logto_asgi.fastapi import OptionalUser, require, setup_openapi

SHOPPING_API = "https://shopping.example.com/api"

config = LogtoConfig.from_env(
    scopes=[
        UserInfoScope.email,
        UserInfoScope.organizations,
        UserInfoScope.organization_roles,
        UserInfoScope.custom_data,
        "shopping:read",
        "shopping:write",
        "read:members",
        "invite:members",
    ],
    resources=[SHOPPING_API],
)

app = FastAPI(title="logto-asgi FastAPI example")
setup_openapi(app, config)
# Middlewares added last run first: LogtoMiddleware reads the session, then a bearer token
# (when the request has one) replaces it as the request's identity.
app.add_middleware(
    BearerAuthMiddleware,
    endpoint=config.endpoint,
    discovery_url=config.discovery_url,
    audience=SHOPPING_API,
    organization_tokens=True,
)
app.add_middleware(LogtoMiddleware, config=config)

Caller = IdTokenClaims | AccessTokenClaims
ORDERS: dict[str, list[dict[str, Any]]] = {}


def page(title: str, body: str) -> HTMLResponse:
    nav = (
        "<p><a href='/'>Home</a> · <a href='/profile'>Profile</a> · <a href='/token'>API token</a> · "
        "<a href='/docs'>API docs</a> · <a href='/sign-out'>Sign out</a></p>"
    )
    return HTMLResponse(f"<!doctype html><title>{escape(title)}</title><h1>{escape(title)}</h1>{body}{nav}")


# Pages --------------------------------------------------------------------------------


@app.get("/", response_class=HTMLResponse)
async def home(user: OptionalUser) -> HTMLResponse:
    if user is None:
        return HTMLResponse("Not authenticated · <a href='/sign-in'>Sign in</a>")
    return page("Home", f"<p>Signed in as {escape(str(user.name or user.sub))}.</p>")


@app.get("/profile", response_class=HTMLResponse)
@requires_auth(redirect=True, fetch_user_info=True)
async def profile(request: Request) -> HTMLResponse:
    info = get_context(request).user_info
    claims = info.to_json(indent=2) if info is not None else "{}"
    return page("Profile", f"<pre>{escape(claims)}</pre>")


@app.get("/token")
@requires_auth(redirect=True, resource=SHOPPING_API)
async def api_token(request: Request) -> dict[str, str]:
    token = await get_context(request).get_access_token(SHOPPING_API)
    return {"token_type": "Bearer", "access_token": token, "resource": SHOPPING_API}


# API ----------------------------------------------------------------------------------


@app.get("/api/me")
async def api_me(caller: Annotated[Caller, Depends(require())]) -> dict[str, Any]:
    return {"sub": caller.sub, "claims": caller.to_dict()}


@app.get("/api/orders")
async def list_orders(
    caller: Annotated[Caller, Depends(require(scopes=["shopping:read"], resource=SHOPPING_API))],
) -> dict[str, Any]:
    return {"orders": ORDERS.get(str(caller.sub), [])}


@app.post("/api/orders", status_code=201)
async def create_order(
    item: str, caller: Annotated[Caller, Depends(require(scopes=["shopping:write"], resource=SHOPPING_API))]
) -> dict[str, Any]:
    order = {"id": len(ORDERS.get(str(caller.sub), [])) + 1, "item": item}
    ORDERS.setdefault(str(caller.sub), []).append(order)
    return order


# Organizations ------------------------------------------------------------------------


@app.get(
    "/orgs/{org_id}/members",
    dependencies=[Depends(require(scopes=["read:members"], organization_id="{org_id}"))],
)
async def members(org_id: str) -> dict[str, Any]:
    return {"organization": org_id, "members": ["user-alice"]}


@app.post(
    "/orgs/{org_id}/invitations",
    status_code=201,
    dependencies=[Depends(require(scopes=["invite:members"], organization_id="{org_id}"))],
)
async def invite(org_id: str, email: str) -> dict[str, Any]:
    return {"organization": org_id, "invited": email}
