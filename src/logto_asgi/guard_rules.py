"""What a guard requires, and the one check every form of guard runs (``Rule``).

A rule is built once, when the route is decorated or wrapped (``Rule.build`` validates
every option and names the one to fix), then checked on each request against the
request's ``AuthContext``, in this order — each requirement must hold:

1. someone is signed in (a session, or a valid bearer token): else ``401``;
2. ``scopes`` are granted (by the sign-in, the resource's or the organization's token):
   else ``403 insufficient_scope``;
3. ``roles`` (all of them) and ``any_role`` (one of them) are in the ``roles`` claim;
4. ``organization_roles`` are in the ``organization_roles`` claim as ``"<org id>:<role>"``
   for the organization the rule names;
5. the ``claims`` check returns ``True`` — 3 to 5 else ``403 access_denied``, whose
   description names the requirement that failed and never the user's own claims;
6. with ``max_age``, the sign-in (``auth_time``) is at most that many seconds old: else
   ``StepUpRequired`` (401), and a browser is sent to sign in again.

Claims are the ID token's for a session (as fresh as the last sign-in or token refresh)
and the access token's for a bearer request. A claim that is not a list of strings counts
as an empty list.
"""

from __future__ import annotations

import inspect
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from starlette.types import Scope

from ._http import NO_STORE
from .boundary import rendered_for
from .errors import (
    AccessDenied,
    ConfigurationError,
    InsufficientScope,
    LogtoError,
    NotAuthenticated,
    StepUpRequired,
)
from .redirects import request_target as original_target

__all__ = ["AuthContext", "ClaimsCheck", "Rule", "StepUpRequired", "original_target"]

Headers = list[tuple[bytes, bytes]]

#: A check of the caller's claims (``IdTokenClaims`` for a session, ``AccessTokenClaims``
#: for a bearer token): ``True`` lets the request through, ``False`` refuses it (403).
#: May be ``async``. Anything it raises is not caught (see ``Rule.check``).
ClaimsCheck = Callable[[Any], "bool | Awaitable[bool]"]

_PATH_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


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

    def sign_in_url(
        self,
        return_to: str | None = None,
        interaction_mode: str | None = None,
        *,
        prompt: str | None = None,
        max_age: int | None = None,
    ) -> str:
        """The sign-in route with ``return_to`` (and what the sign-in must ask for)."""
        ...


@runtime_checkable
class UserInfoContext(Protocol):
    """A context that can read the userinfo endpoint (a session's; a resource token can't)."""

    async def fetch_user_info(self) -> Any:
        """Fetch (and keep) the user's userinfo claims."""
        ...


def _names(field: str, values: Sequence[str] | str, *, word: bool = False) -> tuple[str, ...]:
    """Scopes or role names, each a non-empty string (one word for scopes), deduplicated."""
    wanted = (values,) if isinstance(values, str) else tuple(values)
    for value in wanted:
        if not isinstance(value, str) or not value or (word and " " in value):
            kind = "one non-empty word" if word else "a non-empty string"
            raise ConfigurationError(field, f"each must be {kind}, got {value!r}")
    return tuple(dict.fromkeys(str(value) for value in wanted))  # UserInfoScope → its value


def _check_organization_id(organization_id: str | None) -> None:
    if organization_id is None:
        return
    if not isinstance(organization_id, str) or not organization_id:
        raise ConfigurationError("organization_id", "must be an organization id or '{path_param}'")
    if ("{" in organization_id or "}" in organization_id) and not _PATH_PARAM.fullmatch(organization_id):
        raise ConfigurationError(
            "organization_id", f"name a path parameter as '{{name}}', got {organization_id!r}"
        )


def _check_max_age(max_age: int | None) -> None:
    if max_age is None:
        return
    if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age <= 0:
        raise ConfigurationError("max_age", f"must be a number of seconds above 0, got {max_age!r}")


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(repr(name) for name in names)


def _string_list(claims: Mapping[str, Any], name: str) -> frozenset[str]:
    """A claim that should be a list of strings; anything else counts as an empty list
    (a string ``"admin"`` is not the list ``["admin"]``)."""
    value = claims.get(name)
    if not isinstance(value, list):
        return frozenset()
    return frozenset(item for item in value if isinstance(item, str))


def _now(ctx: AuthContext) -> float:
    """The context's clock (``LogtoMiddleware(clock=...)``'s for a session), else the system's."""
    now = getattr(ctx, "now", None) or getattr(getattr(ctx, "_core", None), "now", None)
    return float(now()) if callable(now) else time.time()


