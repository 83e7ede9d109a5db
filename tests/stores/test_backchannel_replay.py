"""Back-channel logout over the ASGI surface, on a fake clock: logout tokens must carry
``exp``, be recent and be typed as logout tokens (when typed at all), and a token is
remembered for exactly as long as it would be accepted — replayed within that window it is
refused, however long the window is.

The app's clock and its ``MemoryStore``'s share one fake clock, so ten minutes pass without
sleeping. Tokens are signed with a key of our own served through httpx's MockTransport;
the real provider's tokens are in ``test_backchannel_provider.py``.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from joserfc import jws
from starlette.applications import Starlette

from logto_asgi import LogtoConfig, LogtoMiddleware, MemoryStore
from logto_asgi.backchannel import index_session
from logto_asgi.sessions.base import Session
from logto_asgi.tokens import BACKCHANNEL_EVENT, MAX_LOGOUT_TOKEN_AGE, read_header
from support.tokens import CLIENT_ID, ISSUER, Signer, mock_provider, with_overrides

pytestmark = pytest.mark.anyio

PATH = "/backchannel-logout"
SIGNER = Signer("EC", kid="provider-key")
START = 1_700_000_000.0
NO_TYP = object()


class Clock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def sign(claims: dict[str, Any], typ: Any = "logout+jwt") -> str:
    """``claims`` signed by the provider's key, with this typ header (or none)."""
    head: dict[str, Any] = {"alg": SIGNER.alg, "kid": SIGNER.kid}
    if typ is not NO_TYP:
        head["typ"] = typ
    # jws, not jwt.encode: that one adds typ: JWT to a header without typ.
    return jws.serialize_compact(head, json.dumps(claims).encode(), SIGNER.key, algorithms=[SIGNER.alg])


@dataclass
class Rig:
    clock: Clock
    app: LogtoMiddleware
    client: httpx.AsyncClient
    cookie: str  # the cookie of user-1's session sid-a
    skew: float

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """A valid logout token's claims at the clock's time (oidc-provider's: exp = iat + 120)."""
        now = int(self.clock.now)
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 120,
            "jti": uuid.uuid4().hex,
            "events": {BACKCHANNEL_EVENT: {}},
            "sub": "user-1",
            "sid": "sid-a",
        }
        return with_overrides(claims, overrides)

    async def post(self, token: str) -> httpx.Response:
        return await self.client.post(PATH, data={"logout_token": token})

    async def alive(self) -> bool:
        """Whether user-1's session sid-a still loads."""
        return await self.app.core.backend.load({"logto": self.cookie}) is not None


async def make_rig(skew: float) -> AsyncIterator[Rig]:
    clock = Clock()
    async with httpx.AsyncClient(transport=mock_provider([SIGNER.jwk()])) as provider_http:
        config = LogtoConfig(
            endpoint="https://id.example.com",
            app_id=CLIENT_ID,
            cookie_secret="c" * 32,
            store=MemoryStore(clock=clock),
            backchannel_logout_path=PATH,
            http_client=provider_http,
            clock_skew=skew,
        )
        app = LogtoMiddleware(Starlette(), config=config, clock=clock)
        now = int(clock.now)
        session = Session("unused", {"sub": "user-1", "sid": "sid-a"}, None, "openid", now, now, now + 86400)
        await index_session(app.core, session)
        [(_, cookie)] = await app.core.backend.save(session, {}, now=clock.now, secure=False)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as client:
            yield Rig(clock, app, client, cookie.decode().split(";")[0].split("=", 1)[1], skew)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    """The default clock skew (60 s), one session (sid-a of user-1)."""
    async for made in make_rig(60):
        yield made


@pytest.fixture
async def wide_rig() -> AsyncIterator[Rig]:
    """The widest clock skew allowed (600 s): a logout token stays acceptable 15 minutes."""
    async for made in make_rig(600):
        yield made


def refused_for(caplog: pytest.LogCaptureFixture, response: httpx.Response, check: str) -> None:
    """400 with the fixed body, and the log names the failed check."""
    assert response.status_code == 400, response.text
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "the logout token is not valid",
    }
    assert f"back-channel logout refused: {check} check failed" in caplog.text


