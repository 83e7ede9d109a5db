"""Route guards: ``requires_auth`` for endpoint functions, ``RequireAuth`` for whole ASGI
sub-applications.

One rule set for browser sessions (``LogtoMiddleware``) and API calls with bearer tokens
(``BearerAuthMiddleware``): both put a context in ``request.state.logto`` that answers
the two questions a guard asks — is anyone signed in, and which scopes may this request
use (see ``AuthContext``).

What a refused request gets, in every form (decorator, ASGI wrapper, FastAPI dependency):

- nobody signed in: ``401`` with ``WWW-Authenticate: Bearer``; with ``redirect=True`` a
  ``303`` to the sign-in path with ``return_to`` set to the original path and query;
- a missing scope: ``403`` with ``WWW-Authenticate: Bearer error="insufficient_scope",
  scope="…"`` naming every scope the route requires;
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
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast, runtime_checkable
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from ._http import NO_STORE
from .boundary import close_code, render_error, str_headers
from .errors import ConfigurationError, InsufficientScope, LogtoError, NotAuthenticated

__all__ = ["AuthContext", "RequireAuth", "auth_context", "requires_auth"]

F = TypeVar("F", bound=Callable[..., Any])
Headers = list[tuple[bytes, bytes]]

_PATH_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# The keyword under which FastAPI hands the wrapper the connection when the endpoint
# itself takes none (FastAPI injects any parameter annotated ``HTTPConnection``).
_INJECTED = "logto_guard_connection"
_CONNECTION_TYPES = ("Request", "WebSocket", "HTTPConnection")


@runtime_checkable
class AuthContext(Protocol):
    """What a guard needs from ``request.state.logto``.

    ``LogtoContext`` (a browser session) and ``BearerContext`` (an API call with a
    bearer token) both provide it.
    """

    @property
    def is_authenticated(self) -> bool:
        """Whether the request carries a live session or a valid token."""
        ...

    @property
    def user(self) -> Mapping[str, Any] | None:
        """The claims of whoever is signed in (ID token or access token claims)."""
        ...

    async def granted_scopes(
        self, resource: str | None = None, organization_id: str | None = None
    ) -> frozenset[str]:
        """The scopes the request may use for ``resource`` and/or the organization, else
        its general scopes. Raises a ``LogtoError`` when it cannot tell (signed out,
        provider down, token not meant for that resource or organization)."""
        ...


@runtime_checkable
class SignInContext(Protocol):
    """A context that can send a signed-out browser to sign in (a session's)."""

    def sign_in_url(self, return_to: str | None = None, interaction_mode: str | None = None) -> str:
        """The sign-in route with ``return_to``."""
        ...


@runtime_checkable
class UserInfoContext(Protocol):
    """A context that can read the userinfo endpoint (a session's; a resource token can't)."""

    async def fetch_user_info(self) -> Any:
        """Fetch (and keep) the user's userinfo claims."""
        ...


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


@dataclass(frozen=True, slots=True)
class Rule:
    """One guard's requirements, checked the same way by every form of guard."""

    scopes: tuple[str, ...]
    resource: str | None
    organization_id: str | None
    redirect: bool
    fetch_user_info: bool

    @classmethod
    def build(
        cls,
        scopes: Sequence[str] | str = (),
        resource: str | None = None,
        organization_id: str | None = None,
        redirect: bool = False,
        fetch_user_info: bool = False,
    ) -> Rule:
        """Validate the options once, at decoration time, naming the one to fix."""
        wanted = (scopes,) if isinstance(scopes, str) else tuple(scopes)
        for scope in wanted:
            if not isinstance(scope, str) or not scope or " " in scope:
                raise ConfigurationError("scopes", f"each scope must be one non-empty word, got {scope!r}")
        if resource is not None and (not isinstance(resource, str) or not resource or " " in resource):
            raise ConfigurationError("resource", f"must be a resource indicator, got {resource!r}")
        if organization_id is not None:
            if not isinstance(organization_id, str) or not organization_id:
                raise ConfigurationError("organization_id", "must be an organization id or '{path_param}'")
            if ("{" in organization_id or "}" in organization_id) and not _PATH_PARAM.fullmatch(
                organization_id
            ):
                raise ConfigurationError(
                    "organization_id", f"name a path parameter as '{{name}}', got {organization_id!r}"
                )
        unique = tuple(dict.fromkeys(str(scope) for scope in wanted))  # UserInfoScope → its value
        return cls(unique, resource, organization_id, bool(redirect), bool(fetch_user_info))

    def organization(self, path_params: Mapping[str, Any]) -> str | None:
        """The organization to check: the literal id, or the named path parameter."""
        if self.organization_id is None:
            return None
        match = _PATH_PARAM.fullmatch(self.organization_id)
        if match is None:
            return self.organization_id
        value = path_params.get(match.group(1))
        if value is None or value == "":
            raise ConfigurationError(
                "organization_id", f"this route has no path parameter {match.group(1)!r}"
            )
        return str(value)

    async def check(self, ctx: AuthContext, path_params: Mapping[str, Any]) -> None:
        """Pass, or raise the ``LogtoError`` that says why not."""
        if not ctx.is_authenticated:
            raise NotAuthenticated("sign in, or send an access token, to use this route")
        organization = self.organization(path_params)
        if self.scopes or self.resource is not None or organization is not None:
            granted = await ctx.granted_scopes(self.resource, organization)
            missing = [scope for scope in self.scopes if scope not in granted]
            if missing:
                raise InsufficientScope(
                    f"this route needs the scope(s) {', '.join(missing)}", scopes=self.scopes
                )
        if self.fetch_user_info and isinstance(ctx, UserInfoContext):
            # A bearer token is a resource token: the userinfo endpoint does not take it.
            await ctx.fetch_user_info()

    def refusal(self, scope: Scope, ctx: AuthContext, exc: LogtoError) -> tuple[int, Headers, bytes]:
        """Status, headers and body answering a refused HTTP request."""
        sign_in = None
        if isinstance(exc, NotAuthenticated) and isinstance(ctx, SignInContext):
            sign_in = ctx.sign_in_url(return_to=original_target(scope))
        if sign_in is not None and self.redirect:
            return 303, [*NO_STORE, (b"location", sign_in.encode("latin-1"))], b""
        rendered = render_error(scope, exc, (sign_in, "Sign in") if sign_in else None)
        return rendered.status, [*NO_STORE, *rendered.headers], rendered.body


def original_target(scope: Scope) -> str:
    """The path and query of the request, as sent (for ``return_to``)."""
    raw = scope.get("raw_path")
    if isinstance(raw, bytes) and raw.startswith(b"/"):
        path = raw.split(b"?", 1)[0].decode("latin-1")
    else:
        path = quote(scope.get("path") or "/")
    query = scope.get("query_string") or b""
    return f"{path}?{query.decode('latin-1')}" if query else path


# The decorator ----------------------------------------------------------------------


#: Sentinel: the guard let the request through.
_PASS: Any = object()


def requires_auth(
    scopes: Sequence[str] | str = (),
    resource: str | None = None,
    organization_id: str | None = None,
    redirect: bool = False,
    fetch_user_info: bool = False,
) -> Callable[[F], F]:
    """Guard an endpoint function (Starlette, FastAPI or Quart).

    ``scopes`` must all be granted: by the access token of ``resource`` when given,
    else by the organization's token when ``organization_id`` is given (a literal id,
    or ``"{org_id}"`` to take the path parameter ``org_id``), else by the scopes granted
    at sign-in (for a bearer token: its ``scope`` claim). With both ``resource`` and
    ``organization_id`` the resource token is requested for that organization.
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
    rule = Rule.build(scopes, resource, organization_id, redirect, fetch_user_info)

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
        status, headers, body = rule.refusal(scope, ctx, exc)
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
        status, headers, body = rule.refusal(scope, ctx, exc)
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

    ``Mount("/admin", app=RequireAuth(admin, scopes=["admin"]))``. The options mean what
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
    ) -> None:
        self.app = app
        self.rule = Rule.build(scopes, resource, organization_id, redirect, fetch_user_info)

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
            status, headers, body = self.rule.refusal(scope, ctx, exc)
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
