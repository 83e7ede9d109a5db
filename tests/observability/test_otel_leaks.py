"""No secret in any telemetry: a full journey (sign-in, userinfo, resource token, refresh,
sign-out) against the real provider, then every span name, attribute, status description
and event, every metric name and attribute, and every ``logto_asgi`` log record with all
its extras are searched for the journey's secrets and personal data."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from logto_asgi._crypto import JweCodec, fingerprint
from logto_asgi.sessions.base import Session
from observability.otel import LOG_FIELDS, RecordingHandler, Telemetry, metric_text, span_text
from support.app import APP_ORIGIN, SHOPPING, USERS, Harness
from support.provider import OidcTestProvider, provider_login

pytestmark = pytest.mark.anyio

ACCESS_TTL = 300


class Seen:
    """Every secret and personal value the journey handled."""

    def __init__(self, harness: Harness) -> None:
        config = harness.config
        assert config.app_secret
        self.secrets: set[str] = {config.app_secret, *config.cookie_secrets}
        self.personal: set[str] = set()
        self.sessions: list[Session] = []
        self._sessions = JweCodec(config.cookie_secrets, "session cookie")
        self._transactions = harness.middleware.core.transactions

    def cookie(self, name: str, value: str) -> None:
        self.secrets.add(value)
        if name == "logto":
            session = Session.from_json(self._sessions.decrypt(value))
            self.sessions.append(session)
            self.secrets.update(
                {session.id_token, session.id, *(t.token for t in session.access_tokens.values())}
            )
            if session.refresh_token:
                self.secrets.add(session.refresh_token)
            self.secrets.add(str(session.claims.get("nonce", "")))
            self.personal.add(str(session.claims["sub"]))
            self.personal.add(str(session.claims.get("email", "")))
        elif name.startswith("logto_tx."):
            state, nonce, verifier, *_ = json.loads(self._transactions.decrypt(value))
            self.secrets.update({state, nonce, verifier})

    async def response(self, response: httpx.Response) -> None:
        if response.url.host != "app.test":
            return
        for line in response.headers.get_list("set-cookie"):
            name, _, rest = line.partition("=")
            value = rest.split(";", 1)[0].strip('"')
            if name.startswith("logto") and value:
                self.cookie(name, value)

    @staticmethod
    def found(values: set[str], text: str) -> list[str]:
        leaks = [v for v in values if v and v in text]
        # a 16-character prefix or suffix of a long secret is a leak too
        leaks += [v for v in values if len(v) >= 32 and (v[:16] in text or v[-16:] in text)]
        return sorted(set(leaks))


@pytest.fixture
async def short_tokens(provider: OidcTestProvider) -> AsyncIterator[None]:
    await provider.set_ttl(AccessToken=ACCESS_TTL)
    yield
    await provider.reset_ttl()


async def journey(harness: Harness, seen: Seen) -> None:
    client = harness.client
    client.event_hooks["response"].append(seen.response)
    start = await client.get(f"{APP_ORIGIN}{harness.config.sign_in_path}")
    assert start.status_code == 302
    callback = await provider_login(
        client, start.headers["location"], username="alice", password=USERS["alice"]
    )
    assert callback.status_code == 302, callback.text
    seen.secrets.update({callback.request.url.params["code"], callback.request.url.params["state"]})
    assert (await client.get(f"{APP_ORIGIN}/me")).status_code == 200
    assert (await client.get(f"{APP_ORIGIN}/userinfo")).status_code == 200
    assert (await client.get(f"{APP_ORIGIN}/token", params={"resource": SHOPPING})).status_code == 200
    harness.middleware.core.clock = lambda: time.time() + ACCESS_TTL + 1  # tokens expire: a refresh
    refreshed = await client.get(f"{APP_ORIGIN}/token", params={"resource": SHOPPING, "raw": "1"})
    assert refreshed.status_code == 200
    assert (await client.get(f"{APP_ORIGIN}/token")).status_code == 200
    harness.middleware.core.clock = time.time
    assert (await harness.sign_out()).status_code == 200
    assert (await client.get(f"{APP_ORIGIN}/me")).status_code == 401


async def test_no_secret_in_spans_metrics_or_logs(
    harness: Harness, otel: Telemetry, logs: RecordingHandler, short_tokens: None
) -> None:
    """Tokens, code, state, nonce, verifier, cookie values, client and cookie secrets: in
    no span, metric or log record; sub and email in no span or metric."""
    seen = Seen(harness)
    await journey(harness, seen)
    assert len(seen.sessions) >= 3  # signed in, resource token cached, refreshed
    refresh_tokens = {s.refresh_token for s in seen.sessions if s.refresh_token}
    assert len(refresh_tokens) >= 2  # the refresh rotated it: both are searched
    assert len(seen.personal - {""}) == 2  # sub and email
    spans = otel.spans()
    names = {s.name for s in spans.all}
    assert {"logto.sign_in", "logto.callback", "logto.userinfo", "logto.refresh", "logto.sign_out"} <= names

    telemetry = span_text(spans) + "\n" + metric_text(otel.reader)
    # the scan sees what there is: attribute values, metric attributes, log extras
    assert "logto.outcome=signed_in" in telemetry and "outcome=signed_in" in metric_text(otel.reader)
    assert any(fingerprint(s.id) in logs.text() for s in seen.sessions)
    assert Seen.found(seen.secrets, telemetry) == []
    assert Seen.found(seen.personal, telemetry) == []
    assert logs.records
    assert Seen.found(seen.secrets, logs.text()) == []


async def test_no_sub_or_email_in_logs(harness: Harness, otel: Telemetry, logs: RecordingHandler) -> None:
    """The user's sub and email are personal data: log records name the session by its
    fingerprint (logto_session), never the user."""
    seen = Seen(harness)
    await journey(harness, seen)
    leaked = Seen.found(seen.personal, logs.text())
    assert leaked == [], [r.getMessage() for r in logs.records if any(v in r.getMessage() for v in leaked)]


async def test_sign_in_and_sign_out_records_carry_the_structured_fields(
    harness: Harness, otel: Telemetry, logs: RecordingHandler
) -> None:
    """The sign-in and sign-out records have logto_event, logto_outcome, logto_error_code
    and logto_session (the session id's fingerprint, never the id)."""
    seen = Seen(harness)
    await journey(harness, seen)
    session_ids = {s.id for s in seen.sessions}
    handles = {fingerprint(i) for i in session_ids}
    for outcome in ("signed_in", "signed_out"):
        records = logs.with_field("logto_outcome", outcome)
        assert records, f"no record with logto_outcome={outcome}:\n{logs.text()}"
        for record in records:
            fields = {key: getattr(record, key, "<missing>") for key in LOG_FIELDS}
            assert "<missing>" not in fields.values(), fields
            assert isinstance(fields["logto_event"], str) and fields["logto_event"]
            assert fields["logto_error_code"] in (None, "")
            assert fields["logto_session"] in handles, fields
            assert fields["logto_session"] not in session_ids
    for record in logs.records:  # every record that says something structured says it all
        present = [key for key in LOG_FIELDS if hasattr(record, key)]
        assert present in ([], list(LOG_FIELDS)), (record.getMessage(), present)
