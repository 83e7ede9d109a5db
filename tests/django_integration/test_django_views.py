"""The test Django project over real HTTP (uvicorn, the test provider, an httpx client
that keeps cookies): ``request.user`` in sync and async views and templates, the guards'
200/302/303/401/403/503, ``@login_required`` coming back, errors without tracebacks."""

from __future__ import annotations

import pytest

from .launcher import DjangoSite

pytestmark = pytest.mark.anyio

JSON = {"accept": "application/json"}
HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
SHOPPING = "https://shopping.example.com/api"


def expected_username(site: DjangoSite, username: str) -> str:
    """The lightweight user's username is its ``sub``; a row's is the provider's username."""
    return f"user-{username}" if site.users == "lightweight" else username


def no_errors_logged(output: str) -> None:
    """Nothing at ERROR from Django (no 500 page, no traceback) in a stretch of server output."""
    assert "ERROR django.request" not in output, output
    assert "Traceback" not in output, output


async def test_request_user_in_sync_and_async_views(site: DjangoSite) -> None:
    """``request.user`` and ``await request.auser()`` are the Logto user, staff flag and mapped perms too."""
    kind = "LogtoDjangoUser" if site.users == "lightweight" else "User"
    async with site.client() as http:
        for path in ("/whoami-sync", "/whoami-async"):
            anonymous = (await http.get(path)).json()
            assert anonymous["kind"] == "AnonymousUser" and anonymous["is_anonymous"] is True
        await site.sign_in(http, "alice")
        sync, async_ = (await http.get("/whoami-sync")).json(), (await http.get("/whoami-async")).json()
    for seen in (sync, async_):
        assert seen["kind"] == kind
        assert seen["is_authenticated"] is True and seen["is_anonymous"] is False
        assert seen["username"] == expected_username(site, "alice")
        assert (seen["email"], seen["first_name"], seen["last_name"]) == (
            "alice@example.com",
            "Alice",
            "Liddell",
        )
        assert seen["is_staff"] is True  # alice holds the role "admin": LOGTO_DJANGO staff_roles
        assert seen["can_view_users"] is True  # mapped from the role by LogtoBackend / the user
        assert seen["can_delete_users"] is False  # not mapped, not a superuser
    assert async_["same"] is True  # request.user after auser(): one answer per request
    if site.users == "lightweight":
        assert sync["pk"] == "user-alice"


async def test_bob_is_not_staff(site: DjangoSite) -> None:
    """A user without the staff role is signed in but neither staff nor granted the mapped permission."""
    async with site.client() as http:
        await site.sign_in(http, "bob")
        seen = (await http.get("/whoami-sync")).json()
    assert seen["username"] == expected_username(site, "bob") and seen["is_authenticated"] is True
    assert seen["is_staff"] is False and seen["can_view_users"] is False


async def test_template_sees_the_user(site: DjangoSite) -> None:
    """``{{ user }}`` in a template rendered by a sync and an async view."""
    async with site.client() as http:
        assert '<p id="user">anonymous</p>' in (await http.get("/")).text
        await site.sign_in(http, "alice")
        for path in ("/", "/page-async"):
            page = (await http.get(path)).text
            assert f'<p id="user">{expected_username(site, "alice")}</p>' in page
            assert '<p id="full-name">Alice Liddell</p>' in page


@pytest.mark.parametrize("path", ["/guarded-sync", "/guarded-async", "/admins-sync", "/shop-write-async"])
async def test_guards_answer_401_signed_out(site: DjangoSite, path: str) -> None:
    """Signed out, a guarded view answers 401: JSON for scripts, a page with a sign-in link for browsers."""
    async with site.client() as http:
        as_json = await http.get(path, headers=JSON)
        as_html = await http.get(path, headers=HTML)
    assert as_json.status_code == 401
    assert as_json.json()["error"] == "not_authenticated"
    assert as_json.json()["sign_in_url"] == f"/sign-in?return_to=%2F{path[1:]}"
    assert as_json.headers["www-authenticate"] == "Bearer"
    assert as_json.headers["cache-control"] == "no-store"
    assert as_html.status_code == 401 and as_html.headers["content-type"].startswith("text/html")
    assert f'href="/sign-in?return_to=%2F{path[1:]}"' in as_html.text


async def test_guard_redirect_goes_to_sign_in_and_back(site: DjangoSite) -> None:
    """``redirect=True``: signed out, a 303 to the sign-in route, and after it back on the view."""
    async with site.client() as http:
        refused = await http.get("/guarded-redirect")
        assert refused.status_code == 303
        assert refused.headers["location"] == "/sign-in?return_to=%2Fguarded-redirect"
        callback = await site.sign_in(http, "bob", return_to="/guarded-redirect")
        assert callback.headers["location"] == "/guarded-redirect"
        assert (await http.get("/guarded-redirect")).text == "welcome back"


async def test_guards_pass_and_refuse_by_role_and_scope(site: DjangoSite) -> None:
    """Signed in: 200 with the role or resource scope, else 403 access_denied / insufficient_scope."""
    async with site.client() as alice, site.client() as bob:
        await site.sign_in(alice, "alice")
        await site.sign_in(bob, "bob")
        for path in ("/guarded-sync", "/guarded-async"):
            assert (await alice.get(path)).text.endswith(expected_username(site, "alice"))
        for path in ("/admins-sync", "/admins-async", "/shop-write-sync", "/shop-write-async"):
            assert (await alice.get(path)).status_code == 200, path
        for path in ("/admins-sync", "/admins-async"):
            refused = await bob.get(path, headers=JSON)
            assert refused.status_code == 403 and refused.json()["error"] == "access_denied"
            assert "'admin'" in refused.json()["error_description"]
        for path in ("/shop-write-sync", "/shop-write-async"):
            refused = await bob.get(path, headers=JSON)  # bob's shopping token has shopping:read only
            assert refused.status_code == 403 and refused.json()["error"] == "insufficient_scope"
            assert (
                refused.headers["www-authenticate"]
                == 'Bearer error="insufficient_scope", scope="shopping:write"'
            )


