"""``TokenService``: the token lifecycle, in one place.

It owns the code exchange, the refresh grant (single-flight through a coordinator),
ID-token validation, the one access-token validator, userinfo, revocation, and the
mapping of provider error codes to domain errors. The read side (``LogtoContext``) and
the routes only ask it; the HTTP goes through ``ProviderClient``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from . import protocol, telemetry
from ._crypto import fingerprint
from ._refresh import RefreshCoordinator
from .config import LogtoConfig
from .errors import (
    AccessDenied,
    AuthorizationError,
    ConfigurationError,
    InsufficientScope,
    LogtoError,
    ProviderError,
    ProviderUnavailable,
    SessionExpired,
    TokenValidationError,
)
from .flows import TokenResponse, parse_token_response
from .models import AccessTokenClaims, UserInfo, UserInfoScope
from .provider import ProviderClient
from .sessions._ops import StoreOps
from .sessions.base import CachedToken, Session, token_key
from .signed_userinfo import verify_signed_userinfo
from .tokens import (
    FETCHED_ACCESS_TOKEN_TYPES,
    ORGANIZATION_AUDIENCE,
    check_auth_time,
    check_id_token,
    verify_access_token,
    verify_signature,
)

logger = logging.getLogger("logto_asgi")


def _ended_key(session_id: str) -> str:
    return f"ended:{fingerprint(session_id)}"


def _jwks_outage(
    provider: ProviderClient, exc: TokenValidationError, what: str
) -> ProviderUnavailable | None:
    """A 503 for a token from the provider's own token endpoint that no cached key
    verifies while the JWKS cannot be fetched (its key is likely new); ``None`` otherwise.
    (A bearer token, from anyone, stays a 401: see ``ProviderClient.signing_keys``.)"""
    wait = provider.jwks_backoff.remaining()
    if exc.check != "signature" or not wait:
        return None
    return ProviderUnavailable(
        f"the {what} is signed with a key not cached here, and the JWKS cannot be fetched now",
        retry_after=wait,
    )


def grant_error(exc: AuthorizationError, resource: str | None, organization_id: str | None) -> LogtoError:
    """What a refused refresh grant means for the app, by the provider's error code."""
    code = exc.provider_error
    if code == "invalid_grant":
        return SessionExpired("the provider no longer accepts this session's refresh token: sign in again")
    if code == "access_denied":
        target = f"organization {organization_id!r}" if organization_id else f"resource {resource!r}"
        return AccessDenied(f"the provider refused a token for {target} (not a member?)")
    if code == "insufficient_scope":
        return InsufficientScope(
            "the session was not granted the scope this token needs: add "
            "UserInfoScope.organizations to LogtoConfig.scopes and sign in again",
            scopes=[UserInfoScope.organizations.value],
        )
    if code == "invalid_target":
        return ConfigurationError(
            "resources",
            f"the provider does not know resource {resource!r} for this sign-in: add it to "
            "LogtoConfig(resources=[...]) and sign in again",
        )
    return exc


