"""The provider's other answers: the discovery document, the token endpoint's reply, the
userinfo reply — each parsed as ``ProviderClient`` / ``TokenService`` parse it, and
followed as far as the request path takes it.

Input: ``<kind> <status>`` on the first line (``discovery``, ``token`` or ``userinfo``; the
status defaults to 200), the response body after it.

- discovery: ``ProviderMetadata.parse(json_object(...)).check_issuer(...)``, then the
  authorization and end-session URLs built on it;
- token: ``token_reply`` + ``parse_token_response``, then the session a code exchange makes
  of it, its cookies, and that session decoded again;
- userinfo: ``userinfo_reply``, ``UserInfo`` and its ``sub`` check;
- introspection: the RFC 7662 answer as ``Introspector`` reads it, then
  ``check_introspected`` and the claims a bearer request would carry.

Allowed outcomes: ``ProviderError`` (unusable answer), ``AuthorizationError`` (a refusal
with the provider's code) or ``TokenValidationError`` (an introspected token refused).
Anything else is a crash.
"""

from __future__ import annotations

import json
import random
from typing import cast

from logto_asgi import flows, protocol
from logto_asgi.core import LogtoCore
from logto_asgi.discovery import ProviderMetadata
from logto_asgi.errors import AuthorizationError, ProviderError, TokenValidationError
from logto_asgi.introspection import _answer as _introspection_answer
from logto_asgi.introspection import check_introspected
from logto_asgi.models import AccessTokenClaims, UserInfo
from logto_asgi.protocol import ProviderReply
from logto_asgi.sessions._backends import CookieBackend
from logto_asgi.sessions.base import Session
from logto_asgi.users import BearerUser

from . import _mutate
from ._fixtures import (
    DISCOVERY,
    ISSUER,
    NONCE,
    NOW,
    ORIGIN,
    STATE,
    SUB,
    id_claims,
    logto_middleware,
    token_response,
)
from ._harness import Target

KINDS = ("discovery", "token", "userinfo", "introspection")


def _seeds() -> list[bytes]:
    replies: list[tuple[str, int, object]] = [
        ("discovery", 200, DISCOVERY),
        ("discovery", 200, {**DISCOVERY, "issuer": "https://evil.example/oidc"}),
        (
            "discovery",
            200,
            {**DISCOVERY, "end_session_endpoint": None, "authorization_endpoint": "https://a/?x=1"},
        ),
        ("discovery", 200, {**DISCOVERY, "token_endpoint": "javascript:alert(1)"}),
        ("discovery", 500, {}),
        ("token", 200, token_response(NONCE)),
        ("token", 200, {"access_token": "a", "token_type": "DPoP", "expires_in": 0.5}),
        ("token", 200, {"access_token": "a", "expires_in": -1}),
        ("token", 400, {"error": "invalid_grant", "error_description": "expired"}),
        ("token", 401, {"error": 5}),
        ("token", 200, []),
        ("userinfo", 200, {"sub": SUB, "email": "a@b.example", "custom_data": {"x": 1}}),
        ("userinfo", 200, {"sub": 1}),
        ("userinfo", 401, {}),
        ("userinfo", 403, "forbidden"),
        ("introspection", 200, {"active": True, "client_id": "app", "scope": "a b", "exp": NOW + 60}),
        ("introspection", 200, {"active": True, "aud": ["https://api.example"], "iss": ISSUER, "nbf": NOW}),
        ("introspection", 200, {"active": False}),
        ("introspection", 400, {"error": "unsupported_token_type", "error_description": "x"}),
        ("introspection", 401, {}),
    ]
    seeds = [f"{kind} {status}\n{json.dumps(body)}".encode() for kind, status, body in replies]
    return [*seeds, b"token 200\n{", b"discovery 200\n\xff", b"userinfo\n"]


class _Replies:
    """The three parsers, each followed as far as the request path takes its result."""

    def __init__(self, core: LogtoCore) -> None:
        self.core = core
        self.backend = cast(CookieBackend, core.backend)
        self.claims = id_claims()

    def discovery(self, reply: ProviderReply) -> None:
        metadata = ProviderMetadata.parse(protocol.json_object("discovery", reply)).check_issuer((ISSUER,))
        flows.authorization_url(
            metadata,
            self.core.config,
            redirect_uri=f"{ORIGIN}/callback",
            state=STATE,
            nonce=NONCE,
            verifier="v" * 86,
            extras={},
        )
        flows.end_session_url(metadata, client_id="app", id_token="t", post_logout_redirect_uri=ORIGIN)

    def token(self, reply: ProviderReply) -> None:
        tokens = flows.parse_token_response(protocol.token_reply("code exchange", reply), now=NOW)
        session = self.core.tokens.new_session(
            id_token=tokens.id_token or "t", claims=self.claims, tokens=tokens, now=NOW
        )
        self.backend.cookies(session)
        Session.from_json(session.to_json())

    def introspection(self, reply: ProviderReply) -> None:
        answer = _introspection_answer(reply)
        claims = check_introspected(
            answer, issuer=ISSUER, audiences=("https://api.example",), client_ids=("app",), now=NOW, leeway=60
        )
        token = AccessTokenClaims(claims)
        BearerUser(token).display_name  # noqa: B018 - what a request reads of it
        sorted(token.scopes)

    def userinfo(self, reply: ProviderReply) -> None:
        data = protocol.userinfo_reply(reply)
        if isinstance(data, dict) and data.get("sub") == SUB:
            UserInfo(data).to_json()


def _mutator(data: bytes, max_size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    line, sep, body = data.partition(b"\n")
    if not sep or rng.random() < 0.1:
        return _mutate.raw(data, max_size)
    if rng.random() < 0.05:
        line = f"{rng.choice(KINDS)} {rng.choice([200, 400, 401, 403, 500])}".encode()
    return (line + sep + _mutate.plaintext(body, rng, max_size))[:max_size]


def build() -> Target:
    replies = _Replies(logto_middleware().core)
    parsers = {
        "discovery": replies.discovery,
        "token": replies.token,
        "userinfo": replies.userinfo,
        "introspection": replies.introspection,
    }

    def test_one_input(data: bytes) -> None:
        line, _, body = data.partition(b"\n")
        kind, _, status = line.decode("latin-1").partition(" ")
        parse = parsers.get(kind)
        if parse is None:
            return
        code = int(status) if status.isdecimal() and len(status) < 4 else 200
        try:
            parse(ProviderReply(code, "application/json", body))
        except (ProviderError, AuthorizationError, TokenValidationError):
            pass

    return Target("provider_reply", test_one_input, _seeds, _mutator, 16384)