@pytest.mark.parametrize("path", ["/login-required-sync", "/login-required-async"])
async def test_login_required_round_trip(site: DjangoSite, path: str) -> None:
    """``@login_required`` → ``LOGIN_URL`` (``sign_in``) → sign-in with return_to=next → the page."""
    async with site.client() as http:
        first = await http.get(path)
        assert first.status_code == 302 and first.headers["location"] == f"/accounts/login/?next={path}"
        login = await http.get(first.headers["location"])
        assert login.status_code == 302 and login.headers["location"] == f"/sign-in?return_to=%2F{path[1:]}"
        callback = await site.sign_in(http, "alice", return_to=path)
        assert callback.headers["location"] == path
        page = await http.get(path)
    assert page.status_code == 200
    assert page.text.endswith(f"page of {expected_username(site, 'alice')}")


async def test_login_required_straight_to_the_sign_in_route(lightweight_site: DjangoSite) -> None:
    """``login_required(login_url="/sign-in", redirect_field_name="return_to")`` needs no view in between."""
    async with lightweight_site.client() as http:
        first = await http.get("/login-required-direct")
    assert first.status_code == 302
    assert first.headers["location"] == "/sign-in?return_to=/login-required-direct"


async def test_login_url_refuses_a_signed_in_user_instead_of_looping(site: DjangoSite) -> None:
    """A signed-in user sent to LOGIN_URL (``permission_required``) gets a 403 there, not a sign-in loop."""
    async with site.client() as http:
        await site.sign_in(http, "alice")
        first = await http.get("/needs-permission")
        assert first.status_code == 302 and first.headers["location"].startswith("/accounts/login/?next=")
        login = await http.get(first.headers["location"], headers=JSON)
    assert login.status_code == 403 and login.json()["error"] == "access_denied"


async def test_login_url_keeps_only_same_origin_next(lightweight_site: DjangoSite) -> None:
    """An absolute ``next`` is dropped: the sign-in goes to the default page, never to another site."""
    async with lightweight_site.client() as http:
        login = await http.get("/accounts/login/", params={"next": "https://evil.example/steal"})
    assert login.status_code == 302 and login.headers["location"] == "/sign-in"


async def test_logto_errors_from_views_are_answered_not_500(site: DjangoSite) -> None:
    """A ``LogtoError`` escaping a sync or async view is the boundary's 401; nothing logged at ERROR."""
    mark = site.mark()
    async with site.client() as http:
        for path in ("/require-user-async", "/raises-in-sync"):
            answer = await http.get(path, headers=JSON)
            assert answer.status_code == 401, (path, answer.text)
            assert answer.json()["error"] == "not_authenticated"
            assert answer.json()["sign_in_url"] == f"/sign-in?return_to=%2F{path[1:]}"
            assert answer.headers["cache-control"] == "no-store"
        page = await http.get("/raises-in-sync", headers=HTML)
    assert page.status_code == 401 and "Sign in" in page.text and "Traceback" not in page.text
    output = site.output_since(mark)
    no_errors_logged(output)
    assert "WARNING django.request: Unauthorized: /raises-in-sync" in output  # Django's usual 4xx line


async def test_other_exceptions_stay_djangos_500(lightweight_site: DjangoSite) -> None:
    """An ordinary bug is still Django's 500, logged at ERROR (the middleware answers LogtoErrors only)."""
    mark = lightweight_site.mark()
    async with lightweight_site.client() as http:
        answer = await http.get("/not-logto")
    assert answer.status_code == 500
    lightweight_site.wait_for_output("ERROR django.request: Internal Server Error: /not-logto")
    assert "RuntimeError: an ordinary bug" in lightweight_site.output_since(mark)


async def test_provider_down_while_fetching_a_token_is_503(site: DjangoSite) -> None:
    """Token endpoint unreachable: 503 from a view's and a guard's token fetch, no ERROR logged."""
    async with site.client() as http:
        await site.sign_in(http, "alice")
        mark = site.mark()
        assert (await http.get("/__faults__/refuse")).status_code == 200
        try:
            answers = [await http.get(path, headers=JSON) for path in ("/token-sync", "/shop-write-async")]
            page = await http.get("/token-async", headers=HTML)
        finally:
            assert (await http.get("/__faults__/off")).status_code == 200
        for answer in answers:
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"] == "provider_unavailable"
            assert answer.headers["cache-control"] == "no-store"
        assert page.status_code == 503 and "Traceback" not in page.text
        output = site.output_since(mark)
        no_errors_logged(output)
        assert "answered 503 provider_unavailable" in output
        recovered = await http.get("/token-async")  # the same session, once the provider answers again
    assert recovered.status_code == 200 and recovered.json()["aud"] == SHOPPING


async def test_django_csrf_still_guards_the_apps_own_posts(lightweight_site: DjangoSite) -> None:
    """Django's CSRF middleware still refuses a tokenless POST to the app's own view."""
    async with lightweight_site.client() as http:
        await lightweight_site.sign_in(http, "alice")
        refused = await http.post("/post-protected", data={"a": "1"})
        exempt = await http.post("/post-form", data={"a": "1"})
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert exempt.status_code == 200
