"""Refreshes, traced: a storm of one session's requests is one grant span and one grant
counted, every other caller a joined refresh span and a joined count."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from observability.otel import Telemetry, attrs, is_error
from support.app import APP_ORIGIN, SHOPPING, Harness
from support.provider import OidcTestProvider

pytestmark = pytest.mark.anyio

ACCESS_TTL = 300
STORM = 30


@pytest.fixture
async def short_tokens(provider: OidcTestProvider) -> AsyncIterator[None]:
    """Access tokens live ACCESS_TTL seconds at the provider (ID tokens keep an hour)."""
    await provider.set_ttl(AccessToken=ACCESS_TTL)
    yield
    await provider.reset_ttl()


def advance(harness: Harness, seconds: float) -> None:
    """Move the middleware's clock forward (tokens look expired) without sleeping."""
    harness.middleware.core.clock = lambda: time.time() + seconds


async def get_token(harness: Harness, **params: str) -> httpx.Response:
    return await harness.client.get(f"{APP_ORIGIN}/token", params={**params, "raw": "1"})


async def test_refresh_storm_is_one_grant_span_and_joined_callers(
    harness: Harness, otel: Telemetry, short_tokens: None
) -> None:
    """30 concurrent requests needing the same refresh: 30 logto.refresh spans, 29 of them
    joined; exactly one logto.refresh.grant (under the one caller that sent it) with one
    token-refresh provider request; grants +1 (ok), joined +29."""
    await harness.sign_in("alice")
    assert (await get_token(harness, resource=SHOPPING)).status_code == 200
    advance(harness, ACCESS_TTL + 1)
    otel.reset()

    responses = await asyncio.gather(*(get_token(harness, resource=SHOPPING) for _ in range(STORM)))
    assert [r.status_code for r in responses] == [200] * STORM
    spans = otel.spans()

    grant = spans.one("logto.refresh.grant")
    assert attrs(grant)["logto.outcome"] == "ok" and not is_error(grant)
    refreshes = spans.named("logto.refresh")
    assert len(refreshes) == STORM, spans.summary()
    joined = [s for s in refreshes if attrs(s)["logto.refresh.joined"] is True]
    leaders = [s for s in refreshes if attrs(s)["logto.refresh.joined"] is False]
    assert (len(joined), len(leaders)) == (STORM - 1, 1)
    assert spans.is_under(grant, leaders[0])
    assert all(attrs(s)["logto.resource"] == SHOPPING for s in refreshes)
    assert not any(is_error(s) for s in refreshes)
    [sent] = spans.named("logto.provider.request", **{"logto.provider.endpoint": "token refresh"})
    assert spans.is_under(sent, grant)
    assert attrs(sent)["http.response.status_code"] == 200

    gained = otel.metrics()
    assert gained.total("logto.refresh.grants") == 1
    assert gained.total("logto.refresh.grants", outcome="ok") == 1
    assert gained.total("logto.refresh.joined") == STORM - 1
    assert gained.total("logto.refresh.wait") >= STORM - 1  # a point per caller that waited
    assert gained.total("logto.provider.requests", endpoint="token refresh", status="200") == 1


async def test_refused_refresh_counts_its_error_code(
    harness: Harness, provider: OidcTestProvider, otel: Telemetry, short_tokens: None
) -> None:
    """A revoked grant: the grant span and the grants counter carry invalid_grant."""
    await harness.sign_in("alice")
    await provider.revoke_grants("user-alice")
    advance(harness, ACCESS_TTL + 1)
    otel.reset()
    assert (await get_token(harness, resource=SHOPPING)).status_code == 401
    spans = otel.spans()
    grant = spans.one("logto.refresh.grant")
    assert is_error(grant)
    code = attrs(grant)["logto.error_code"]
    assert grant.status.description == code
    refresh = spans.one("logto.refresh")
    assert is_error(refresh) and attrs(refresh)["logto.refresh.joined"] is False
    gained = otel.metrics()
    assert gained.total("logto.refresh.grants") == 1
    assert gained.total("logto.refresh.grants", outcome="ok") == 0
    [point] = gained.points("logto.refresh.grants")
    assert point["outcome"] in ("invalid_grant", code), point


async def test_userinfo_and_revocation_spans(harness: Harness, otel: Telemetry) -> None:
    """fetch_user_info is a logto.userinfo span over a userinfo request; sign-out a
    logto.sign_out span (signed_out) with a revocation, and sign_outs{reason=sign_out}."""
    await harness.sign_in("alice")
    otel.reset()
    assert (await harness.client.get(f"{APP_ORIGIN}/userinfo")).status_code == 200
    spans = otel.spans()
    userinfo = spans.one("logto.userinfo")
    assert not is_error(userinfo)
    assert spans.under(userinfo, "logto.provider.request", **{"logto.provider.endpoint": "userinfo"})

    otel.reset()
    assert (await harness.sign_out()).status_code == 200
    spans = otel.spans()
    sign_out = spans.one("logto.sign_out", **{"logto.outcome": "signed_out"})
    assert not is_error(sign_out)
    assert spans.named("logto.revocation")
    assert spans.named("logto.provider.request", **{"logto.provider.endpoint": "revocation"})
    assert otel.metrics().total("logto.sign_outs", reason="sign_out") == 1