class TokenService:
    """Exchange, refresh, validation, userinfo and revocation for one client."""

    def __init__(
        self,
        config: LogtoConfig,
        provider: ProviderClient,
        refresher: RefreshCoordinator,
        shared: StoreOps,
        *,
        clock: Callable[[], float],
    ) -> None:
        self.config = config
        self.provider = provider
        self.refresher = refresher
        self._shared = shared
        self._clock = clock

    # Ended sessions --------------------------------------------------------------------

    async def mark_ended(self, session_id: str) -> None:
        """Remember that a session ended (sign-out, back-channel logout) for as long as a
        copy of it could live, so that no refresh in flight writes it back."""
        await self._shared.set(_ended_key(session_id), b"1", self.config.session_max_age)

    async def remember_sid(self, sid: str) -> None:
        """Note that a cookie session was signed in through the provider session ``sid``
        (so that a front-channel logout naming it may mark it ended)."""
        await self._shared.set(f"known-sid:{fingerprint(sid)}", b"1", self.config.session_max_age)

    async def mark_sid_ended(self, sid: str) -> bool:
        """Remember that the provider ended its session ``sid`` (front-channel logout):
        every cookie session signed in through it is refused from now on. Only a ``sid``
        one of our sign-ins noted is marked: requests naming made-up ones write nothing."""
        if await self._shared.get(f"known-sid:{fingerprint(sid)}") is None:
            return False
        await self._shared.set(f"ended-sid:{fingerprint(sid)}", b"1", self.config.session_max_age)
        return True

    async def sid_ended_if_known(self, sid: object) -> bool:
        """Whether the provider ended the session ``sid``; a store failure counts as not."""
        if not isinstance(sid, str) or not sid:
            return False
        try:
            return await self._shared.get(f"ended-sid:{fingerprint(sid)}") is not None
        except LogtoError as exc:
            logger.warning(
                "could not check for a front-channel logout: %s",
                exc.description,
                **telemetry.log_fields("store", "error", exc.error),
            )
            return False

    async def is_ended(self, session_id: str) -> bool:
        """Whether sign-out or back-channel logout ended the session."""
        return await self._shared.get(_ended_key(session_id)) is not None

    async def ended_if_known(self, session_id: str) -> bool:
        """``is_ended``, where a store failure counts as "not ended": for the moments after
        the provider rotated a token, when losing the new token is the worse outcome (a
        sign-out during the outage failed with 503 itself, so nothing was ended)."""
        try:
            return await self.is_ended(session_id)
        except LogtoError as exc:
            logger.warning(
                "could not check for a sign-out after a refresh: %s",
                exc.description,
                **telemetry.log_fields("store", "error", exc.error, session_id),
            )
            return False

    # ID tokens and sessions -----------------------------------------------------------

    async def validate_id_token(
        self, id_token: str, *, nonce: str | None, expected_sub: str | None = None
    ) -> dict[str, Any]:
        """Signature and claims of an ID token; ``expected_sub`` for refreshed ones."""
        with telemetry.span("logto.id_token.validate"):
            metadata = await self.provider.metadata()
            try:
                claims = await verify_signature(id_token, self.provider)
            except TokenValidationError as exc:
                outage = _jwks_outage(self.provider, exc, "ID token")
                if outage is None:
                    raise
                raise outage from exc
            check_id_token(
                claims,
                issuer=metadata.issuer,
                client_id=self.config.app_id,
                nonce=nonce,
                now=self._clock(),
                leeway=self.config.clock_skew,
            )
            if expected_sub is not None and claims.get("sub") != expected_sub:
                raise TokenValidationError("the refreshed ID token is for another user", check="sub")
            return claims

    def cached_token(self, tokens: TokenResponse, *, now: float) -> CachedToken:
        """Keep a token until shortly before it expires (``clock_skew``, at most half its
        lifetime, so short-lived test tokens stay usable)."""
        lifetime = max(0.0, tokens.expires_at - now)
        margin = min(self.config.clock_skew, lifetime / 2)
        return CachedToken(tokens.access_token, tokens.expires_at - margin, tokens.scope or "")

    async def exchange_code(
        self, *, code: str, redirect_uri: str, verifier: str, nonce: str, max_age: int | None = None
    ) -> Session:
        """The authorization code for a new, validated session (``max_age``: the one the
        authorization request sent, so ``auth_time`` must be recent enough)."""
        with telemetry.span("logto.code_exchange"):
            params = protocol.code_exchange_params(code=code, redirect_uri=redirect_uri, verifier=verifier)
            body = await self.provider.token_request(params, what="code exchange")
            now = self._clock()
            tokens = parse_token_response(body, now=now)
            if not tokens.id_token:
                raise ProviderError("the token response has no id_token (was the openid scope granted?)")
            claims = await self.validate_id_token(tokens.id_token, nonce=nonce)
            if max_age is not None:
                check_auth_time(claims, max_age=max_age, now=now, leeway=self.config.clock_skew)
            metadata = await self.provider.metadata()
            requested = self.config.sign_in_scopes(metadata.raw.get("scopes_supported"))
            return self.new_session(
                id_token=tokens.id_token, claims=claims, tokens=tokens, now=now, requested=requested
            )

    def new_session(
        self,
        *,
        id_token: str,
        claims: dict[str, Any],
        tokens: TokenResponse,
        now: float,
        requested: tuple[str, ...] | None = None,
    ) -> Session:
        """A new session (new id: no fixation) from a validated sign-in; without a
        ``scope`` in the token response, the ``requested`` scopes were granted (RFC 6749 5.1)."""
        return Session(
            id_token=id_token,
            claims=claims,
            refresh_token=tokens.refresh_token,
            scope=tokens.scope or " ".join(requested or self.config.all_scopes),
            created_at=int(now),
            updated_at=int(now),
            expires_at=int(now + self.config.session_max_age),
            access_tokens={"": self.cached_token(tokens, now=now)},
        )

    # Refresh -----------------------------------------------------------------------------

    async def refresh(self, session: Session, resource: str | None, organization_id: str | None) -> Session:
        """The session after one refresh grant for ``resource`` / ``organization_id``,
        shared with every concurrent caller spending the same refresh token.
        ``SessionExpired`` when the session cannot be refreshed any more."""
        observed = {"logto.resource": resource or "", "logto.session": fingerprint(session.id)}
        with telemetry.span("logto.refresh", **observed) as span:
            refresh_token = session.refresh_token
            if not refresh_token:
                raise SessionExpired(
                    "the session has no refresh token (was offline_access granted?): sign in again"
                )
            key = token_key(resource, organization_id)

            async def grant() -> Session:
                with telemetry.span("logto.refresh.grant"):
                    try:
                        fresh = await self._grant(session, refresh_token, resource, organization_id, key)
                    except Exception as exc:
                        telemetry.count("logto.refresh.grants", outcome=telemetry.error_label(exc))
                        raise
                    telemetry.count("logto.refresh.grants", outcome="ok")
                    return fresh

            def usable(result: Session) -> bool:
                cached = result.access_tokens.get(key)
                return cached is not None and cached.expires_at > self._clock()

            return await self.refresher.refresh(refresh_token, grant, usable, span=span)

    async def _grant(
        self,
        session: Session,
        refresh_token: str,
        resource: str | None,
        organization_id: str | None,
        key: str,
    ) -> Session:
        """The one refresh grant sent for ``refresh_token`` (see ``refresh``)."""
        params = protocol.refresh_params(refresh_token, resource=resource, organization_id=organization_id)
        try:
            body = await self.provider.token_request(params, what="token refresh")
        except AuthorizationError as exc:
            raise grant_error(exc, resource, organization_id) from exc
        fresh = await self._refreshed(session, body, key)
        if await self.ended_if_known(session.id):
            # Signed out while the grant was in flight: the new token must not survive.
            if fresh.refresh_token and fresh.refresh_token != refresh_token:
                await self.revoke(fresh.refresh_token)
            raise SessionExpired("the session was signed out: sign in again")
        return fresh

    async def _refreshed(self, session: Session, body: dict[str, Any], key: str) -> Session:
        now = self._clock()
        tokens = parse_token_response(body, now=now)
        changes: dict[str, Any] = {
            "refresh_token": tokens.refresh_token or session.refresh_token,
            "updated_at": int(now),
        }
        if tokens.id_token:
            claims = await self._refreshed_claims(session, tokens.id_token)
            if claims is not None:
                changes.update(id_token=tokens.id_token, claims=claims)
        return session.with_token(key, self.cached_token(tokens, now=now), **changes)

    async def _refreshed_claims(self, session: Session, id_token: str) -> dict[str, Any] | None:
        """The refreshed ID token's claims; ``None`` to keep the previous ID token."""
        try:
            return await self.validate_id_token(id_token, nonce=None, expected_sub=str(session.claims["sub"]))
        except TokenValidationError as exc:
            if exc.check not in ("exp", "iat"):
                raise SessionExpired(
                    f"the provider's refreshed ID token failed the {exc.check!r} check: "
                    "the session was ended, sign in again"
                ) from exc
            # The refresh token is already spent: keep its successor and the new access
            # token, and keep the previous ID token rather than lose the session over a
            # clock difference.
            logger.warning(
                "refreshed ID token failed the %r check; keeping the previous one",
                exc.check,
                **telemetry.log_fields("refresh", "kept_id_token", exc.error, session.id),
            )
            return None
        except ProviderError as exc:
            # The JWKS cannot be fetched now: the same reasoning, the successor must not be
            # lost (replaying the spent refresh token would revoke the whole grant).
            logger.warning(
                "could not check the refreshed ID token (%s); keeping the previous one",
                exc.description,
                **telemetry.log_fields("refresh", "kept_id_token", exc.error, session.id),
            )
            return None

    # Access tokens and userinfo -------------------------------------------------------------

    async def access_token_claims(
        self, token: str, resource: str | None, organization_id: str | None
    ) -> AccessTokenClaims:
        """The validated claims of a JWT access token issued for this session."""
        if token.count(".") != 2:
            raise LogtoError(
                "this access token is opaque (no resource was given): pass resource=… to get a "
                "JWT access token whose claims can be read"
            )
        metadata = await self.provider.metadata()
        audience = resource or (f"{ORGANIZATION_AUDIENCE}{organization_id}" if organization_id else None)
        try:
            claims = await verify_access_token(
                token,
                self.provider,
                issuer=metadata.issuer,
                audience=audience,
                now=self._clock(),
                leeway=self.config.clock_skew,
                # Straight from the token endpoint (TLS, our credentials): no typ to insist
                # on (Keycloak and LemonLDAP say JWT); other kinds are still refused.
                token_types=FETCHED_ACCESS_TOKEN_TYPES,
            )
        except TokenValidationError as exc:
            outage = _jwks_outage(self.provider, exc, "access token")
            if outage is None:
                raise
            raise outage from exc
        return AccessTokenClaims(claims)

    async def user_info(self, access_token: str, *, sub: object) -> UserInfo:
        """The userinfo endpoint's claims for ``access_token``, checked to be ``sub``'s."""
        with telemetry.span("logto.userinfo"):
            reply = await self.provider.userinfo(access_token)
            if isinstance(reply, str):
                metadata = await self.provider.metadata()
                try:
                    data = await verify_signed_userinfo(
                        reply, self.provider, issuer=metadata.issuer, client_id=self.config.app_id
                    )
                except TokenValidationError as exc:
                    outage = _jwks_outage(self.provider, exc, "userinfo response")
                    if outage is None:
                        raise
                    raise outage from exc
            else:
                data = reply
            if data.get("sub") != sub:
                raise TokenValidationError("the userinfo response is for another user", check="sub")
            return UserInfo(data)

    async def revoke(self, refresh_token: str) -> None:
        """Revoke a refresh token (best effort)."""
        await self.provider.revoke(refresh_token)
