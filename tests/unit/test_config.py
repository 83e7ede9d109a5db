"""Configuration is validated at construction and errors name the field."""

from __future__ import annotations

from typing import Any

import pytest

from logto_asgi import ConfigurationError, LogtoConfig, MemoryStore, UserInfoScope

GOOD: dict[str, Any] = {
    "endpoint": "https://tenant.logto.app",
    "app_id": "app",
    "app_secret": "secret",
    "cookie_secret": "c" * 32,
}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"cookie_secret": "short"}, "cookie_secret"),
        ({"cookie_secret": []}, "cookie_secret"),
        ({"cookie_secret": ["c" * 32, "short"]}, "cookie_secret"),
        ({"endpoint": "tenant.logto.app"}, "endpoint"),
        ({"endpoint": "ftp://tenant.logto.app"}, "endpoint"),
        ({"endpoint": "https://tenant.logto.app/?x=1"}, "endpoint"),
        ({"base_url": "localhost:3000"}, "base_url"),
        ({"base_url": "https://shop.example.com/app"}, "base_url"),
        ({"cookie_samesite": "sideways"}, "cookie_samesite"),
        ({"cookie_samesite": "none", "cookie_secure": False}, "cookie_secure"),
        ({"app_id": ""}, "app_id"),
        ({"sign_in_path": "sign-in"}, "sign_in_path"),
        ({"callback_path": "//evil"}, "callback_path"),
        ({"sign_out_path": "/sign-in"}, "sign_in_path"),
        ({"session_idle_timeout": 0}, "session_idle_timeout"),
        ({"session_idle_timeout": 10, "session_max_age": 5}, "session_idle_timeout"),
        ({"scopes": "email"}, "scopes"),
        ({"resources": ["has space"]}, "resources"),
        ({"backchannel_logout_path": "/bcl"}, "backchannel_logout_path"),
        ({"extra_sign_in_params": {"state": "x"}}, "extra_sign_in_params"),
        ({"post_sign_in_redirect": "evil.example"}, "post_sign_in_redirect"),
        ({"cookie_name": "bad name;"}, "cookie_name"),
        ({"store": object()}, "store"),
    ],
)
def test_bad_option_names_its_field(changes: dict[str, Any], field: str) -> None:
    """Each bad option raises ConfigurationError whose field and message name it."""
    with pytest.raises(ConfigurationError) as info:
        LogtoConfig(**{**GOOD, **changes})
    assert info.value.field == field
    assert field in str(info.value)


def test_secrets_are_hidden_from_repr() -> None:
    """Neither the app secret nor the cookie secret shows in repr."""
    text = repr(LogtoConfig(**GOOD))
    assert "secret" not in text.replace("app_secret", "").replace("cookie_secret", "") or "c" * 32 not in text
    assert "c" * 32 not in text and "'secret'" not in text


def test_scopes_defaults_and_organizations_resource() -> None:
    """Defaults come first once; organizations adds its reserved resource; enums become strings."""
    config = LogtoConfig(**GOOD, scopes=[UserInfoScope.email, "openid", UserInfoScope.organizations])
    assert config.all_scopes == (
        "openid",
        "profile",
        "offline_access",
        "email",
        "urn:logto:scope:organizations",
    )
    assert config.all_resources == ("urn:logto:resource:organizations",)
    assert all(type(s) is str for s in config.scopes)


def test_backchannel_with_server_store_is_accepted() -> None:
    """Back-channel logout is allowed once sessions live server-side."""
    config = LogtoConfig(**GOOD, store=MemoryStore(), backchannel_logout_path="/bcl")
    assert config.backchannel_logout_path == "/bcl"


def test_from_env_reads_variables_and_overrides() -> None:
    """from_env reads LOGTO_* variables; keyword arguments win."""
    env = {
        "LOGTO_ENDPOINT": "https://t.logto.app",
        "LOGTO_APP_ID": "id",
        "LOGTO_APP_SECRET": "sec",
        "LOGTO_COOKIE_SECRET": "k" * 32,
        "LOGTO_BASE_URL": "http://localhost:3000",
    }
    config = LogtoConfig.from_env(env, app_id="other")
    assert (config.endpoint, config.app_id, config.app_secret, config.base_url) == (
        "https://t.logto.app",
        "other",
        "sec",
        "http://localhost:3000",
    )
    with pytest.raises(ConfigurationError) as info:
        LogtoConfig.from_env({})
    assert "LOGTO_ENDPOINT" in str(info.value)