CASES: dict[str, tuple[dict[str, Any], Any, str]] = {
    # name: (claim overrides, relative to the clock; typ header; the check that fails)
    "no exp": ({"exp": None}, "logout+jwt", "exp"),
    "expired beyond the skew": ({"iat": -300, "exp": -61}, "logout+jwt", "exp"),
    "iat older than the bound": ({"iat": -MAX_LOGOUT_TOKEN_AGE - 61, "exp": 3600}, "logout+jwt", "iat"),
    "iat a day old, exp a day ahead": ({"iat": -86400, "exp": 86400}, "logout+jwt", "iat"),
    "typed as an access token": ({}, "at+jwt", "typ"),
    "typed as application/at+jwt": ({}, "application/at+jwt", "typ"),
    "typed as a security event token": ({}, "secevent+jwt", "typ"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_bad_time_or_type_is_refused_and_ends_nothing(
    rig: Rig, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    """Each refused token gets 400 for its own check, and the session survives."""
    overrides, typ, check = CASES[case]
    now = int(rig.clock.now)
    shifted = {k: (None if v is None else now + v) for k, v in overrides.items()}
    with caplog.at_level(logging.WARNING, logger="logto_asgi"):
        response = await rig.post(sign(rig.claims(**shifted), typ))
    refused_for(caplog, response, check)
    assert await rig.alive()


@pytest.mark.parametrize(
    ("overrides", "typ"),
    [
        pytest.param({}, "logout+jwt", id="logout+jwt"),
        pytest.param({}, "application/logout+jwt", id="application/logout+jwt"),
        pytest.param({}, "Logout+JWT", id="other-case"),
        pytest.param({}, "JWT", id="JWT (Keycloak before 25, Authentik before 2025.12)"),
        pytest.param({}, NO_TYP, id="no typ"),
        pytest.param({"iat": -MAX_LOGOUT_TOKEN_AGE - 60, "exp": 3600}, "logout+jwt", id="iat-at-the-bound"),
        pytest.param({"iat": -300, "exp": -60}, "logout+jwt", id="exp-at-the-edge-of-the-skew"),
    ],
)
async def test_accepted_types_and_edges_end_the_session(
    rig: Rig, overrides: dict[str, int], typ: Any
) -> None:
    """Logout tokens typed as such, generically or not at all, and at the time edges: 200."""
    now = int(rig.clock.now)
    response = await rig.post(sign(rig.claims(**{k: now + v for k, v in overrides.items()}), typ))
    assert response.status_code == 200, response.text
    assert not await rig.alive()


async def test_a_replay_after_ten_minutes_within_the_window_is_refused(
    wide_rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """exp = iat + 300 and a 600 s skew: the token is acceptable for 15 minutes, so its jti
    is remembered that long — replayed after 10 minutes, and at the window's last second,
    it is refused as a replay; a second later it is refused as expired."""
    token = sign(wide_rig.claims(sid="sid-gone", exp=int(wide_rig.clock.now) + 300))
    assert (await wide_rig.post(token)).status_code == 200
    with caplog.at_level(logging.WARNING, logger="logto_asgi"):
        wide_rig.clock.now += 600
        refused_for(caplog, await wide_rig.post(token), "jti")
        caplog.clear()
        wide_rig.clock.now = START + 300 + 600  # exp + skew: still acceptable by time
        refused_for(caplog, await wide_rig.post(token), "jti")
        caplog.clear()
        wide_rig.clock.now += 1
        refused_for(caplog, await wide_rig.post(token), "exp")


@pytest.mark.parametrize(
    ("exp", "window_end", "then"),
    [
        pytest.param(120, 120 + 60, "exp", id="exp-sooner: until exp + skew"),
        pytest.param(86400, MAX_LOGOUT_TOKEN_AGE + 60, "iat", id="exp-far: until iat + age bound + skew"),
        pytest.param(None, None, "exp", id="no-exp: never accepted"),
    ],
)
async def test_the_jti_is_remembered_until_the_last_accepted_second(
    rig: Rig, caplog: pytest.LogCaptureFixture, exp: int | None, window_end: int | None, then: str
) -> None:
    """A replay at the window's last second is refused as jti; one second later the token's
    time checks refuse it. No token outlives its memory, even with a far exp."""
    claims = rig.claims(sid="sid-gone", exp=None if exp is None else int(rig.clock.now) + exp)
    token = sign(claims)
    first = await rig.post(token)
    with caplog.at_level(logging.WARNING, logger="logto_asgi"):
        if window_end is None:
            refused_for(caplog, first, then)
            return
        assert first.status_code == 200
        rig.clock.now = START + window_end
        refused_for(caplog, await rig.post(token), "jti")
        caplog.clear()
        rig.clock.now += 1
        refused_for(caplog, await rig.post(token), then)


def test_the_untyped_token_has_no_typ_header() -> None:
    """The "no typ" vectors above really send none (joserfc's jwt.encode would add JWT)."""
    assert "typ" not in read_header(sign({"sub": "x"}, NO_TYP))
