"""The action side: sign-in, callback and sign-out routes, as raw ASGI handlers."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.types import Receive, Scope, Send

from . import flows
from ._crypto import InvalidToken
from ._http import origin, query_params, redirect, request_cookies, send_error, send_response
from .backchannel import backchannel_logout, index_session
from .core import LogtoCore
from .errors import AuthorizationError, LogtoError, TransactionError
from .sessions._backends import StoreBackend
from .sessions.base import Session
from .transaction import Transaction, cookie_name, pending, valid_state

logger = logging.getLogger("logto_asgi")

Headers = list[tuple[bytes, bytes]]


class AuthRoutes:
    """Serves the auth paths of one ``LogtoCore``."""

    def __init__(self, core: LogtoCore) -> None:
        self.core = core
        config = core.config
        self.paths = {
            config.sign_in_path: self.sign_in,
            config.callback_path: self.callback,
            config.sign_out_path: self.sign_out,
        }
        if config.backchannel_logout_path is not None:
            self.paths[config.backchannel_logout_path] = self.backchannel_logout

    def _redirect_uri(self, scope: Scope) -> str:
        return origin(scope, self.core.config.base_url) + self.core.config.callback_path

    def _post_logout_uri(self, scope: Scope) -> str:
        target = self.core.config.post_sign_out_redirect
        return target if not target.startswith("/") else origin(scope, self.core.config.base_url) + target

    async def _method_not_allowed(self, send: Send, allowed: bytes) -> None:
        await send_response(send, 405, headers=[(b"allow", allowed)])

    # Sign-in ---------------------------------------------------------------------------

    async def sign_in(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            return await self._method_not_allowed(send, b"GET, HEAD")
        core, config = self.core, self.core.config
        query = query_params(scope)
        return_to = flows.safe_return_to(query.get("return_to")) or config.post_sign_in_redirect
        try:
            metadata = await core.provider.metadata()
        except LogtoError as exc:
            logger.warning("sign-in failed: %s", exc.description)
            return await send_error(scope, send, exc)
        now = int(core.clock())
        tx = Transaction(
            state=flows.new_secret(),
            nonce=flows.new_secret(),
            verifier=flows.new_verifier(),
            return_to=return_to,
            redirect_uri=self._redirect_uri(scope),
            created_at=now,
        )
        url = flows.authorization_url(
            metadata,
            config,
            redirect_uri=tx.redirect_uri,
            state=tx.state,
            nonce=tx.nonce,
            verifier=tx.verifier,
            extras=flows.sign_in_extras(query),
        )
        secure = core.jar.secure_for(scope, config.base_url)
        samesite = "none" if config.cookie_samesite == "none" else "lax"
        headers: Headers = [
            core.jar.set(
                cookie_name(config.cookie_name, tx.state),
                tx.encode(core.transactions),
                max_age=600,
                secure=secure,
                samesite=samesite.capitalize(),
            )
        ]
        headers.extend(
            core.jar.delete(name, secure=secure) for name in self._surplus(request_cookies(scope), now)
        )
        await redirect(send, url, headers=headers)

    def _surplus(self, cookies: Mapping[str, str], now: int) -> list[str]:
        """Pending transactions to drop so that, with the new one, at most
        ``max_pending_sign_ins`` remain: unreadable ones first, then the oldest."""
        config = self.core.config
        names = pending(config.cookie_name, cookies)
        if len(names) < config.max_pending_sign_ins:
            return []
        prefix = len(cookie_name(config.cookie_name, ""))
        aged: list[tuple[int, str]] = []
        for name in names:
            try:
                tx = Transaction.decode(cookies[name], self.core.transactions, state=name[prefix:], now=now)
                aged.append((tx.created_at, name))
            except InvalidToken:
                aged.append((-1, name))
        aged.sort()
        return [name for _, name in aged[: len(aged) - config.max_pending_sign_ins + 1]]

    # Callback --------------------------------------------------------------------------

    async def callback(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            return await self._method_not_allowed(send, b"GET, HEAD")
        core, config = self.core, self.core.config
        query = query_params(scope)
        cookies = request_cookies(scope)
        secure = core.jar.secure_for(scope, config.base_url)
        state = query.get("state")
        tx_cookie = cookie_name(config.cookie_name, state) if valid_state(state) else None
        clear_tx: Headers = []
        if tx_cookie is not None and tx_cookie in cookies:
            clear_tx.append(core.jar.delete(tx_cookie, secure=secure))
        retry = (config.sign_in_path, "Sign in again")
        try:
            if "error" in query:
                code = query["error"][:64]
                description = query.get("error_description", "")[:300]
                raise AuthorizationError(
                    f"the provider did not sign you in: {code}"
                    + (f" ({description})" if description else ""),
                    provider_error=code,
                )
            if tx_cookie is None or tx_cookie not in cookies:
                if core.backend.present(cookies) and await core.backend.load(cookies) is not None:
                    # Back button after a successful sign-in: nothing to do but go on.
                    return await redirect(send, config.post_sign_in_redirect, status=303, headers=clear_tx)
                raise TransactionError(
                    "this sign-in link is not for a sign-in started here, was already used, or "
                    "expired: start again"
                )
            assert state is not None
            try:
                tx = Transaction.decode(cookies[tx_cookie], core.transactions, state=state, now=core.clock())
            except InvalidToken as exc:
                raise TransactionError(
                    "the sign-in attempt expired or was tampered with: start again"
                ) from exc
            auth_code = query.get("code")
            if not auth_code or len(auth_code) > 2048:
                raise TransactionError("the callback has no authorization code")
            session = await self._exchange(tx, auth_code)
            await self._drop_previous(cookies)
            await index_session(core, session)
            headers = await core.backend.save(session, cookies, now=core.clock(), secure=secure)
        except LogtoError as exc:
            logger.warning("sign-in callback failed: %s (%r)", exc.error, exc.description)
            return await send_error(scope, send, exc, headers=clear_tx, link=retry)
        logger.info("signed in sub=%s", session.claims.get("sub"))
        await redirect(send, tx.return_to, headers=[*clear_tx, *headers])

    async def _drop_previous(self, cookies: Mapping[str, str]) -> None:
        """A sign-in replaces the browser's previous server-side session: delete its entry,
        so a copy of the old cookie is worth nothing (the new session has a new id)."""
        backend = self.core.backend
        if isinstance(backend, StoreBackend) and backend.present(cookies):
            previous = await backend.load(cookies)
            if previous is not None:
                await backend.delete_by_id(previous.id)

    async def _exchange(self, tx: Transaction, code: str) -> Session:
        core = self.core
        body = await core.provider.token_request(
            flows.code_exchange_params(code=code, redirect_uri=tx.redirect_uri, verifier=tx.verifier),
            what="code exchange",
        )
        now = core.clock()
        tokens = flows.parse_token_response(body, now=now)
        if not tokens.id_token:
            from .errors import ProviderError

            raise ProviderError("the token response has no id_token (was the openid scope granted?)")
        claims = await core.validate_id_token(tokens.id_token, nonce=tx.nonce)
        return core.new_session(id_token=tokens.id_token, claims=claims, tokens=tokens, now=now)

    async def backchannel_logout(self, scope: Scope, receive: Receive, send: Send) -> None:
        await backchannel_logout(self.core, scope, receive, send)

    # Sign-out --------------------------------------------------------------------------

    async def sign_out(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD", "POST"):
            return await self._method_not_allowed(send, b"GET, HEAD, POST")
        core, config = self.core, self.core.config
        cookies = request_cookies(scope)
        secure = core.jar.secure_for(scope, config.base_url)
        try:
            session = await core.backend.load(cookies) if core.backend.present(cookies) else None
            headers = await core.backend.delete(session, cookies, secure=secure)
        except LogtoError as exc:
            return await send_error(scope, send, exc)
        location = config.post_sign_out_redirect
        if session is not None:
            if session.refresh_token:
                await core.provider.revoke(session.refresh_token)
            try:
                metadata = await core.provider.metadata()
                location = (
                    flows.end_session_url(
                        metadata,
                        client_id=config.app_id,
                        id_token=session.id_token,
                        post_logout_redirect_uri=self._post_logout_uri(scope),
                    )
                    or location
                )
            except LogtoError as exc:
                # The local session is gone either way; say so in the log, not to the user.
                logger.warning("sign-out could not reach the provider: %s", exc.description)
            logger.info("signed out sub=%s", session.claims.get("sub"))
        await redirect(send, location, status=303 if scope["method"] == "POST" else 302, headers=headers)
