"""FastAPI dependencies: ``CurrentUser``, ``OptionalUser``, ``require(...)``, and the
``openIdConnect`` security scheme they publish in ``/openapi.json``.

::

    from fastapi import Depends, FastAPI
    from logto_asgi import LogtoConfig, LogtoMiddleware
    from logto_asgi.fastapi import CurrentUser, require, setup_openapi

    config = LogtoConfig.from_env(resources=[API])
    app = FastAPI()
    app.add_middleware(LogtoMiddleware, config=config)
    setup_openapi(app, config)

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, Any]:
        return user.to_dict()

    @app.get("/api/orders", dependencies=[Depends(require(scopes=["shopping:read"], resource=API))])
    async def orders() -> list[dict[str, Any]]: ...

``require`` follows the rules of ``requires_auth`` (and answers the same 401 / 403),
for browser sessions and for bearer tokens alike; its scopes show per route in OpenAPI.
The errors are raised as ``LogtoError`` and turned into responses by ``LogtoMiddleware``
or ``BearerAuthMiddleware``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

try:
    from fastapi import Depends, FastAPI, Security
    from fastapi.security import OpenIdConnect
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("logto_asgi.fastapi needs FastAPI: pip install 'logto-asgi[fastapi]'") from exc

from starlette.requests import HTTPConnection

from .config import LogtoConfig
from .errors import NotAuthenticated
from .guards import ClaimsCheck, Rule, auth_context
from .models import AccessTokenClaims, IdTokenClaims

__all__ = [
    "SCHEME_NAME",
    "CurrentUser",
    "LogtoOpenIdConnect",
    "OptionalUser",
    "require",
    "scheme",
    "setup_openapi",
]

#: The name of the security scheme in ``components.securitySchemes``.
SCHEME_NAME = "logto"


class LogtoOpenIdConnect(OpenIdConnect):
    """The ``openIdConnect`` security scheme of logto-asgi.

    As a dependency it only marks routes as protected in OpenAPI (the middlewares have
    already read the session or the token); ``CurrentUser`` and ``require`` check.
    """

    def __init__(self, *, discovery_url: str = "/oidc/.well-known/openid-configuration") -> None:
        super().__init__(
            openIdConnectUrl=discovery_url,
            scheme_name=SCHEME_NAME,
            description="Sign in with Logto (browser session cookie) or send a Logto access token "
            "as 'Authorization: Bearer <token>'.",
            auto_error=False,
        )

    async def __call__(self, request: HTTPConnection) -> str | None:
        return None


#: The scheme every dependency here uses; ``setup_openapi`` sets its URL per app.
scheme = LogtoOpenIdConnect()


def setup_openapi(app: FastAPI, config: LogtoConfig | str) -> None:
    """Point the ``openIdConnect`` scheme in ``app``'s OpenAPI at the provider's
    discovery document (``config.metadata_url``, or a URL)."""
    url = config if isinstance(config, str) else config.metadata_url
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        schemes = schema.get("components", {}).get("securitySchemes", {})
        if SCHEME_NAME in schemes:
            schemes[SCHEME_NAME]["openIdConnectUrl"] = url
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _optional_user(request: HTTPConnection) -> IdTokenClaims | None:
    ctx = auth_context(request.scope)
    user = ctx.user
    return user if isinstance(user, IdTokenClaims) else None


async def _current_user(request: HTTPConnection, _: None = Depends(scheme)) -> IdTokenClaims:
    user = await _optional_user(request)
    if user is None:
        raise NotAuthenticated("sign in first")
    return user


#: The signed-in user's ID token claims; 401 when nobody is signed in with a session.
#: (A request authenticated by a bearer token has no ID token: use ``require``.)
CurrentUser = Annotated[IdTokenClaims, Security(_current_user)]

#: The signed-in user's ID token claims, or ``None`` (routes using only this one stay
#: unmarked in OpenAPI: they serve everyone).
OptionalUser = Annotated[IdTokenClaims | None, Depends(_optional_user)]


def require(
    scopes: Sequence[str] | str = (),
    resource: str | None = None,
    organization_id: str | None = None,
    *,
    roles: Sequence[str] | str = (),
    any_role: Sequence[str] | str = (),
    organization_roles: Sequence[str] | str = (),
    claims: ClaimsCheck | None = None,
    max_age: int | None = None,
) -> Callable[..., Awaitable[IdTokenClaims | AccessTokenClaims]]:
    """A dependency enforcing what ``requires_auth`` enforces, for ``Depends``.

    Its scopes are FastAPI security scopes of the ``openIdConnect`` scheme, so they show
    per route in OpenAPI (roles, organization roles, ``claims`` and ``max_age`` are not
    OAuth scopes and do not). Use it in ``dependencies=[Depends(require(...))]``, or as a
    parameter to receive the claims of whoever calls (``IdTokenClaims`` for a session,
    ``AccessTokenClaims`` for a bearer token)::

        Admin = Annotated[AccessTokenClaims | IdTokenClaims, Depends(require(roles=["admin"]))]

    A dependency cannot redirect: a sign-in older than ``max_age`` is a 401
    ``insufficient_user_authentication`` (send browsers to ``sign_in_url(max_age=...,
    prompt="login")`` yourself, or guard page routes with ``requires_auth(redirect=True)``).
    """
    rule = Rule.build(
        scopes,
        resource,
        organization_id,
        roles=roles,
        any_role=any_role,
        organization_roles=organization_roles,
        claims=claims,
        max_age=max_age,
    )

    async def dependency(
        request: HTTPConnection, _: None = Security(scheme, scopes=list(rule.scopes))
    ) -> IdTokenClaims | AccessTokenClaims:
        ctx = auth_context(request.scope)
        await rule.check(ctx, request.path_params)
        user = ctx.user
        assert isinstance(user, (IdTokenClaims, AccessTokenClaims))
        return user

    return dependency
