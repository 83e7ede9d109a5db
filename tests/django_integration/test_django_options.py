"""``LOGTO_DJANGO`` is checked once, naming the key to fix, and the lightweight user
answers what Django asks of a user (in-process: no Django settings are touched)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from logto_asgi import ConfigurationError, IdTokenClaims
from logto_asgi.django import LogtoDjangoUser, Options, default_user_fields

from .launcher import TESTS

ALICE = IdTokenClaims(
    {
        "iss": "https://tenant.example/oidc",
        "sub": "user-alice",
        "username": "alice",
        "name": "Alice Liddell",
        "email": "alice@example.com",
        "roles": ["admin", "editor"],
    }
)


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ({"users": "rows"}, "LOGTO_DJANGO['users']"),
        ({"staff_roles": "admin"}, "LOGTO_DJANGO['staff_roles']"),
        ({"superuser_roles": [""]}, "LOGTO_DJANGO['superuser_roles']"),
        ({"permissions": {"editor": "blog.change_post"}}, "LOGTO_DJANGO['permissions']"),
        ({"permissions": {"editor": ["change_post"]}}, "LOGTO_DJANGO['permissions']"),
        ({"user_fields": "no.such.module.fields"}, "LOGTO_DJANGO['user_fields']"),
        ({"user_fields": 42}, "LOGTO_DJANGO['user_fields']"),
        ({"roles_claim": ""}, "LOGTO_DJANGO['roles_claim']"),
        ({"user": "database"}, "unknown key(s) ['user']"),
        (["database"], "must be a dict"),
    ],
)
def test_bad_settings_name_the_key(raw: Any, names: str) -> None:
    """Each malformed ``LOGTO_DJANGO`` value is a ``ConfigurationError`` that names what to fix."""
    with pytest.raises(ConfigurationError, match=r"LOGTO_DJANGO") as caught:
        Options.parse(raw)
    assert names in str(caught.value)


def test_bad_settings_fail_at_django_startup() -> None:
    """A wrong ``LOGTO_DJANGO`` stops ``manage.py check`` (``AppConfig.ready``), not the first request."""
    env = {**os.environ, "PYTHONPATH": str(TESTS), "DJANGO_SETTINGS_MODULE": "django_site.settings"}
    done = subprocess.run(
        [sys.executable, "-m", "django", "check"],
        cwd=TESTS,
        env={**env, "DJANGO_SITE_USERS": "rows"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "LOGTO_DJANGO['users']: must be 'lightweight' or 'database', got 'rows'" in done.stderr


def test_default_user_fields() -> None:
    """username, email and names from the claims; the name split when given/family names are absent."""
    assert default_user_fields(ALICE) == {
        "username": "alice",
        "email": "alice@example.com",
        "first_name": "Alice",
        "last_name": "Liddell",
    }
    bare = IdTokenClaims({"sub": "u1", "given_name": "Ada", "family_name": "Lovelace", "email": None})
    assert default_user_fields(bare) == {
        "username": "u1",
        "email": "",
        "first_name": "Ada",
        "last_name": "Lovelace",
    }


def test_lightweight_user_follows_the_role_rules() -> None:
    """Staff and superuser from roles; mapped permissions, none on objects, all for superusers."""
    opts = Options.parse(
        {
            "staff_roles": ["admin"],
            "permissions": {"editor": ["blog.change_post"], "viewer": ["blog.view_post"]},
        }
    )
    user = LogtoDjangoUser(ALICE, opts)
    assert (user.pk, user.username, user.get_username(), str(user)) == ("user-alice",) * 4
    assert user.is_authenticated and not user.is_anonymous and user.is_active
    assert user.is_staff and not user.is_superuser
    assert (user.email, user.get_full_name(), user.get_short_name()) == (
        "alice@example.com",
        "Alice Liddell",
        "Alice",
    )
    assert user.has_perm("blog.change_post") and not user.has_perm("blog.view_post")
    assert not user.has_perm("blog.change_post", obj=object())
    assert user.has_module_perms("blog") and not user.has_module_perms("auth")
    assert user.get_all_permissions() == {"blog.change_post"}
    assert user.claims is ALICE and user.logto_claims is ALICE
    assert not user.check_password("anything")
    with pytest.raises(NotImplementedError):
        user.save()

    boss = LogtoDjangoUser(ALICE, Options.parse({"superuser_roles": ["editor"]}))
    assert boss.is_superuser and boss.is_staff and boss.has_perm("anything.at_all", obj=object())
    nobody = LogtoDjangoUser(ALICE, Options.parse({}))
    assert not nobody.is_staff and not nobody.is_superuser and not nobody.has_perm("blog.change_post")


def test_lightweight_users_compare_by_issuer_and_sub() -> None:
    """Two users built from the same account's claims are equal (and hash alike); another issuer's are not."""
    opts = Options.parse({})
    again = IdTokenClaims({**ALICE.to_dict(), "name": "Alice L."})
    elsewhere = IdTokenClaims({**ALICE.to_dict(), "iss": "https://other.example/oidc"})
    assert LogtoDjangoUser(ALICE, opts) == LogtoDjangoUser(again, opts)
    assert len({LogtoDjangoUser(ALICE, opts), LogtoDjangoUser(again, opts)}) == 1
    assert LogtoDjangoUser(ALICE, opts) != LogtoDjangoUser(elsewhere, opts)
