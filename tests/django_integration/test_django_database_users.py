"""Database mode: ``sync_user`` makes one ``User`` row per provider account at its first
sign-in, updates it at the next, never takes over a local account, and keeps a
deactivated user out (sign-in and live session alike). Read in the project's SQLite file."""

from __future__ import annotations

import pytest

from .launcher import DjangoSite

pytestmark = pytest.mark.anyio

JSON = {"accept": "application/json"}
USER_COLUMNS = "id, username, email, first_name, last_name, is_staff, is_superuser, is_active, password"


def forget(site: DjangoSite, sub: str) -> None:
    """Remove the rows of ``sub`` (and a local user named like it) so a test starts fresh."""
    rows = site.query("SELECT user_id FROM logto_asgi_logtoidentity WHERE sub = ?", sub)
    site.execute("DELETE FROM logto_asgi_logtoidentity WHERE sub = ?", sub)
    for (user_id,) in rows:
        site.execute("DELETE FROM auth_user WHERE id = ?", user_id)


def linked(site: DjangoSite, sub: str) -> list[tuple[object, ...]]:
    """The user rows linked to ``sub``, with the identity's issuer."""
    return site.query(
        f"SELECT {', '.join('u.' + c.strip() for c in USER_COLUMNS.split(','))}, i.issuer "
        "FROM auth_user u JOIN logto_asgi_logtoidentity i ON i.user_id = u.id WHERE i.sub = ?",
        sub,
    )


async def test_first_sign_in_creates_the_row_and_the_next_updates_it(database_site: DjangoSite) -> None:
    """One row and one identity after two sign-ins; fields edited in between come back from the claims."""
    site = database_site
    forget(site, "user-demo")
    site.execute(
        "INSERT INTO auth_user (username, email, first_name, last_name, password, is_staff, is_superuser,"
        " is_active, date_joined) VALUES ('demo', 'local@example.com', 'Local', 'Account', '!', 0, 0, 1,"
        " CURRENT_TIMESTAMP)"
    )
    users_before = site.query("SELECT COUNT(*) FROM auth_user")[0][0]
    async with site.client() as http:
        await site.sign_in(http, "demo")
    [row] = linked(site, "user-demo")
    user_id, username, email, first, last, staff, superuser, active, password, issuer = row
    assert site.query("SELECT COUNT(*) FROM auth_user")[0][0] == users_before + 1
    # The local "demo" is someone else: a suffixed username, the local row untouched.
    assert isinstance(username, str) and username.startswith("demo-") and len(username) == len("demo-") + 8
    assert site.query("SELECT email FROM auth_user WHERE username = 'demo'") == [("local@example.com",)]
    assert (email, first, last) == ("demo@example.com", "Demo", "User")
    assert (staff, superuser, active) == (1, 0, 1)  # the demo user holds the role "admin"
    assert isinstance(password, str) and password.startswith("!")  # unusable: no password sign-in
    assert isinstance(issuer, str) and issuer.endswith("/oidc")

    site.execute(
        "UPDATE auth_user SET email = 'stale@example.com', first_name = 'Stale', is_staff = 0 WHERE id = ?",
        user_id,
    )
    last_login = site.query("SELECT last_login FROM auth_user WHERE id = ?", user_id)[0][0]
    async with site.client() as http:
        await site.sign_in(http, "demo")
        seen = (await http.get("/whoami-sync")).json()
    [again] = linked(site, "user-demo")
    assert again[0] == user_id and again[1] == username  # the same row
    assert (again[2], again[3], again[5]) == ("demo@example.com", "Demo", 1)  # updated from the claims
    assert site.query("SELECT last_login FROM auth_user WHERE id = ?", user_id)[0][0] > last_login
    assert site.query("SELECT COUNT(*) FROM logto_asgi_logtoidentity WHERE sub = 'user-demo'") == [(1,)]
    assert seen["pk"] == str(user_id) and seen["username"] == username


async def test_deactivated_user_is_kept_out(database_site: DjangoSite) -> None:
    """``is_active=False``: views see AnonymousUser, guards answer 403, a new sign-in is refused."""
    site = database_site
    async with site.client() as http:
        await site.sign_in(http, "bob")
        [row] = linked(site, "user-bob")
        site.execute("UPDATE auth_user SET is_active = 0 WHERE id = ?", row[0])
        try:
            assert (await http.get("/whoami-sync")).json()["kind"] == "AnonymousUser"
            for path in ("/guarded-sync", "/guarded-async"):
                refused = await http.get(path, headers=JSON)
                assert refused.status_code == 403, path
                assert refused.json()["error"] == "access_denied"
            async with site.client() as fresh:
                callback = await site.sign_in(fresh, "bob")
            assert callback.status_code == 403 and "This account is deactivated." in callback.text
            assert not [c for c in fresh.cookies.jar if c.name.startswith("logto") and c.value]
        finally:
            site.execute("UPDATE auth_user SET is_active = 1 WHERE id = ?", row[0])
        assert (await http.get("/guarded-sync")).status_code == 200  # active again: the same session works
