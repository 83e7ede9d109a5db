"""max_age (step-up): a sign-in older than the route allows must be repeated — a redirect
to sign in again with prompt=login and max_age, or RFC 9470's 401 — judged by the
middleware's clock, for sessions and bearer tokens."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.types import Message

from guards.role_apps import JSON, MAX_AGE, NAVIGATION, RoleKit, make_kit
from logto_asgi import ConfigurationError, RequireAuth, requires_auth
from logto_asgi.guards import StepUpRequired
from support.asgi import websocket_session

pytestmark = pytest.mark.anyio

CHALLENGE = f'Bearer error="insufficient_user_authentication", max_age="{MAX_AGE}"'


@pytest.fixture
async def kit() -> AsyncIterator[RoleKit]:
    yield make_kit()


def query(location: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(location).query)


async def get_recent(kit: RoleKit, auth_time: object) -> int:
    async with kit.session({"auth_time": auth_time}) as client:
        return (await client.get("/recent")).status_code


async def test_max_age_is_inclusive_by_the_middlewares_clock(kit: RoleKit) -> None:
    """A sign-in exactly max_age seconds old passes, one second older must be repeated."""
    now = int(kit.clock.now)
    kit.clock.now = float(now)
    assert await get_recent(kit, now - MAX_AGE) == 200
    assert await get_recent(kit, now - MAX_AGE - 1) == 401
    assert await get_recent(kit, now) == 200
    assert await get_recent(kit, now + 30) == 200  # the provider's clock a little ahead
    kit.clock.now += MAX_AGE + 1  # the same session, later
    assert await get_recent(kit, now) == 401


@pytest.mark.parametrize("auth_time", [None, "1700000000", [1], {"t": 1}, float("nan")])
async def test_an_unknown_sign_in_time_counts_as_too_old(kit: RoleKit, auth_time: object) -> None:
    """No auth_time (or one that is not a number) is never recent enough."""
    claims = {} if auth_time is None else {"auth_time": auth_time}
    async with kit.session(claims) as client:
        response = await client.get("/recent")
    assert response.status_code == 401


async def test_a_boolean_is_not_a_sign_in_time() -> None:
    """auth_time=true is not the second 1: refused even on a clock where 1 would be recent."""
    kit = make_kit()
    kit.clock.now = 100.0
    assert await get_recent(kit, 1) == 200
    assert await get_recent(kit, True) == 401


async def test_the_401_says_a_recent_sign_in_is_needed(kit: RoleKit) -> None:
    """JSON: insufficient_user_authentication, RFC 9470's challenge with max_age, no-store."""
    async with kit.session({"auth_time": int(time.time()) - 3600}) as client:
        response = await client.get("/recent")
    assert response.status_code == 401
    assert response.json() == {
        "error": "insufficient_user_authentication",
        "error_description": f"this route needs a sign-in within the last {MAX_AGE} seconds: sign in again",
        "sign_in_url": f"/sign-in?return_to=%2Frecent&prompt=login&max_age={MAX_AGE}",
    }
    assert response.headers["www-authenticate"] == CHALLENGE
    assert response.headers["cache-control"] == "no-store"
    assert str(int(time.time()) - 3600) not in response.text  # the user's own auth_time stays out


