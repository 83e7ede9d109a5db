"""OpenID Connect Back-Channel Logout 1.0: the provider ends sessions server to server.

The callback indexes each server-side session under the provider's ``sid`` and the
user's ``sub``; a valid logout token ends the sessions of its ``sid`` (or, with only a
``sub``, every session of that user). Replayed tokens are refused: each ``jti`` is
remembered for as long as the token would be accepted (``exp``, or ``iat`` plus
``MAX_LOGOUT_TOKEN_AGE`` if sooner, plus the clock skew).

Each request is the span ``logto.backchannel_logout`` (outcome ``ended``, ``refused`` or
``error``; ``logto.sessions_ended``) and counts in ``logto.backchannel_logouts``; the
sessions it ends count in ``logto.sign_outs``.
"""

from __future__ import annotations

import json
import logging
from typing import Literal
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send

from . import telemetry
from ._crypto import fingerprint
from ._http import header, send_response
from .core import LogtoCore
from .errors import LogtoError, TokenValidationError
from .hooks import signed_out
from .sessions._backends import StoreBackend
from .sessions.base import Session
from .tokens import check_logout_token, read_header, verify_signature

logger = logging.getLogger("logto_asgi")

MAX_BODY = 64 * 1024


def sid_index_key(sid: str) -> str:
    """Where the ids of the server-side sessions of one provider session are kept."""
    return f"bcl-sid:{fingerprint(sid)}"


def _sub_key(sub: str) -> str:
    return f"bcl-sub:{fingerprint(sub)}"


async def index_session(core: LogtoCore, session: Session) -> None:
    """Remember which provider session and user a new server-side session belongs to
    (and, for front-channel logout of cookie sessions, which provider sessions exist)."""
    backend = core.server_sessions
    config = core.config
    sid, sub = session.claims.get("sid"), session.claims.get("sub")
    if backend is None:
        if config.frontchannel_logout_path is not None and isinstance(sid, str) and sid:
            await core.tokens.remember_sid(sid)
        return
    if config.backchannel_logout_path is None and config.frontchannel_logout_path is None:
        return
    ttl = core.config.session_max_age
    if isinstance(sid, str) and sid:
        await backend.ops.set_add(sid_index_key(sid), session.id, ttl)
    if isinstance(sub, str) and sub:
        await backend.ops.set_add(_sub_key(sub), session.id, ttl)


async def _read_form(receive: Receive) -> dict[str, str] | None:
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if len(body) > MAX_BODY:
            return None
        if not message.get("more_body", False):
            break
    try:
        return dict(parse_qsl(body.decode("ascii"), keep_blank_values=True, max_num_fields=16))
    except (UnicodeDecodeError, ValueError):
        return None


async def _answer(send: Send, status: int, error: str | None = None, description: str = "") -> None:
    body = json.dumps({"error": error, "error_description": description}).encode() if error else b""
    await send_response(send, status, body, content_type=b"application/json" if error else None)


async def _end_sessions(core: LogtoCore, backend: StoreBackend, token: str) -> list[str]:
    """Validate the logout token and end its sessions; their ids.

    Retry-safe: the token's ``jti`` is recorded only once its sessions are ended, so a
    store error midway answers 503 and the provider's retry finishes the job (the ids not
    yet ended go back into the index)."""
    metadata = await core.provider.metadata()
    claims = await verify_signature(token, core.provider)
    now = core.clock()
    leeway = core.config.clock_skew
    accepted_until = check_logout_token(
        claims,
        header=read_header(token),
        issuer=metadata.issuer,
        client_id=core.config.app_id,
        now=now,
        leeway=leeway,
    )
    # One second past the last accepted moment: the time checks include their bounds, and
    # stores round a TTL down to the millisecond.
    remember = accepted_until - now + 1
    jti_key = f"bcl-jti:{fingerprint(str(claims['iss']) + '|' + str(claims['jti']))}"
    if await backend.ops.get(jti_key) is not None:
        raise TokenValidationError("this logout token was already used", check="jti")
    sid, sub = claims.get("sid"), claims.get("sub")
    key = sid_index_key(sid) if isinstance(sid, str) and sid else _sub_key(str(sub))
    ended = await end_indexed_sessions(core, backend, key, reason="backchannel")
    await backend.ops.add(jti_key, b"1", remember)
    return ended


async def end_indexed_sessions(
    core: LogtoCore, backend: StoreBackend, key: str, *, reason: Literal["backchannel", "frontchannel"]
) -> list[str]:
    """End every server-side session listed under the index ``key``; their ids. On a store
    error the ids not yet ended go back into the index (a retry finishes the job). With an
    ``on_sign_out`` hook, each session is read first so the hook sees whose it was."""
    hook = core.config.on_sign_out
    ended = await backend.ops.set_pop_all(key)
    for done, session_id in enumerate(ended):
        try:
            session = await backend.load_by_id(session_id) if hook is not None else None
            await core.tokens.mark_ended(session_id)
            await backend.delete_by_id(session_id)
        except LogtoError:
            for left in ended[done:]:
                await backend.ops.set_add(key, left, core.config.session_max_age)
            raise
        if session is not None:
            await signed_out(hook, session, reason)
    return ended


def _logout_done(
    span: telemetry.SpanHandle, outcome: str, error: LogtoError | None = None, ended: int = 0
) -> None:
    span.outcome(outcome, error)
    span.set("logto.sessions_ended", ended)
    telemetry.count("logto.backchannel_logouts", outcome=outcome)
    if ended:
        telemetry.count("logto.sign_outs", ended, reason="backchannel")


async def backchannel_logout(core: LogtoCore, scope: Scope, receive: Receive, send: Send) -> None:
    """The back-channel logout endpoint: 200 when sessions were ended, 400 for a bad token."""
    if scope["method"] != "POST":
        await send_response(send, 405, headers=[(b"allow", b"POST")])
        return
    with telemetry.span("logto.backchannel_logout") as span:
        await _backchannel_logout(core, scope, receive, send, span)


async def _backchannel_logout(
    core: LogtoCore, scope: Scope, receive: Receive, send: Send, span: telemetry.SpanHandle
) -> None:
    content_type = (header(scope, b"content-type") or "").split(";")[0].strip().lower()
    form = await _read_form(receive) if content_type == "application/x-www-form-urlencoded" else None
    token = form.get("logout_token") if form else None
    if not token:
        _logout_done(span, "refused")
        await _answer(send, 400, "invalid_request", "a form field logout_token is required")
        return
    backend = core.server_sessions
    assert backend is not None  # configuration refuses back-channel logout without a store
    try:
        ended = await _end_sessions(core, backend, token)
    except TokenValidationError as exc:
        fields = telemetry.log_fields("backchannel_logout", "refused", exc.error)
        logger.warning("back-channel logout refused: %s check failed", exc.check, **fields)
        _logout_done(span, "refused", exc)
        await _answer(send, 400, "invalid_request", "the logout token is not valid")
        return
    except LogtoError as exc:
        fields = telemetry.log_fields("backchannel_logout", "error", exc.error)
        logger.warning("back-channel logout failed: %s", exc.error, **fields)
        _logout_done(span, "error", exc)
        await _answer(send, exc.status_code, exc.error, exc.description)
        return
    fields = telemetry.log_fields("backchannel_logout", "ended")
    logger.info("back-channel logout ended %d session(s)", len(ended), **fields)
    _logout_done(span, "ended", ended=len(ended))
    await _answer(send, 200)