def test_empty_secret_means_public_client() -> None:
    """app_secret='' (an unset variable) is a public client, not a literal empty secret."""
    config = LogtoConfig(**{**GOOD, "app_secret": ""})
    assert config.app_secret is None and config.is_public_client


@pytest.mark.parametrize("field", ["post_sign_in_redirect", "post_sign_out_redirect"])
@pytest.mark.parametrize(
    "value",
    [
        "//evil.example",
        "/\\evil.example",
        "/\t/evil.example",
        "/%2F/evil.example",
        "https://evil.example/",
        "https://app.example.com.evil.example/",
        "https://user@app.example.com/",
        "http://app.example.com/",
        "https://app.example.com:8443/",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_configured_redirects_follow_the_return_to_rules(field: str, value: str) -> None:
    """Off-site configured redirects are refused at construction, naming the field
    (security review, finding 8)."""
    with pytest.raises(ConfigurationError) as raised:
        LogtoConfig(**{**GOOD, "base_url": "https://app.example.com", field: value})
    assert raised.value.field == field


@pytest.mark.parametrize("field", ["post_sign_in_redirect", "post_sign_out_redirect"])
@pytest.mark.parametrize(
    "value", ["/", "/home?tab=1", "https://app.example.com/bye", "https://APP.example.com"]
)
def test_same_origin_redirects_are_accepted(field: str, value: str) -> None:
    """Same-origin paths, and absolute URLs on base_url's origin, are fine."""
    config = LogtoConfig(**{**GOOD, "base_url": "https://app.example.com", field: value})
    assert getattr(config, field) == value


def test_base_url_may_end_with_a_slash() -> None:
    """An origin with a trailing slash is the origin (the slash is dropped), not a path."""
    assert (
        LogtoConfig(**{**GOOD, "base_url": "https://shop.example.com/"}).base_url
        == "https://shop.example.com"
    )


def test_an_absolute_redirect_needs_base_url() -> None:
    """Without base_url there is no origin to compare with: an absolute URL is refused."""
    with pytest.raises(ConfigurationError, match="base_url"):
        LogtoConfig(**{**GOOD, "post_sign_out_redirect": "https://app.example.com/"})


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"cookie_name": "__Host-logto", "cookie_domain": "example.com"}, "cookie_domain"),
        ({"cookie_name": "__Host-logto", "cookie_secure": False}, "cookie_secure"),
        ({"cookie_name": "__Host-logto", "cookie_path": "/app"}, "cookie_path"),
        ({"cookie_name": "__Secure-logto", "cookie_secure": False}, "cookie_secure"),
        ({"cookie_name": "__Host-logto", "base_url": "http://app.example.com"}, "base_url"),
        ({"cookie_name": "__Secure-logto", "base_url": "http://app.example.com"}, "base_url"),
    ],
)
def test_cookie_prefix_rules_are_enforced(changes: dict[str, Any], field: str) -> None:
    """Settings with which browsers would drop a prefixed cookie (a silent sign-in loop)
    are refused, naming the field."""
    with pytest.raises(ConfigurationError) as raised:
        LogtoConfig(**{**GOOD, **changes})
    assert raised.value.field == field


@pytest.mark.parametrize(
    "changes",
    [
        {"cookie_name": "__Host-logto", "base_url": "https://app.example.com"},
        {"cookie_name": "__Host-logto"},
        {"cookie_name": "__Host-logto", "base_url": "http://localhost:3000"},
        {"cookie_name": "__Secure-logto", "cookie_domain": "example.com", "cookie_path": "/app"},
    ],
)
def test_prefixed_cookie_names_force_secure(changes: dict[str, Any]) -> None:
    """A valid prefixed name makes every cookie Secure, even on a request over http."""
    assert LogtoConfig(**{**GOOD, **changes}).cookie_secure is True


def test_unprefixed_names_keep_automatic_secure() -> None:
    """The default name keeps cookie_secure=None (Secure on https requests)."""
    assert LogtoConfig(**GOOD).cookie_secure is None
