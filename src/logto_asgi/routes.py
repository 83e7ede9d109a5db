"""The action side: sign-in, callback and sign-out routes, as raw ASGI handlers.

Each route is a span (``logto.sign_in``, ``logto.callback``, ``logto.sign_out``) with its
outcome; callbacks count in ``logto.sign_ins`` (and ``logto.callback.errors``), ended
sessions in ``logto.sign_outs``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import anyio
from starlette.types import Receive, Scope, Send

from . import _json as strict_json
from . import callback_checks, flows, telemetry
from ._crypto import InvalidToken, fingerprint
from ._http import origin, query_params, redirect, request_cookies, send_response
from .backchannel import backchannel_logout, index_session
from .boundary import ErrorRenderer, render_error
from .core import LogtoCore
from .error_hook import ErrorResponder
from .errors import LogtoError, TransactionError
from .frontchannel import frontchannel_logout
from .hooks import SignInEvent, SignInRefused, checked_sign_in, run_hook, signed_out
from .messages import SIGN_IN_CANCELLED, with_notice
from .models import IdTokenClaims
from .redirects import safe_return_to
from .sessions.base import Session
from .sign_in_options import sign_in_extras
from .sign_out_guard import PAGE_HEADERS, SignOutGuard, read_form, same_origin_request
from .silent_sign_in import marker_name
from .transaction import TRANSACTION_TTL, Taken, Transaction, TransactionCookies

logger = logging.getLogger("logto_asgi")

Headers = list[tuple[bytes, bytes]]


MAX_CODE_LENGTH = 2048
#: The outcome of a callback, kept for its duplicates (an encrypted session).
CALLBACK_OUTCOME_TTL = 60.0
CALLBACK_POLL = 0.05
_PENDING, _FAILED, _DONE = b"pending", b"failed", b"done:"


@dataclass(frozen=True, slots=True)
class GoBack:
    """Where the user goes after a sign-in that did not complete but is no error."""

    location: str
    #: ``cancelled`` or ``back_to_app`` (a silent sign-in the provider could not complete).
    outcome: str = "back_to_app"
    #: The provider's error code that sent the user back.
    provider_error: str = ""


def _callback_done(span: telemetry.SpanHandle, outcome: str, error: LogtoError | None = None) -> None:
    span.outcome(outcome, error)
    telemetry.count("logto.sign_ins", outcome=outcome)
    if error is not None:
        telemetry.count("logto.callback.errors", error_code=error.error)


def _authorization_code(query: Mapping[str, str]) -> str:
    code = query.get("code")
    if not code or len(code) > MAX_CODE_LENGTH:
        raise TransactionError("the callback has no authorization code")
    return code


class AuthRoutes:
    """Serves the auth paths of one ``LogtoCore``."""

    def __init__(self, core: LogtoCore, *, renderer: ErrorRenderer = render_error) -> None:
        self.core = core
        self._errors = ErrorResponder(core.config.on_error, renderer)
        config = core.config
        self._transactions = TransactionCookies(
            config.cookie_name,
            core.transactions,
            core.jar,
            samesite=config.cookie_samesite,
            max_pending=config.max_pending_sign_ins,
        )
        self.paths = {
            config.sign_in_path: self.sign_in,
            config.callback_path: self.callback,
            config.sign_out_path: self.sign_out,
        }
        if config.backchannel_logout_path is not None:
            self.paths[config.backchannel_logout_path] = self.backchannel_logout
        if config.frontchannel_logout_path is not None:
            self.paths[config.frontchannel_logout_path] = self.frontchannel_logout
        self._sign_out_guard = SignOutGuard(config.cookie_secrets, config.messages)

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
        with telemetry.span("logto.sign_in") as span:
            await self._sign_in(scope, receive, send, span)

    async def _sign_in(self, scope: Scope, receive: Receive, send: Send, span: telemetry.SpanHandle) -> None:
        core, config = self.core, self.core.config
        query = query_params(scope)
        return_to = safe_return_to(query.get("return_to")) or config.post_sign_in_redirect
        extras = sign_in_extras(query)
        span.set("logto.silent", extras.get("prompt") == "none")
        try:
            metadata = await core.provider.metadata()
        except LogtoError as exc:
            # During an outage the backoff has logged the failure once already.
            level = logging.INFO if exc.retry_after is not None else logging.WARNING
            fields = telemetry.log_fields("sign_in", "error", exc.error)
            logger.log(level, "sign-in failed: %s", exc.description, **fields)
            span.outcome("error", exc)
            return await self._errors.respond(scope, receive, send, exc)
        now = int(core.clock())
        tx = Transaction(
            state=flows.new_secret(),
            nonce=flows.new_secret(),
            verifier=flows.new_verifier(),
            return_to=return_to,
            redirect_uri=self._redirect_uri(scope),
            created_at=now,
            max_age=int(extras["max_age"]) if "max_age" in extras else None,
            silent=extras.get("prompt") == "none",
        )
        url = flows.authorization_url(
            metadata,
            config,
            redirect_uri=tx.redirect_uri,
            state=tx.state,
            nonce=tx.nonce,
            verifier=tx.verifier,
            extras=extras,
        )
        secure = core.jar.secure_for(scope, config.base_url)
        headers = self._transactions.begin(tx, request_cookies(scope), secure=secure)
        if tx.silent:
            # Once per browser session: a browser with this marker is not sent again.
            headers.append(core.jar.set_for_browser_session(marker_name(config), "1", secure=secure))
        span.outcome("redirect")
        await redirect(send, url, headers=headers)

    # Callback --------------------------------------------------------------------------

    async def callback(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            return await self._method_not_allowed(send, b"GET, HEAD")
        with telemetry.span("logto.callback") as span:
            await self._callback(scope, receive, send, span)

    async def _callback(self, scope: Scope, receive: Receive, send: Send, span: telemetry.SpanHandle) -> None:
        core, config = self.core, self.core.config
        query = query_params(scope)
        cookies = request_cookies(scope)
        secure = core.jar.secure_for(scope, config.base_url)
        taken = self._transactions.take(cookies, query.get("state"), now=core.clock(), secure=secure)
        try:
            tx = await self._callback_transaction(query, cookies, taken)
            if tx is None:
                # Back button after a successful sign-in: nothing to do but go on.
                _callback_done(span, "back_to_app")
                return await redirect(send, config.post_sign_in_redirect, status=303, headers=taken.clear)
            if isinstance(tx, GoBack):
                # Cancelled at the provider, or a silent sign-in without a session there.
                span.set("logto.provider_error", telemetry.provider_error(tx.provider_error))
                _callback_done(span, tx.outcome)
                return await redirect(send, tx.location, status=303, headers=taken.clear)
            session, return_to = await self._sign_in_once(tx, _authorization_code(query), cookies)
            headers = await core.backend.save(session, cookies, now=core.clock(), secure=secure)
        except LogtoError as exc:
            outcome = "refused" if isinstance(exc, SignInRefused) else "error"
            fields = telemetry.log_fields("callback", outcome, exc.error)
            logger.warning("sign-in callback failed: %s: %s", exc.error, exc.description, **fields)
            _callback_done(span, outcome, exc)
            retry = (config.sign_in_path, "Sign in again")
            return await self._errors.respond(scope, receive, send, exc, headers=taken.clear, link=retry)
        span.set("logto.session", fingerprint(session.id))
        _callback_done(span, "signed_in")
        fields = telemetry.log_fields("callback", "signed_in", session_id=session.id)
        logger.info("signed in: session %s", fields["extra"]["logto_session"], **fields)
        await redirect(send, return_to, headers=[*taken.clear, *headers])

    async def _callback_transaction(
        self, query: Mapping[str, str], cookies: Mapping[str, str], taken: Taken
    ) -> Transaction | GoBack | None:
        """The callback's transaction; ``None`` for a stale callback of a browser that is
        signed in already; ``GoBack`` when a refusal of this browser's own attempt sends
        the user back to the app; a ``LogtoError`` for everything else."""
        # The issuer first (RFC 9207 2.4): an error response is checked too.
        callback_checks.check_issuer(query, await self.core.provider.metadata())
        refusal = callback_checks.provider_refusal(query)
        if refusal is not None:
            # Only with this browser's valid transaction: a forged error link does nothing
            # but show the error page.
            tx = taken.transaction
            if tx is not None and callback_checks.back_to_app(refusal, silent=tx.silent):
                # A silent attempt stays unnoticed; a cancelled one says so (a key, not words).
                cancelled = refusal.provider_error == "access_denied" and not tx.silent
                outcome = "cancelled" if cancelled else "back_to_app"
                fields = telemetry.log_fields("callback", outcome)
                logger.info("sign-in not completed (%s): back to the app", refusal.provider_error, **fields)
                location = with_notice(tx.return_to, SIGN_IN_CANCELLED) if cancelled else tx.return_to
                return GoBack(location, outcome, refusal.provider_error)
            raise refusal
        if not taken.found:
            backend = self.core.backend
            if backend.present(cookies) and await backend.load(cookies) is not None:
                return None
            raise TransactionError(
                "this sign-in link is not for a sign-in started here, was already used, or "
                "expired: start again"
            )
        if taken.transaction is None:
            raise TransactionError("the sign-in attempt expired or was tampered with: start again")
        return taken.transaction

    async def _drop_previous(self, cookies: Mapping[str, str]) -> None:
        """A sign-in replaces the browser's previous server-side session: delete its entry,
        so a copy of the old cookie is worth nothing (the new session has a new id)."""
        backend = self.core.server_sessions
        if backend is not None and backend.present(cookies):
            previous = await backend.load(cookies)
            if previous is not None:
                await backend.delete_by_id(previous.id)

    async def _sign_in_once(
        self, tx: Transaction, code: str, cookies: Mapping[str, str]
    ) -> tuple[Session, str]:
        """The session of this sign-in and where the browser goes next, with exactly one
        code exchange (and one ``on_sign_in``) however many duplicates of the callback
        arrive (a double click, a retried navigation), on any process sharing the
        coordination: the first claims the state, the others wait for its outcome and get
        the same session (or a clear "already used" error)."""
        shared, claim = self.core.shared, f"callback:{fingerprint(tx.state)}"
        if not await shared.add(claim, _PENDING, TRANSACTION_TTL):
            return await self._outcome_of(claim)
        try:
            session = await self.core.tokens.exchange_code(
                code=code,
                redirect_uri=tx.redirect_uri,
                verifier=tx.verifier,
                nonce=tx.nonce,
                max_age=tx.max_age,
            )
            session, return_to = await self._on_sign_in(session, tx)
            await self._drop_previous(cookies)
            await index_session(self.core, session)
        except LogtoError:
            await shared.set(claim, _FAILED, TRANSACTION_TTL)
            raise
        outcome = json.dumps([return_to, session.to_json().decode("utf-8")]).encode()
        sealed = self.core.records.encrypt(outcome).encode("ascii")
        await shared.set(claim, _DONE + sealed, CALLBACK_OUTCOME_TTL)
        return session, return_to

    async def _on_sign_in(self, session: Session, tx: Transaction) -> tuple[Session, str]:
        """The app's ``on_sign_in`` hook: the session with its data, and where to go; a
        refusal or a failure revokes the new refresh token and leaves no session."""
        hook = self.core.config.on_sign_in
        if hook is None:
            return session, tx.return_to
        event = SignInEvent(IdTokenClaims(session.claims), session.scopes, tx.return_to)
        try:
            await run_hook("on_sign_in", hook, event)
            return_to, data = checked_sign_in(event, self.core.config.post_sign_in_redirect)
        except LogtoError:
            if session.refresh_token:
                await self.core.tokens.revoke(session.refresh_token)
            raise
        return (session.replace(app_data=data) if data else session), return_to

    async def _outcome_of(self, claim: str) -> tuple[Session, str]:
        """Wait (bounded) for the first request of a callback to finish; its outcome."""
        shared = self.core.shared
        with anyio.move_on_after(self.core.config.http_timeout + 5):
            while (value := await shared.get(claim) or b"") == _PENDING:  # noqa: ASYNC110 - another process writes it
                await anyio.sleep(CALLBACK_POLL)
            if value.startswith(_DONE):
                try:
                    return_to, raw = strict_json.loads(
                        self.core.records.decrypt(value[len(_DONE) :].decode("ascii"))
                    )
                    return Session.from_json(raw.encode("utf-8")), str(return_to)
                except (InvalidToken, ValueError, TypeError, UnicodeDecodeError, AttributeError):
                    pass
        raise TransactionError("this sign-in link was already used: start again")

    async def backchannel_logout(self, scope: Scope, receive: Receive, send: Send) -> None:
        await backchannel_logout(self.core, scope, receive, send)

    async def frontchannel_logout(self, scope: Scope, receive: Receive, send: Send) -> None:
        await frontchannel_logout(self.core, scope, receive, send)

    # Sign-out --------------------------------------------------------------------------

    async def sign_out(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD", "POST"):
            return await self._method_not_allowed(send, b"GET, HEAD, POST")
        with telemetry.span("logto.sign_out") as span:
            await self._sign_out(scope, receive, send, span)

    async def _sign_out(self, scope: Scope, receive: Receive, send: Send, span: telemetry.SpanHandle) -> None:
        core, config = self.core, self.core.config
        cookies = request_cookies(scope)
        secure = core.jar.secure_for(scope, config.base_url)
        try:
            session = await core.backend.load(cookies) if core.backend.present(cookies) else None
            if session is not None:
                span.set("logto.session", fingerprint(session.id))
            if session is not None and not await self._sign_out_allowed(scope, receive, session):
                span.outcome("confirm")
                return await self._confirm_sign_out(scope, send, session)
            if session is not None:
                # First the marker: a refresh still in flight (here or on another process)
                # then drops its result and revokes its new token instead of writing it back.
                await core.tokens.mark_ended(session.id)
            headers = await core.backend.delete(session, cookies, secure=secure)
        except LogtoError as exc:
            span.outcome("error", exc)
            return await self._errors.respond(scope, receive, send, exc)
        location = config.post_sign_out_redirect
        if session is not None:
            telemetry.count("logto.sign_outs", reason="sign_out")
            await signed_out(config.on_sign_out, session, "sign_out")
            newest = await core.tokens.refresher.settled(session)
            if newest.refresh_token:
                await core.tokens.revoke(newest.refresh_token)
            location = await self._end_session_url(scope, session) or location
            fields = telemetry.log_fields("sign_out", "signed_out", session_id=session.id)
            logger.info("signed out: session %s", fields["extra"]["logto_session"], **fields)
        span.outcome("signed_out")
        await redirect(send, location, status=303 if scope["method"] == "POST" else 302, headers=headers)

    async def _sign_out_allowed(self, scope: Scope, receive: Receive, session: Session) -> bool:
        """A request from the app's own pages, or the confirmation form's POST."""
        if same_origin_request(scope, origin(scope, self.core.config.base_url)):
            return True
        if scope["method"] != "POST":
            return False
        return self._sign_out_guard.confirmed(session.id, await read_form(receive))

    async def _confirm_sign_out(self, scope: Scope, send: Send, session: Session) -> None:
        """Another site asked to sign the user out: ask the user (logout CSRF)."""
        config = self.core.config
        fields = telemetry.log_fields("sign_out", "confirm", session_id=session.id)
        logger.info("cross-site sign-out request: asking the user to confirm", **fields)
        page = self._sign_out_guard.page(
            session.id, action=config.sign_out_path, cancel=config.post_sign_in_redirect
        )
        status = 403 if scope["method"] == "POST" else 200
        await send_response(
            send, status, page, content_type=b"text/html; charset=utf-8", headers=PAGE_HEADERS
        )

    async def _end_session_url(self, scope: Scope, session: Session) -> str | None:
        """RP-initiated logout at the provider, or ``None`` when it has none or is down."""
        try:
            metadata = await self.core.provider.metadata()
        except LogtoError as exc:
            # The local session is gone either way; say so in the log, not to the user.
            fields = telemetry.log_fields("sign_out", "signed_out", exc.error, session.id)
            logger.warning("sign-out could not reach the provider: %s", exc.description, **fields)
            return None
        return flows.end_session_url(
            metadata,
            client_id=self.core.config.app_id,
            id_token=session.id_token,
            post_logout_redirect_uri=self._post_logout_uri(scope),
        )
