"""OpenID Connect Front-Channel Logout 1.0: the provider's logout page loads our URL.

When a user signs out at a provider that has no back-channel logout (LemonLDAP::NG 2.16),
its logout page renders an invisible iframe per client, at ``frontchannel_logout_path``,
with the provider's ``iss`` and its session's ``sid`` in the query (the client is
registered with ``frontchannel_logout_session_required``). The request is a GET that
anyone can make, so it ends nothing unless both match: ``iss`` the provider's issuer
exactly, and ``sid`` the session an ID token of this client carried (a value only the
provider and this client know). A request without them is refused: signing a browser
out because some page framed our URL would be logout CSRF.

What ends:

* server-side sessions (``MemoryStore``, ``RedisStore``, ``PostgresStore``) indexed under
  that ``sid`` at sign-in, whichever browser holds them;
* the cookie session of the browser loading the frame, when its cookie comes along —
  which, in a third-party iframe, needs ``cookie_samesite="none"`` (and https) unless the
  provider and the app are the same site, and a browser that still sends third-party
  cookies;
* with cookie sessions, the ``sid`` is also remembered as ended (in the coordination
  store), and every cookie session carrying it is refused at its next request — so the
  logout holds even where the iframe got no cookie.

The answer is a tiny HTML page (200, ``no-store``, no script) that the provider's page may
frame.

Each request is the span ``logto.frontchannel_logout`` (outcome ``ended``, ``refused`` or
``error``; ``logto.sessions_ended``); the sessions it ends count in ``logto.sign_outs``.
"""

from __future__ import annotations

import hmac
import logging

from starlette.types import Receive, Scope, Send

from . import telemetry
from ._http import query_params, request_cookies, send_response
from .backchannel import end_indexed_sessions, sid_index_key
from .core import LogtoCore
from .errors import InvalidRequest
from .hooks import signed_out

logger = logging.getLogger("logto_asgi")

Headers = list[tuple[bytes, bytes]]

MAX_PARAM_LENGTH = 512
_PAGE = b"<!doctype html><html lang=en><meta charset=utf-8><title>Signed out</title></html>"
#: Framed by the provider's logout page: no X-Frame-Options, no frame-ancestors 'none'.
_HEADERS = [(b"content-security-policy", b"default-src 'none'")]


def _param(query: dict[str, str], name: str) -> str:
    value = query.get(name)
    if not value or len(value) > MAX_PARAM_LENGTH:
        raise InvalidRequest(
            f"front-channel logout needs the provider's iss and sid (missing or invalid {name!r}): "
            "register the logout URI with frontchannel_logout_session_required"
        )
    return value


def _same(value: object, sid: str) -> bool:
    return isinstance(value, str) and hmac.compare_digest(
        value.encode("utf-8", "surrogatepass"), sid.encode("utf-8", "surrogatepass")
    )


async def frontchannel_logout(core: LogtoCore, scope: Scope, receive: Receive, send: Send) -> None:
    """End the sessions of the provider session ``sid`` (see the module)."""
    if scope["method"] not in ("GET", "HEAD"):
        await send_response(send, 405, headers=[(b"allow", b"GET, HEAD")])
        return
    with telemetry.span("logto.frontchannel_logout") as span:
        try:
            headers, ended = await _end_sessions(core, scope)
        except InvalidRequest as exc:
            span.outcome("refused", exc)
            raise
        span.outcome("ended")
        span.set("logto.sessions_ended", ended)
        if ended:
            telemetry.count("logto.sign_outs", ended, reason="frontchannel")
    await send_response(
        send, 200, _PAGE, content_type=b"text/html; charset=utf-8", headers=[*_HEADERS, *headers]
    )


async def _end_sessions(core: LogtoCore, scope: Scope) -> tuple[Headers, int]:
    """End what the request names; the headers that clear the browser's own session, and
    how many sessions ended (as far as is known: cookie sessions ended by ``sid`` count
    only for the browser whose cookie came along)."""
    query = query_params(scope)
    iss, sid = _param(query, "iss"), _param(query, "sid")
    metadata = await core.provider.metadata()
    if not hmac.compare_digest(iss.encode("utf-8", "surrogatepass"), metadata.issuer.encode()):
        raise InvalidRequest("the front-channel logout request names another issuer")
    # The browser's own session first: ending the indexed ones deletes its store entry.
    cookies = request_cookies(scope)
    session = await core.backend.load(cookies) if core.backend.present(cookies) else None
    backend = core.server_sessions
    ended: list[str] = []
    fields = telemetry.log_fields("frontchannel_logout", "ended")
    if backend is not None:
        ended = await end_indexed_sessions(core, backend, sid_index_key(sid), reason="frontchannel")
        logger.info("front-channel logout ended %d server-side session(s)", len(ended), **fields)
    elif await core.tokens.mark_sid_ended(sid):
        logger.info("front-channel logout: the cookie sessions of that provider session end", **fields)
    headers: Headers = []
    own = False
    if session is not None and _same(session.claims.get("sid"), sid):
        await core.tokens.mark_ended(session.id)
        secure = core.jar.secure_for(scope, core.config.base_url)
        headers = await core.backend.delete(session, cookies, secure=secure)
        await signed_out(core.config.on_sign_out, session, "frontchannel")
        own = session.id not in ended
    return headers, len(ended) + own
