"""RFC 7662 introspection for bearer tokens: each check of the answer, and the cache, the
single flight and the backoff that keep a flood of requests off the provider.

The checks are pure functions; the provider is a scripted ``send`` here only to inject
what a real server would not do on demand (outages, slow answers). The end-to-end runs
are in tests/generic (django-oauth-toolkit) and tests/guards (the npm provider).
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from logto_asgi import ConfigurationError, TokenIntrospection
from logto_asgi.discovery import ProviderMetadata
from logto_asgi.errors import ProviderError, ProviderUnavailable, TokenValidationError
from logto_asgi.introspection import (
    MAX_OPAQUE_TOKEN_LENGTH,
    NEGATIVE_SECONDS,
    Introspector,
    check_introspected,
    looks_like_jwt,
)
from logto_asgi.protocol import ProviderReply, ProviderRequest

pytestmark = pytest.mark.anyio

ISSUER = "https://op.example/o"
API = "https://api.example"
NOW = 1_800_000_000.0
META = ProviderMetadata.parse(
    {
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/authorize",
        "token_endpoint": f"{ISSUER}/token",
        "jwks_uri": f"{ISSUER}/jwks",
        "introspection_endpoint": f"{ISSUER}/introspect",
    }
)


def check(answer: dict[str, Any], **options: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "issuer": ISSUER,
        "audiences": (API,),
        "client_ids": ("web",),
        "now": NOW,
        "leeway": 60,
        **options,
    }
    return check_introspected(answer, **kwargs)


GOOD = {"active": True, "client_id": "web", "scope": "read write", "exp": NOW + 300, "username": "alice"}


def test_a_good_answer_gives_its_claims() -> None:
    claims = check(GOOD)
    assert claims == {k: v for k, v in GOOD.items() if k != "active"}


@pytest.mark.parametrize(
    ("changes", "failed"),
    [
        ({"active": False}, "active"),
        ({"active": "true"}, "active"),
        ({"active": 1}, "active"),
        ({"active": None}, "active"),
        ({"token_type": "refresh_token"}, "typ"),
        ({"exp": NOW - 61}, "exp"),
        ({"exp": "soon"}, "exp"),
        ({"exp": True}, "exp"),
        ({"nbf": NOW + 61}, "nbf"),
        ({"iat": "now"}, "iat"),
        ({"iss": "https://evil.example/o"}, "iss"),
        ({"iss": ISSUER + "/"}, "iss"),
        ({"aud": "https://other.example"}, "aud"),
        ({"aud": ["https://other.example", 7]}, "aud"),
        ({"client_id": "someone-else"}, "aud"),
        ({"client_id": None}, "aud"),
        ({"client_id": {"web": 1}}, "aud"),  # found by make fuzz: unhashable, was a TypeError
        ({"client_id": ["web"]}, "aud"),
    ],
)
def test_each_check_refuses(changes: dict[str, Any], failed: str) -> None:
    answer = {k: v for k, v in {**GOOD, **changes}.items() if v is not None}
    with pytest.raises(TokenValidationError) as info:
        check(answer)
    assert info.value.check == failed


def test_the_leeway_holds_at_its_bounds() -> None:
    assert check({**GOOD, "exp": NOW - 60})
    assert check({**GOOD, "nbf": NOW + 60})


def test_an_audience_makes_the_client_irrelevant() -> None:
    """A resource-bound token names its API; any client may hold it."""
    assert check({**GOOD, "aud": [API, "x"], "client_id": "another-app"})["aud"] == [API, "x"]


def test_without_client_ids_an_answer_without_audience_is_refused() -> None:
    with pytest.raises(TokenValidationError):
        check(GOOD, client_ids=())


def test_jwt_shape() -> None:
    assert looks_like_jwt("aGVh.cGF5.c2ln")
    assert not looks_like_jwt("Zz5UjgLbMgCqrCzHJbrnnBUWYYQvUP")
    assert not looks_like_jwt("a.b.c.d.e")
    assert not looks_like_jwt("a..c")


@pytest.mark.parametrize(
    "options",
    [
        {"client_id": "", "client_secret": "s"},
        {"client_id": "api", "client_secret": ""},
        {"client_id": "api", "client_secret": "s", "client_ids": "web"},
        {"client_id": "api", "client_secret": "s", "cache_seconds": -1},
        {"client_id": "api", "client_secret": "s", "max_entries": 0},
        {"client_id": "api", "client_secret": "s", "max_entries": 1_000_001},
        {"client_id": "api", "client_secret": "s", "cache_seconds": 3600.5},
    ],
)
def test_bad_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        TokenIntrospection(**options)


def test_the_option_bounds_are_inclusive() -> None:
    for options in (
        {"max_entries": 1},
        {"max_entries": 1_000_000},
        {"cache_seconds": 0},
        {"cache_seconds": 3600},
    ):
        assert TokenIntrospection(client_id="api", client_secret="s", **options)  # type: ignore[arg-type]


class Script:
    """A scripted introspection endpoint: counts requests, answers ``answers[token]``."""

    def __init__(self) -> None:
        self.requests: list[ProviderRequest] = []
        self.status = 200
        self.answers: dict[str, dict[str, Any]] = {}
        self.gate: anyio.Event | None = None

    async def __call__(self, request: ProviderRequest) -> ProviderReply:
        self.requests.append(request)
        if self.gate is not None:
            await self.gate.wait()
        assert request.form is not None
        body = json.dumps(self.answers.get(request.form["token"], {"active": False})).encode()
        return ProviderReply(self.status, "application/json", body)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def introspector(script: Script, clock: Clock, **options: Any) -> Introspector:
    return Introspector(
        TokenIntrospection(client_id="api", client_secret="s3cr:et", **options), script, clock
    )


async def test_the_request_is_rfc7662() -> None:
    script, clock = Script(), Clock()
    await introspector(script, clock).answer("tok-1", META)
    (request,) = script.requests
    assert (request.method, request.url) == ("POST", f"{ISSUER}/introspect")
    assert request.form == {"token": "tok-1", "token_type_hint": "access_token"}
    assert request.basic_auth == ("api", "s3cr%3Aet")


async def test_answers_are_cached_until_cache_seconds_or_exp() -> None:
    script, clock = Script(), Clock()
    script.answers["long"] = {**GOOD, "exp": NOW + 3600}
    script.answers["short"] = {**GOOD, "exp": NOW + 5}
    intro = introspector(script, clock, cache_seconds=60)
    for _ in range(3):
        await intro.answer("long", META)
        await intro.answer("short", META)
    assert len(script.requests) == 2
    clock.now += 6  # past "short"'s exp: asked again
    await intro.answer("long", META)
    await intro.answer("short", META)
    assert len(script.requests) == 3
    clock.now += 60  # past cache_seconds
    await intro.answer("long", META)
    assert len(script.requests) == 4


async def test_refusals_are_cached_briefly() -> None:
    script, clock = Script(), Clock()
    intro = introspector(script, clock)
    for _ in range(5):
        assert (await intro.answer("garbage", META))["active"] is False
    assert len(script.requests) == 1
    clock.now += NEGATIVE_SECONDS
    await intro.answer("garbage", META)
    assert len(script.requests) == 2


async def test_the_cache_is_bounded_and_keyed_by_a_hash() -> None:
    script, clock = Script(), Clock()
    intro = introspector(script, clock, max_entries=3)
    for n in range(10):
        await intro.answer(f"token-{n}", META)
    assert len(intro) == 3
    assert all("token-" not in key for key in intro._cache._entries)


async def test_cache_seconds_zero_caches_nothing() -> None:
    script, clock = Script(), Clock()
    script.answers["t"] = GOOD
    intro = introspector(script, clock, cache_seconds=0)
    await intro.answer("t", META)
    await intro.answer("t", META)
    assert len(script.requests) == 2
    assert len(intro) == 0  # nothing kept that would never be used


async def test_concurrent_requests_with_one_token_share_one_call() -> None:
    script, clock = Script(), Clock()
    script.answers["t"] = GOOD
    script.gate = anyio.Event()
    intro = introspector(script, clock)
    results: list[dict[str, Any]] = []

    async def ask() -> None:
        results.append(await intro.answer("t", META))

    async with anyio.create_task_group() as tasks:
        for _ in range(30):
            tasks.start_soon(ask)
        await anyio.wait_all_tasks_blocked()
        script.gate.set()
    assert len(script.requests) == 1
    assert len(results) == 30 and all(r is results[0] for r in results)


async def test_an_outage_backs_off_instead_of_flooding() -> None:
    """Every distinct token during an outage: one request, then 503s without asking."""
    script, clock = Script(), Clock()
    script.status = 503
    intro = introspector(script, clock)
    for n in range(50):
        with pytest.raises(ProviderUnavailable) as info:
            await intro.answer(f"flood-{n}", META)
        assert info.value.retry_after is not None and info.value.retry_after > 0
    assert len(script.requests) == 1
    clock.now += 1.01
    script.status = 200
    script.answers["back"] = GOOD
    assert (await intro.answer("back", META))["active"] is True
    assert len(script.requests) == 2


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_credentials_say_what_to_fix(status: int) -> None:
    script, clock = Script(), Clock()
    script.status = status
    with pytest.raises(ProviderError, match="client_id and client_secret") as info:
        await introspector(script, clock).answer("t", META)
    assert not isinstance(info.value, ProviderUnavailable)


async def test_a_bad_request_carries_the_providers_oauth_error() -> None:
    script, clock = Script(), Clock()
    script.status = 400
    script.answers["t"] = {"error": "unsupported_token_type", "error_description": "no JWTs"}
    with pytest.raises(
        ProviderError, match="refused the introspection request: unsupported_token_type \\(no JWTs\\)"
    ):
        await introspector(script, clock).answer("t", META)


async def test_waiters_share_the_leaders_failure() -> None:
    script, clock = Script(), Clock()
    script.status = 503
    script.gate = anyio.Event()
    intro = introspector(script, clock)
    failures: list[ProviderError] = []

    async def ask() -> None:
        try:
            await intro.answer("t", META)
        except ProviderError as exc:
            failures.append(exc)

    async with anyio.create_task_group() as tasks:
        for _ in range(10):
            tasks.start_soon(ask)
        await anyio.wait_all_tasks_blocked()
        script.gate.set()
    assert len(script.requests) == 1
    assert len(failures) == 10 and all(isinstance(f, ProviderUnavailable) for f in failures)


@pytest.mark.parametrize("token", ["has space", 'quote"', "x" * 20_000, "ünïcode", ""])
async def test_tokens_that_are_not_b64token_are_never_sent(token: str) -> None:
    script, clock = Script(), Clock()
    with pytest.raises(TokenValidationError) as info:
        await introspector(script, clock).answer(token, META)
    assert info.value.check == "format" and script.requests == []


async def test_without_an_endpoint_anywhere_the_error_says_so() -> None:
    script, clock = Script(), Clock()
    bare = ProviderMetadata.parse({**META.raw, "introspection_endpoint": None})
    with pytest.raises(ProviderError, match="TokenIntrospection\\(endpoint"):
        await introspector(script, clock).answer("t", bare)
    for bad in ("/relative", "javascript:x", "http://[::1", 7):
        broken = ProviderMetadata.parse({**META.raw, "introspection_endpoint": bad})  # sign-in unaffected
        with pytest.raises(ProviderError, match="no valid introspection_endpoint"):
            await introspector(script, clock).answer("t", broken)
    assert script.requests == []
    intro = introspector(Script(), clock, endpoint="https://op.example/o/introspect/")
    await intro.answer("t", bare)


async def test_the_length_limit_is_exact() -> None:
    script, clock = Script(), Clock()
    intro = introspector(script, clock)
    assert MAX_OPAQUE_TOKEN_LENGTH == 16_384
    await intro.answer("a" * 16_384, META)
    assert len(script.requests) == 1
    with pytest.raises(TokenValidationError):
        await intro.answer("a" * 16_385, META)
    assert len(script.requests) == 1


async def test_a_refusal_is_forgotten_after_exactly_negative_seconds() -> None:
    script, clock = Script(), Clock()
    intro = introspector(script, clock, cache_seconds=3600)
    await intro.answer("bad", META)
    assert NEGATIVE_SECONDS == 10.0
    clock.now += 9.999
    await intro.answer("bad", META)
    assert len(script.requests) == 1
    clock.now += 0.001
    await intro.answer("bad", META)
    assert len(script.requests) == 2