async def test_a_browser_gets_a_link_to_sign_in_again(kit: RoleKit) -> None:
    """Without redirect, the 401 page links to a fresh sign-in (prompt=login, max_age) and back."""
    async with kit.session({}) as client:
        response = await client.get("/recent?tab=2", headers=NAVIGATION)
    assert response.status_code == 401
    assert "Sign in again" in response.text
    href = response.text.split('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert urlsplit(href).path == "/sign-in"
    assert query(href) == {"return_to": ["/recent?tab=2"], "prompt": ["login"], "max_age": [str(MAX_AGE)]}


async def test_redirect_sends_to_a_fresh_sign_in_and_back(kit: RoleKit) -> None:
    """redirect=True: 303 to /sign-in with prompt=login and max_age, return_to the page."""
    async with kit.session({"auth_time": int(kit.clock.now) - MAX_AGE - 60}) as client:
        response = await client.get("/recent/page?x=%2F")
        assert response.status_code == 303
        assert response.headers["cache-control"] == "no-store"
        location = response.headers["location"]
        assert urlsplit(location).path == "/sign-in"
        assert query(location) == {
            "return_to": ["/recent/page?x=%2F"],
            "prompt": ["login"],
            "max_age": ["300"],
        }
        mounted = await client.get("/step-up/")
        assert query(mounted.headers["location"])["prompt"] == ["login"]
    async with kit.client() as client:  # signed out: the ordinary sign-in, no prompt
        anonymous = await client.get("/recent/page")
    assert (anonymous.status_code, anonymous.headers["location"]) == (
        303,
        "/sign-in?return_to=%2Frecent%2Fpage",
    )


async def test_step_up_comes_after_the_other_requirements(kit: RoleKit) -> None:
    """Someone refused anyway is told so at once, not sent to sign in again first."""
    async with kit.session({"roles": ["viewer"]}) as client:
        assert (await client.get("/recent/admin")).status_code == 403
    async with kit.session({"roles": ["admin"]}) as client:
        assert (await client.get("/recent/admin")).status_code == 401
    async with kit.session({"roles": ["admin"], "auth_time": int(kit.clock.now)}) as client:
        assert (await client.get("/recent/admin")).status_code == 200


async def test_bearer_tokens_are_judged_by_their_auth_time(kit: RoleKit) -> None:
    """A token's auth_time (RFC 9068) is checked; a token without one is refused: 401, never a redirect."""
    now = int(time.time())
    async with kit.bearer({"auth_time": now - 10}) as client:
        assert (await client.get("/recent")).status_code == 200
    for claims in ({"auth_time": now - MAX_AGE - 60}, {}):
        async with kit.bearer(claims) as client:
            for path in ("/recent", "/recent/page"):
                response = await client.get(path)
                assert response.status_code == 401, path
                assert response.json()["error"] == "insufficient_user_authentication"
                assert response.json()["error_description"] == (
                    f"this route needs an access token from a sign-in within the last {MAX_AGE} seconds: "
                    "sign in again"
                )
                assert response.headers["www-authenticate"] == CHALLENGE


async def test_a_stale_websocket_is_closed_before_it_is_accepted(kit: RoleKit) -> None:
    """A websocket of a session too old for the route: 1008; a fresh one is served."""
    stale = "; ".join(f"{k}={v}" for k, v in kit.cookies({}).items())
    refused = await websocket_session(kit.app, "/ws/recent", headers=[(b"cookie", stale.encode())])
    assert [(m["type"], m.get("code")) for m in refused] == [("websocket.close", 1008)]
    fresh = "; ".join(f"{k}={v}" for k, v in kit.cookies({"auth_time": int(kit.clock.now)}).items())
    served = await websocket_session(kit.app, "/ws/recent", headers=[(b"cookie", fresh.encode())])
    assert served[0]["type"] == "websocket.accept"


async def test_anonymous_is_not_a_step_up(kit: RoleKit) -> None:
    """Nobody signed in: the ordinary 401 not_authenticated, not insufficient_user_authentication."""
    async with kit.client(**JSON) as client:
        response = await client.get("/recent")
    assert (response.status_code, response.json()["error"]) == (401, "not_authenticated")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_mounted_app_answers_the_step_up_challenge(kit: RoleKit) -> None:
    """RequireAuth sends the raw headers: one challenge (RFC 9470's, not also the plain one),
    the content type kept."""
    async with kit.bearer({}) as client:
        response = await client.get("/step-up/")
    assert response.status_code == 401
    assert response.headers.get_list("www-authenticate") == [CHALLENGE]
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "insufficient_user_authentication"


async def test_return_to_is_the_path_as_sent(kit: RoleKit) -> None:
    """The way back keeps the request's own encoding (%2F stays %2F)."""
    async with kit.session({}) as client:
        response = await client.get("/step-up/a%2Fb?q=1")
    assert query(response.headers["location"])["return_to"] == ["/step-up/a%2Fb?q=1"]


async def test_return_to_without_a_raw_path(kit: RoleKit) -> None:
    """A server that sends no raw_path: the path is quoted, the query kept."""
    cookie = "; ".join(f"{k}={v}" for k, v in kit.cookies({}).items())
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/step-up/ü",
        "root_path": "",
        "query_string": b"q=1",
        "headers": [(b"host", b"test"), (b"cookie", cookie.encode())],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await kit.app(scope, receive, send)
    assert sent[0]["status"] == 303
    location = dict(sent[0]["headers"])[b"location"].decode()
    assert query(location)["return_to"] == ["/step-up/%C3%BC?q=1"]


def test_one_second_is_a_max_age() -> None:
    """The smallest max_age is 1 second."""
    assert requires_auth(max_age=1) is not None


@pytest.mark.parametrize("max_age", [0, -1, True, 1.5, "300"])
def test_max_age_is_checked_when_decorating(max_age: object) -> None:
    """max_age is a whole number of seconds above 0."""
    with pytest.raises(ConfigurationError, match="max_age"):
        requires_auth(max_age=max_age)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="max_age"):
        RequireAuth(make_kit().app, max_age=max_age)  # type: ignore[arg-type]


def test_step_up_required_is_a_not_authenticated() -> None:
    """Handlers catching NotAuthenticated (and websockets' 1008) treat it as a 401 of its own code."""
    exc = StepUpRequired("again", max_age=60)
    assert (exc.status_code, exc.error, exc.max_age) == (401, "insufficient_user_authentication", 60)
