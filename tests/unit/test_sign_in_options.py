"""The allowlist of per-request sign-in options, the prompt merge, and ``auth_time``."""

from __future__ import annotations

import pytest

from logto_asgi.errors import TokenValidationError
from logto_asgi.sign_in_options import merge_prompts, sign_in_extras
from logto_asgi.tokens import check_auth_time


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("login", True),
        ("consent", True),
        ("select_account", True),
        ("create", True),
        ("none", True),
        ("login consent", True),
        ("none login", False),
        ("login login", False),
        ("login  consent", False),
        ("", False),
        ("sometimes", False),
        ("login\\nx", False),
    ],
)
def test_prompt(value: str, kept: bool) -> None:
    assert (sign_in_extras({"prompt": value}) == {"prompt": value}) is kept


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("0", True),
        ("300", True),
        ("315360000", True),
        ("315360001", False),
        ("-1", False),
        ("1.5", False),
        ("٣", False),  # a non-ASCII digit
        ("99999999999", False),
        (" 30", False),
        ("0000000300", True),  # ten characters: the longest accepted
        ("00000000300", False),
    ],
)
def test_max_age(value: str, kept: bool) -> None:
    assert (sign_in_extras({"max_age": value}) == {"max_age": value}) is kept


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("fr", True),
        ("fr-CA en", True),
        ("zh-Hant-TW", True),
        (" ".join(["en"] * 10), True),  # ten tags: the most accepted
        (" ".join(["en"] * 11), False),
        ("fr_CA", False),
        ("en<script>", False),
        ("", False),
        ("toolongtag", False),
    ],
)
def test_ui_locales(value: str, kept: bool) -> None:
    assert (sign_in_extras({"ui_locales": value.strip() if value.endswith(" ") else value}) != {}) is kept


def test_unknown_options_are_dropped() -> None:
    assert sign_in_extras({"client_id": "x", "redirect_uri": "https://evil", "scope": "admin"}) == {}


@pytest.mark.parametrize(
    ("configured", "requested", "sent"),
    [
        ("consent", None, "consent"),
        ("consent", "login", "consent login"),
        ("consent", "consent", "consent"),
        ("consent", "none", "none"),
        (None, "none", "none"),
        (None, None, None),
        (None, "select_account", "select_account"),
    ],
)
def test_merge_prompts(configured: str | None, requested: str | None, sent: str | None) -> None:
    assert merge_prompts(configured, requested) == sent


NOW = 1_800_000_000


@pytest.mark.parametrize(
    ("auth_time", "ok"),
    [(NOW - 300, True), (NOW - 360, True), (NOW - 361, False), (NOW + 60, True), (NOW + 61, False)],
)
def test_auth_time_bounds(auth_time: int, ok: bool) -> None:
    claims = {"auth_time": auth_time}
    if ok:
        check_auth_time(claims, max_age=300, now=NOW, leeway=60)
    else:
        with pytest.raises(TokenValidationError) as info:
            check_auth_time(claims, max_age=300, now=NOW, leeway=60)
        assert info.value.check == "auth_time"


@pytest.mark.parametrize("claims", [{}, {"auth_time": "recently"}, {"auth_time": True}, {"auth_time": None}])
def test_auth_time_is_required_when_max_age_was_sent(claims: dict[str, object]) -> None:
    with pytest.raises(TokenValidationError) as info:
        check_auth_time(claims, max_age=300, now=NOW, leeway=60)
    assert info.value.check == "auth_time"


@pytest.mark.parametrize(
    ("value", "kept"),
    [("a" * 256, True), ("a" * 257, False), ("alice@example.com", True), ("a\nb", False), ("\x00", False)],
)
def test_login_hint(value: str, kept: bool) -> None:
    assert (sign_in_extras({"login_hint": value}) == {"login_hint": value}) is kept


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("social:github", True),
        ("sso:acme-corp", True),
        ("social:github/../admin", False),
        ("social:", False),
        ("other:github", False),
        ("social:github\n", False),
    ],
)
def test_direct_sign_in(value: str, kept: bool) -> None:
    assert (sign_in_extras({"direct_sign_in": value}) == {"direct_sign_in": value}) is kept
