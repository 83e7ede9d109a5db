"""Distinct sessions of realistic size: what a site with many users sends one worker.

Each worker meets each cookie value once per change of the session, and its caches are
bounded, so most requests of a busy site are *first sights*. The cookies here are copies
of the real signed-in session (ours, and the baseline's), each with its own user id and
fresh token strings of the same length: same size, same shape, nothing shared.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import itsdangerous

from bench.signin import Baseline, SignedIn, cookie_header
from logto_asgi.sessions._backends import CookieBackend

#: More than any per-process cache holds (the largest is 4,096 entries).
DISTINCT = 6000


def _like(value: str) -> str:
    """A random string of the same length (a token stands in for a token)."""
    return secrets.token_urlsafe(len(value))[: len(value)]


async def logto_cookies(signed: SignedIn, count: int = DISTINCT) -> list[tuple[bytes, str]]:
    """``count`` distinct cookie headers of ``signed``'s size, each a session of its own,
    with the ``sub`` each carries."""
    backend = signed.middleware.core.backend
    if not isinstance(backend, CookieBackend):
        raise RuntimeError("distinct cookies are cookie sessions")
    session = await backend.load(signed.cookies)
    if session is None:
        raise RuntimeError("the signed-in session did not load")
    headers: list[tuple[bytes, str]] = []
    for i in range(count):
        claims = {**session.claims, "sub": f"{session.claims['sub'][:-6]}{i:06d}"}
        tokens = {
            key: token._replace(token=_like(token.token)) for key, token in session.access_tokens.items()
        }
        fresh = session.replace(
            id=_like(session.id),
            id_token=_like(session.id_token),
            refresh_token=_like(session.refresh_token) if session.refresh_token else None,
            claims=claims,
            access_tokens=tokens,
        )
        headers.append((cookie_header(backend.cookies(fresh)), claims["sub"]))
    return headers


def baseline_cookies(baseline: Baseline, count: int = DISTINCT) -> list[tuple[bytes, str]]:
    """``count`` distinct cookie headers of the baseline's, signed as Starlette's
    ``SessionMiddleware`` signs them (itsdangerous ``TimestampSigner``, base64 JSON)."""
    signer = itsdangerous.TimestampSigner(baseline.secret_key)
    data: dict[str, Any] = json.loads(base64.b64decode(signer.unsign(baseline.cookies["session"])))
    headers: list[tuple[bytes, str]] = []
    for i in range(count):
        user = {**data["user"], "sub": f"{data['user']['sub'][:-6]}{i:06d}"}
        token = {k: _like(v) if isinstance(v, str) and len(v) > 20 else v for k, v in data["token"].items()}
        value = signer.sign(base64.b64encode(json.dumps({"user": user, "token": token}).encode()))
        headers.append((b"session=" + value, user["sub"]))
    return headers
