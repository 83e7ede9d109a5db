"""Route guards: ``requires_auth`` for endpoint functions, ``RequireAuth`` for whole ASGI
sub-applications. What a guard requires, and how it checks it, is ``guard_rules.Rule``.

One rule set for browser sessions (``LogtoMiddleware``) and API calls with bearer tokens
(``BearerAuthMiddleware``): both put a context in ``request.state.logto`` that answers
the questions a guard asks — is anyone signed in, which scopes may this request use, and
what do its claims say (see ``AuthContext``).

What a refused request gets, in every form (decorator, ASGI wrapper, FastAPI dependency):

- nobody signed in: ``401`` with ``WWW-Authenticate: Bearer``; with ``redirect=True`` a
  ``303`` to the sign-in path with ``return_to`` set to the original path and query;
- a missing scope: ``403`` with ``WWW-Authenticate: Bearer error="insufficient_scope",
  scope="…"`` naming every scope the route requires;
- a missing role or organization role, or a ``claims`` check that said no: ``403
  access_denied`` whose description names the requirement (never the user's claims);
- a sign-in older than ``max_age``: ``401 insufficient_user_authentication`` with RFC
  9470's ``WWW-Authenticate: Bearer error="insufficient_user_authentication",
  max_age="…"``; with ``redirect=True`` a browser session gets a ``303`` to sign in again
  (``prompt=login`` and ``max_age``) and come back;
- any other ``LogtoError`` raised while checking becomes its own response (session
  expired after a refused refresh: 401, not a member of the organization: 403, provider
  unreachable: 503);
- a websocket is closed before it is accepted: code 1008 (policy violation), or 1011
  when the provider failed.

Every such response carries ``Cache-Control: no-store``, and its body is negotiated like
every logto-asgi error: JSON (``{"error": "not_authenticated", "error_description": …}``)
for clients that ask for JSON, a small HTML page otherwise.

**A browser navigation to a guard without ``redirect``** gets that HTML page with status
401 and a "Sign in" link that carries ``return_to`` — not a redirect. A guard cannot tell
a page from an API, and an API answered with a redirect is worse than an error:
``fetch()`` follows it silently to the provider's login page and reports ``200 OK`` with
HTML the script cannot use. The 401 keeps the status honest for scripts, monitors and
caches while a human still has one click to go on. Put ``redirect=True`` on page routes.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from .boundary import close_code, str_headers
from .errors import LogtoError
from .guard_rules import AuthContext, ClaimsCheck, Rule, StepUpRequired, original_target

__all__ = [
    "AuthContext",
    "ClaimsCheck",
    "RequireAuth",
    "Rule",
    "StepUpRequired",
    "auth_context",
    "original_target",
    "requires_auth",
]

F = TypeVar("F", bound=Callable[..., Any])

# The keyword under which FastAPI hands the wrapper the connection when the endpoint
# itself takes none (FastAPI injects any parameter annotated ``HTTPConnection``).
_INJECTED = "logto_guard_connection"
_CONNECTION_TYPES = ("Request", "WebSocket", "HTTPConnection")


def auth_context(scope: Scope) -> AuthContext:
    """The context a logto-asgi middleware put in ``scope["state"]["logto"]``."""
    state = scope.get("state")
    ctx = state.get("logto") if isinstance(state, Mapping) else None
    if not isinstance(ctx, AuthContext):
        raise LookupError(
            "no logto-asgi context on this request: guarded routes need LogtoMiddleware or "
            "BearerAuthMiddleware in front of them"
        )
    return ctx


# The decorator ----------------------------------------------------------------------


#: Sentinel: the guard let the request through.
_PASS: Any = object()


def requires_auth(
    scopes: Sequence[str] | str = (),
    resource: str | None = None,
    organization_id: str | None = None,
    redirect: bool = False,
    fetch_user_info: bool = False,
    *,
    roles: Sequence[str] | str = (),
    any_role: Sequence[str] | str = (),
    organization_roles: Sequence[str] | str = (),
    claims: ClaimsCheck | None = None,
    max_age: int | None = None,
) -> Callable[[F], F]:
    """Guard an endpoint function (Starlette, FastAPI or Quart).

    ``scopes`` must all be granted: by the access token of ``resource`` when given,
    else by the organization's token when ``organization_id`` is given (a literal id,
    or ``"{org_id}"`` to take the path parameter ``org_id``), else by the scopes granted
    at sign-in (for a bearer token: its ``scope`` claim). With both ``resource`` and
    ``organization_id`` the resource token is requested for that organization.

    The caller's claims (the ID token's for a session, the access token's for a bearer
    token) must hold every role of ``roles`` and one of ``any_role`` in ``roles``, and
    ``"<organization>:<role>"`` in ``organization_roles`` for each of
    ``organization_roles`` (which needs ``organization_id``; they alone fetch no
    organization token); ``claims(user_claims)`` — sync or async — must return ``True``.
    Else ``403 access_denied``. ``max_age`` asks for a sign-in at most that many seconds
    old (``auth_time``; missing counts as too old): else ``StepUpRequired`` (401), and
    with ``redirect=True`` a browser goes to sign in again (``prompt=login``).
    ``redirect=True`` sends signed-out browsers to sign in and back;
    ``fetch_user_info=True`` calls ``fetch_user_info()`` first, so the handler finds the
    result in ``request.state.logto.user_info`` (the guide's ``g.user``).

    Starlette endpoints take the request, Quart handlers take none (the guard reads
    Quart's request context), FastAPI endpoints may take either: the wrapper keeps the
    endpoint's signature for FastAPI and adds the connection parameter it needs. FastAPI
    resolves dependencies before the guard runs, so a ``CurrentUser`` parameter answers
    its own 401 first (use ``logto_asgi.fastapi.require`` there, or ``current()``).

    ::

        @requires_auth(scopes=["read:members"], organization_id="{org_id}")
        async def members(request: Request) -> Response: ...

        @app.route("/protected/userinfo")          # Quart
        @requires_auth(redirect=True, fetch_user_info=True)
        async def userinfo() -> str:
            return current().user_info.to_json()
    """
    if callable(scopes):
        raise TypeError("requires_auth takes options: write @requires_auth() with parentheses")
    rule = Rule.build(
        scopes,
        resource,
        organization_id,
        redirect,
        fetch_user_info,
        roles=roles,
        any_role=any_role,
        organization_roles=organization_roles,
        claims=claims,
        max_age=max_age,
    )

    def decorate(func: F) -> F:
        is_async = inspect.iscoroutinefunction(func)
        inject = not _takes_connection(func)

        @functools.wraps(func)
        async def guarded(*args: Any, **kwargs: Any) -> Any:
            connection = kwargs.pop(_INJECTED, None) if inject else None
            if not isinstance(connection, HTTPConnection):
                connection = next(
                    (a for a in (*args, *kwargs.values()) if isinstance(a, HTTPConnection)), None
                )
            if connection is not None:
                refused = await _guard_connection(rule, connection)
            else:
                refused = await _guard_quart(rule)
            if refused is not _PASS:
                return refused
            if is_async:
                return await func(*args, **kwargs)
            return await run_in_threadpool(func, *args, **kwargs)

        if inject:
            guarded.__signature__ = _with_connection(func)  # type: ignore[attr-defined]
        return cast(F, guarded)

    return decorate


async def _guard_connection(rule: Rule, connection: HTTPConnection) -> Any:
    """Starlette and FastAPI: a Starlette response (or a closed websocket) when refused."""
    scope = connection.scope
    ctx = auth_context(scope)
    try:
        await rule.check(ctx, connection.path_params)
    except LogtoError as exc:
        if isinstance(connection, WebSocket):
            await connection.close(code=close_code(exc))
            return None
        status, headers, body = await rule.refusal(scope, ctx, exc)
        return Response(body, status_code=status, headers=str_headers(headers))
    return _PASS


async def _guard_quart(rule: Rule) -> Any:
    """Quart: handlers take no request; read Quart's request (or websocket) context."""
    quart = sys.modules.get("quart")
    in_request = quart is not None and quart.has_request_context()
    if quart is None or not (in_request or quart.has_websocket_context()):
        raise LookupError(
            "requires_auth found no request: Starlette endpoints take the request as an "
            "argument, Quart handlers must run in a request or websocket context"
        )
    connection = quart.request if in_request else quart.websocket
    scope = connection.scope
    ctx = auth_context(scope)
    try:
        await rule.check(ctx, connection.view_args or {})
    except LogtoError as exc:
        if not in_request:
            await connection.close(close_code(exc))
            return None
        status, headers, body = await rule.refusal(scope, ctx, exc)
        return quart.Response(body, status=status, headers=str_headers(headers))
    return _PASS


def _takes_connection(func: Callable[..., Any]) -> bool:
    """Whether the endpoint declares a parameter FastAPI fills with the connection."""
    try:
        signature = inspect.signature(func, eval_str=True)
    except (NameError, TypeError, SyntaxError):
        signature = inspect.signature(func)
    for param in signature.parameters.values():
        annotation = param.annotation
        if isinstance(annotation, type) and issubclass(annotation, HTTPConnection):
            return True
        if isinstance(annotation, str) and annotation.rsplit(".", 1)[-1] in _CONNECTION_TYPES:
            return True
    return False


def _with_connection(func: Callable[..., Any]) -> inspect.Signature:
    """The endpoint's own signature plus a keyword-only connection parameter.

    Annotations stay as written: FastAPI evaluates string annotations in the namespace
    of the unwrapped endpoint, which is where they were written.
    """
    signature = inspect.signature(func)
    params = list(signature.parameters.values())
    extra = inspect.Parameter(_INJECTED, inspect.Parameter.KEYWORD_ONLY, annotation=HTTPConnection)
    if params and params[-1].kind is inspect.Parameter.VAR_KEYWORD:
        params.insert(len(params) - 1, extra)
    else:
        params.append(extra)
    return signature.replace(parameters=params)


# The ASGI wrapper -------------------------------------------------------------------


class RequireAuth:
    """Guard a whole ASGI application, websockets included.

    ``Mount("/admin", app=RequireAuth(admin, roles=["admin"]))``. The options mean what
    they mean for ``requires_auth``; ``organization_id="{org_id}"`` reads the path
    parameters of the enclosing mount (``Mount("/orgs/{org_id}", …)``). A refused
    websocket is closed before it is accepted (1008). Lifespan and other scope types
    pass through.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        scopes: Sequence[str] | str = (),
        resource: str | None = None,
        organization_id: str | None = None,
        redirect: bool = False,
        fetch_user_info: bool = False,
        roles: Sequence[str] | str = (),
        any_role: Sequence[str] | str = (),
        organization_roles: Sequence[str] | str = (),
        claims: ClaimsCheck | None = None,
        max_age: int | None = None,
    ) -> None:
        self.app = app
        self.rule = Rule.build(
            scopes,
            resource,
            organization_id,
            redirect,
            fetch_user_info,
            roles=roles,
            any_role=any_role,
            organization_roles=organization_roles,
            claims=claims,
            max_age=max_age,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        ctx = auth_context(scope)
        try:
            await self.rule.check(ctx, scope.get("path_params") or {})
        except LogtoError as exc:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": close_code(exc)})
                return
            status, headers, body = await self.rule.refusal(scope, ctx, exc)
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
