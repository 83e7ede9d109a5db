"""A provider that is not Logto: ``discovery_url`` alone, the issuer it must name, and the
sign-in request a generic provider gets (no Logto habits)."""

from __future__ import annotations

from typing import Any

import pytest

from logto_asgi import ConfigurationError, LogtoConfig
from logto_asgi.discovery import ProviderMetadata, accepted_issuers
from logto_asgi.errors import ProviderError
from logto_asgi.flows import authorization_url

DOT = "http://127.0.0.1:9000/o/.well-known/openid-configuration"
BASE: dict[str, Any] = {"app_id": "app", "app_secret": "secret", "cookie_secret": "c" * 32}


def metadata(issuer: str, **extra: Any) -> ProviderMetadata:
    return ProviderMetadata.parse(
        {
            "issuer": issuer,
            "authorization_endpoint": "https://op.example/auth",
            "token_endpoint": "https://op.example/token",
            "jwks_uri": "https://op.example/jwks",
            **extra,
        }
    )


def sign_in_query(config: LogtoConfig, meta: ProviderMetadata) -> str:
    url = authorization_url(
        meta, config, redirect_uri="https://app/cb", state="s", nonce="n", verifier="v" * 43, extras={}
    )
    return url.split("?", 1)[1]


def test_discovery_url_alone_is_a_generic_provider() -> None:
    """No endpoint needed: the config is not Logto and expects the discovery URL's issuer."""
    config = LogtoConfig(discovery_url=DOT, **BASE)
    assert config.endpoint is None and not config.is_logto
    assert config.metadata_url == DOT
    assert config.expected_issuers == ("http://127.0.0.1:9000/o", "http://127.0.0.1:9000/o/")


def test_neither_endpoint_nor_discovery_url_is_refused() -> None:
    with pytest.raises(ConfigurationError) as info:
        LogtoConfig(**BASE)
    assert info.value.field == "endpoint" and "discovery_url" in str(info.value)


@pytest.mark.parametrize(
    ("discovery", "configured", "logto", "expected"),
    [
        # OpenID Connect Discovery 4.1: a terminating "/" of the issuer is removed first.
        (DOT, None, None, ("http://127.0.0.1:9000/o", "http://127.0.0.1:9000/o/")),
        ("http://h/.well-known/openid-configuration", None, None, ("http://h", "http://h/")),
        # A discovery URL written with a trailing slash still names its issuer.
        (DOT + "/", None, None, ("http://127.0.0.1:9000/o", "http://127.0.0.1:9000/o/")),
        # An explicit issuer is the only one accepted, exactly.
        ("https://proxy/discovery.json", "https://op.example/", None, ("https://op.example/",)),
        (DOT, "http://other/", None, ("http://other/",)),
        # Logto: {endpoint}/oidc exactly, without a trailing-slash variant.
        (None, None, "https://t.logto.app/oidc", ("https://t.logto.app/oidc",)),
        ("https://proxy/discovery.json", None, "https://t.logto.app/oidc", ("https://t.logto.app/oidc",)),
        ("https://proxy/discovery.json", None, None, ()),
    ],
)
def test_accepted_issuers(
    discovery: str | None, configured: str | None, logto: str | None, expected: tuple[str, ...]
) -> None:
    assert accepted_issuers(discovery, configured=configured, logto=logto) == expected


def test_a_discovery_url_that_names_no_issuer_needs_issuer() -> None:
    """It used to skip the issuer check silently; now the configuration is refused."""
    with pytest.raises(ConfigurationError) as info:
        LogtoConfig(discovery_url="https://proxy.example/oidc.json", **BASE)
    assert info.value.field == "issuer"
    config = LogtoConfig(discovery_url="https://proxy.example/oidc.json", issuer="https://op.example", **BASE)
    assert config.expected_issuers == ("https://op.example",)


