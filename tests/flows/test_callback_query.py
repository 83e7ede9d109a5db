"""What the auth routes' queries must prove (security review, findings 1, 2 and 10):
more than 64 parameters are a 400, the callback's ``iss`` (RFC 9207) names our provider,
and a provider's error description never reaches the page."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlencode

import pytest

from support.app import APP_ORIGIN, Harness, new_browser
from support.callbacks import CatchCallback
from support.provider import OidcTestProvider, provider_login

pytestmark = pytest.mark.anyio


@pytest.fixture
async def caught(harness: Harness) -> AsyncIterator[tuple[Harness, dict[str, str]]]:
    """A sign-in at the real provider up to its redirect back: the callback's query."""
    catcher = CatchCallback(harness.middleware)
    async with new_browser(catcher) as browser:
        harness.client = browser
        await provider_login(
            browser, f"{APP_ORIGIN}{harness.config.sign_in_path}", username="alice", password="alice-password"
        )
        assert catcher.query is not None
        yield harness, dict(parse_qsl(catcher.query.decode()))


@pytest.mark.parametrize("path", ["/sign-in", "/callback"])
async def test_more_than_64_query_parameters_are_a_400(
    harness: Harness, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    """65 parameters: a clear 400 invalid_request page, no traceback in the log."""
    query = "&".join(f"p{i}=v" for i in range(65))
    with caplog.at_level(logging.DEBUG):
        response = await harness.client.get(f"{APP_ORIGIN}{path}?{query}")
    assert response.status_code == 400 and "invalid_request" in response.text
    assert response.headers["cache-control"] == "no-store"
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_sixty_four_parameters_still_sign_in(harness: Harness) -> None:
    """The limit is 64: a sign-in link with 64 parameters goes to the provider."""
    query = "&".join(f"p{i}=v" for i in range(63))
    response = await harness.client.get(f"{APP_ORIGIN}/sign-in?return_to=/orders&{query}")
    assert response.status_code == 302


async def test_sign_out_ignores_its_query(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """Sign-out reads no query: 65 parameters change nothing, and nothing is logged as an error."""
    query = "&".join(f"p{i}=v" for i in range(65))
    with caplog.at_level(logging.DEBUG):
        response = await harness.client.get(f"{APP_ORIGIN}/sign-out?{query}")
    assert response.status_code == 302
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_the_real_provider_sends_iss_and_it_is_accepted(
    caught: tuple[Harness, dict[str, str]], provider: OidcTestProvider
) -> None:
    """The test provider (like Logto) advertises and sends ``iss``: the sign-in completes."""
    harness, query = caught
    assert query["iss"] == provider.issuer
    response = await harness.client.get(f"{APP_ORIGIN}/callback?{urlencode(query)}")
    assert response.status_code == 302 and response.headers["location"] == "/"


@pytest.mark.parametrize(
    "iss",
    [None, "http://evil.example/oidc", "", "{issuer}/", "{issuer}x"],
    ids=["missing", "other-provider", "empty", "trailing-slash", "suffix"],
)
async def test_a_wrong_or_missing_iss_is_a_400_without_code_exchange(
    caught: tuple[Harness, dict[str, str]], provider: OidcTestProvider, iss: str | None
) -> None:
    """Where the provider advertises the parameter, ``iss`` must be exactly its issuer: else
    a 400 and the code is never sent to the token endpoint."""
    harness, query = caught
    if iss is None:
        del query["iss"]
    else:
        query["iss"] = iss.format(issuer=provider.issuer)
    await provider.reset_counts()
    response = await harness.client.get(f"{APP_ORIGIN}/callback?{urlencode(query)}")
    assert response.status_code == 400 and "invalid_transaction" in response.text
    assert "provider" in response.text
    assert (await provider.counts()).get("token:authorization_code") is None


async def test_an_error_response_with_a_wrong_iss_is_refused_as_a_mix_up(
    harness: Harness, provider: OidcTestProvider
) -> None:
    """RFC 9207 applies to error responses too: another provider's ``access_denied`` is a
    mix-up (invalid_transaction), not the user cancelling."""
    start = await harness.client.get(f"{APP_ORIGIN}/sign-in")
    state = dict(parse_qsl(start.headers["location"].split("?", 1)[1]))["state"]
    response = await harness.client.get(
        f"{APP_ORIGIN}/callback",
        params={"error": "access_denied", "state": state, "iss": "http://evil.example"},
    )
    assert response.status_code == 400 and "invalid_transaction" in response.text
    assert "cancelled" not in response.text


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("access_denied", "cancelled or refused at the provider"),
        ("login_required", "sign in again"),
        ("invalid_scope", "configuration may need fixing"),
        ("temporarily_unavailable", "try again in a moment"),
        ("Your_account_is_locked_call_555_0100", "The provider did not sign you in."),
    ],
)
async def test_provider_errors_get_a_fixed_message_per_code(
    harness: Harness, provider: OidcTestProvider, code: str, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The page says our words for the error code (an unknown code is not echoed); the
    description is logged, cut to 300 characters."""
    start = await harness.client.get(f"{APP_ORIGIN}/sign-in")
    state = dict(parse_qsl(start.headers["location"].split("?", 1)[1]))["state"]
    description = "Your account is locked: call +1 555 0100 now. " * 20
    params = {"error": code, "error_description": description, "state": state, "iss": provider.issuer}
    if code == "access_denied":
        # With this browser's own state a cancellation returns to the app (see
        # test_callback_errors); a forged one gets the page.
        params["state"] = "F" * 43
    with caplog.at_level(logging.WARNING, logger="logto_asgi"):
        response = await harness.client.get(f"{APP_ORIGIN}/callback", params=params)
    assert response.status_code == 400 and message in response.text
    assert "555" not in response.text and "locked" not in response.text
    logged = [r.getMessage() for r in caplog.records if "refused the sign-in" in r.getMessage()]
    assert len(logged) == 1 and description[:300] in logged[0] and description[:301] not in logged[0]