@dataclass(frozen=True, slots=True)
class Rule:
    """One guard's requirements, checked the same way by every form of guard."""

    scopes: tuple[str, ...]
    resource: str | None
    organization_id: str | None
    redirect: bool
    fetch_user_info: bool
    roles: tuple[str, ...] = ()
    any_role: tuple[str, ...] = ()
    organization_roles: tuple[str, ...] = ()
    claims: ClaimsCheck | None = None
    max_age: int | None = None

    @classmethod
    def build(
        cls,
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
    ) -> Rule:
        """Validate the options once, at decoration time, naming the one to fix."""
        if resource is not None and (not isinstance(resource, str) or not resource or " " in resource):
            raise ConfigurationError("resource", f"must be a resource indicator, got {resource!r}")
        _check_organization_id(organization_id)
        org_roles = _names("organization_roles", organization_roles)
        if org_roles and organization_id is None:
            raise ConfigurationError(
                "organization_roles", "name the organization too: organization_id='{org_id}' or an id"
            )
        if claims is not None and not callable(claims):
            raise ConfigurationError("claims", f"must be a function of the claims, got {claims!r}")
        _check_max_age(max_age)
        return cls(
            scopes=_names("scopes", scopes, word=True),
            resource=resource,
            organization_id=organization_id,
            redirect=bool(redirect),
            fetch_user_info=bool(fetch_user_info),
            roles=_names("roles", roles),
            any_role=_names("any_role", any_role),
            organization_roles=org_roles,
            claims=claims,
            max_age=max_age,
        )

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
        """Pass, or raise the ``LogtoError`` that says why not.

        Whatever the ``claims`` check raises propagates as it is: an exception that is
        not a ``LogtoError`` is the app's own 500 (with its traceback in the server's
        log), and a ``LogtoError`` such as ``AccessDenied("...")`` is its own answer.
        """
        if not ctx.is_authenticated:
            raise NotAuthenticated("sign in, or send an access token, to use this route")
        organization = self.organization(path_params)
        await self._check_scopes(ctx, organization)
        user = ctx.user
        claims: Mapping[str, Any] = user if user is not None else {}
        self._check_roles(claims)
        self._check_organization_roles(claims, organization)
        await self._check_claims(claims)
        self._check_recent(ctx, claims)
        if self.fetch_user_info and isinstance(ctx, UserInfoContext):
            # A bearer token is a resource token: the userinfo endpoint does not take it.
            await ctx.fetch_user_info()

    async def _check_scopes(self, ctx: AuthContext, organization: str | None) -> None:
        # organization_roles alone read a claim: no organization token is needed for them.
        needs_token = organization is not None and not self.organization_roles
        if self.scopes or self.resource is not None or needs_token:
            granted = await ctx.granted_scopes(self.resource, organization)
            missing = [scope for scope in self.scopes if scope not in granted]
            if missing:
                raise InsufficientScope(
                    f"this route needs the scope(s) {', '.join(missing)}", scopes=self.scopes
                )

    def _check_roles(self, claims: Mapping[str, Any]) -> None:
        held = _string_list(claims, "roles")
        if not all(role in held for role in self.roles):
            plural = "s" if len(self.roles) > 1 else ""
            raise AccessDenied(f"this route requires the role{plural} {_quoted(self.roles)}")
        if self.any_role and not any(role in held for role in self.any_role):
            raise AccessDenied(f"this route requires one of the roles {_quoted(self.any_role)}")

    def _check_organization_roles(self, claims: Mapping[str, Any], organization: str | None) -> None:
        if not self.organization_roles:
            return
        held = _string_list(claims, "organization_roles")
        if not all(f"{organization}:{role}" in held for role in self.organization_roles):
            plural = "s" if len(self.organization_roles) > 1 else ""
            raise AccessDenied(
                f"this route requires the organization role{plural} {_quoted(self.organization_roles)} "
                f"in organization {organization!r}"
            )

    async def _check_claims(self, claims: Mapping[str, Any]) -> None:
        if self.claims is None:
            return
        verdict = self.claims(claims)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        if not isinstance(verdict, bool):
            raise TypeError(f"the claims check must return True or False, not {type(verdict).__name__}")
        if not verdict:
            raise AccessDenied("the claims check refused this user")

    def _check_recent(self, ctx: AuthContext, claims: Mapping[str, Any]) -> None:
        """``max_age``: ``auth_time`` at most that old; a missing one counts as too old."""
        if self.max_age is None:
            return
        auth_time: object = claims.get("auth_time")
        if isinstance(auth_time, bool) or not isinstance(auth_time, (int, float)):
            auth_time = float("-inf")  # unknown: as old as can be
        if _now(ctx) - auth_time > self.max_age:
            what = "a sign-in" if isinstance(ctx, SignInContext) else "an access token from a sign-in"
            raise StepUpRequired(
                f"this route needs {what} within the last {self.max_age} seconds: sign in again",
                max_age=self.max_age,
            )

    async def refusal(self, scope: Scope, ctx: AuthContext, exc: LogtoError) -> tuple[int, Headers, bytes]:
        """Status, headers and body answering a refused HTTP request (the app's
        ``on_error`` first, like every error the middleware answers)."""
        sign_in = sign_in_link(scope, ctx, exc)
        if sign_in is not None and self.redirect:
            return 303, [*NO_STORE, (b"location", sign_in.encode("latin-1"))], b""
        rendered = await rendered_for(scope, exc, (sign_in, "Sign in") if sign_in else None)
        return rendered.status, [*NO_STORE, *challenge(exc, rendered.headers)], rendered.body


def sign_in_link(scope: Scope, ctx: AuthContext, exc: LogtoError) -> str | None:
    """Where a refused browser session signs in (and comes back), if it can."""
    if not isinstance(exc, NotAuthenticated) or not isinstance(ctx, SignInContext):
        return None
    if isinstance(exc, StepUpRequired):
        return ctx.sign_in_url(return_to=original_target(scope), max_age=exc.max_age, prompt="login")
    return ctx.sign_in_url(return_to=original_target(scope))


def challenge(exc: LogtoError, headers: Headers) -> Headers:
    """The rendered headers, with RFC 9470's step-up challenge for ``StepUpRequired``."""
    if not isinstance(exc, StepUpRequired):
        return headers
    value = f'Bearer error="{exc.error}", max_age="{exc.max_age}"'
    return [*(h for h in headers if h[0] != b"www-authenticate"), (b"www-authenticate", value.encode())]