@pytest.mark.parametrize("issuer", ["op.example", "https://op.example/?x=1", "https://op.example/#f"])
def test_a_bad_issuer_is_refused(issuer: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        LogtoConfig(discovery_url=DOT, issuer=issuer, **BASE)
    assert info.value.field == "issuer"


@pytest.mark.parametrize(
    "issuer",
    [
        "http://127.0.0.1:9000/o//",
        "http://127.0.0.1:9000/o/x",
        "http://127.0.0.1:9000/",
        "http://127.0.0.1:9000",
        "https://127.0.0.1:9000/o/",
        "http://127.0.0.1:9000/O/",
    ],
)
def test_the_issuer_check_is_exact_but_for_one_slash(issuer: str) -> None:
    accepted = LogtoConfig(discovery_url=DOT, **BASE).expected_issuers
    with pytest.raises(ProviderError, match="not the expected"):
        metadata(issuer).check_issuer(accepted)
    assert metadata("http://127.0.0.1:9000/o/").check_issuer(accepted).issuer == "http://127.0.0.1:9000/o/"
    assert metadata("http://127.0.0.1:9000/o").check_issuer(accepted).issuer == "http://127.0.0.1:9000/o"


def test_logto_keeps_its_habits() -> None:
    """A Logto endpoint: offline_access always, prompt=consent (Logto issues refresh tokens so)."""
    config = LogtoConfig(endpoint="https://t.logto.app", **BASE)
    query = sign_in_query(config, metadata("https://t.logto.app/oidc"))
    assert "scope=openid+profile+offline_access" in query
    assert "prompt=consent" in query


def test_generic_provider_gets_standard_behaviour() -> None:
    """No forced consent; offline_access only where scopes_supported lists it."""
    config = LogtoConfig(discovery_url=DOT, **BASE)
    without = sign_in_query(
        config, metadata("http://127.0.0.1:9000/o/", scopes_supported=["openid", "profile"])
    )
    assert "scope=openid+profile&" in without and "offline_access" not in without
    assert "prompt" not in without
    unlisted = sign_in_query(config, metadata("http://127.0.0.1:9000/o/"))
    assert "offline_access" not in unlisted
    listed = sign_in_query(
        config, metadata("http://127.0.0.1:9000/o/", scopes_supported=["openid", "offline_access"])
    )
    assert "scope=openid+profile+offline_access&" in listed


def test_generic_provider_gets_offline_access_when_asked() -> None:
    config = LogtoConfig(discovery_url=DOT, scopes=["email", "offline_access"], **BASE)
    query = sign_in_query(config, metadata("http://127.0.0.1:9000/o/", scopes_supported=["openid"]))
    assert "scope=openid+profile+email+offline_access&" in query


@pytest.mark.parametrize(
    ("endpoint", "prompt", "sent"),
    [
        ("https://t.logto.app", None, "consent"),
        ("https://t.logto.app", "", None),
        ("https://t.logto.app", "login", "login"),
        (None, None, None),
        (None, "consent", "consent"),
        (None, "", None),
    ],
)
def test_prompt(endpoint: str | None, prompt: str | None, sent: str | None) -> None:
    options: dict[str, Any] = {"endpoint": endpoint} if endpoint else {"discovery_url": DOT}
    config = LogtoConfig(prompt=prompt, **options, **BASE)
    assert config.sign_in_prompt == sent
    query = sign_in_query(config, metadata(config.expected_issuers[0]))
    assert (f"prompt={sent}" in query) if sent else ("prompt" not in query)


def test_from_env_reads_the_discovery_url() -> None:
    env = {"LOGTO_DISCOVERY_URL": DOT, "LOGTO_APP_ID": "app", "LOGTO_COOKIE_SECRET": "c" * 32}
    config = LogtoConfig.from_env(env)
    assert (config.endpoint, config.discovery_url) == (None, DOT)
    with pytest.raises(ConfigurationError, match="LOGTO_DISCOVERY_URL"):
        LogtoConfig.from_env({"LOGTO_APP_ID": "app", "LOGTO_COOKIE_SECRET": "c" * 32})


def test_frontchannel_path_is_checked_and_distinct() -> None:
    with pytest.raises(ConfigurationError) as info:
        LogtoConfig(discovery_url=DOT, frontchannel_logout_path="fcl", **BASE)
    assert info.value.field == "frontchannel_logout_path"
    with pytest.raises(ConfigurationError):
        LogtoConfig(discovery_url=DOT, frontchannel_logout_path="/callback", **BASE)
    assert LogtoConfig(discovery_url=DOT, frontchannel_logout_path="/fcl", **BASE).frontchannel_logout_path
