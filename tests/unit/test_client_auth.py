"""How the client authenticates at the token and revocation endpoints (RFC 6749 2.3.1)."""

from __future__ import annotations

import pytest

from logto_asgi.protocol import ClientCredentials, introspection_request, revocation_request, token_request

SECRET = ClientCredentials("app id", "s3cr:t")


@pytest.mark.parametrize(
    ("supported", "method"),
    [
        (None, "client_secret_basic"),
        (["client_secret_basic", "client_secret_post"], "client_secret_basic"),
        (["client_secret_post", "private_key_jwt"], "client_secret_post"),
        (["private_key_jwt"], "client_secret_basic"),
        ("client_secret_post", "client_secret_basic"),
    ],
)
def test_the_method_follows_discovery(supported: object, method: str) -> None:
    assert SECRET.for_provider(supported).method == method


def test_basic_sends_form_encoded_credentials_in_the_header() -> None:
    request = token_request("https://op/token", SECRET, {"grant_type": "x"}, what="t")
    assert request.basic_auth == ("app%20id", "s3cr%3At")
    assert request.form == {"grant_type": "x"}


def test_post_sends_the_credentials_in_the_form_only() -> None:
    post = SECRET.for_provider(["client_secret_post"])
    for request in (
        token_request("https://op/token", post, {"grant_type": "x"}, what="t"),
        revocation_request("https://op/revoke", post, "tok", "refresh_token"),
    ):
        assert request.basic_auth is None
        assert request.form is not None
        assert (request.form["client_id"], request.form["client_secret"]) == ("app id", "s3cr:t")


def test_public_clients_send_only_their_id() -> None:
    public = ClientCredentials("app").for_provider(["client_secret_post"])
    request = introspection_request("https://op/introspect", public, "tok")
    assert request.basic_auth is None and request.form == {
        "token": "tok",
        "token_type_hint": "access_token",
        "client_id": "app",
    }


def test_the_secret_is_not_in_repr() -> None:
    assert "s3cr" not in repr(SECRET.for_provider(["client_secret_post"]))
