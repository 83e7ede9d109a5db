"""The provider's HTTP protocol without I/O: requests as values, responses parsed.

Each endpoint call is a ``ProviderRequest`` built here and a parser that turns the
``ProviderReply`` into data or a domain error; ``ProviderClient`` is the one driver that
sends them (httpx's ``auth_flow`` idea: protocol logic that never touches a socket, so
every rule is unit-testable without a server).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from . import _json as strict_json
from .errors import AuthorizationError, ProviderError, ProviderUnavailable

#: A provider answer larger than this is refused before parsing.
MAX_RESPONSE_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """The client's id and (for confidential clients) its secret."""

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    #: How a confidential client authenticates (RFC 6749 2.3.1): HTTP Basic unless the
    #: provider supports only the form fields (``ProviderClient`` picks it from discovery).
    method: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic"

    def for_provider(self, supported: object) -> ClientCredentials:
        """These credentials with the method the provider's
        ``token_endpoint_auth_methods_supported`` allows (Basic when it lists it or says nothing)."""
        if (
            isinstance(supported, list)
            and "client_secret_basic" not in supported
            and "client_secret_post" in supported
        ):
            return ClientCredentials(self.client_id, self.client_secret, "client_secret_post")
        return self


@dataclass(frozen=True, slots=True)
class ProviderRequest:
    """One HTTP request to the provider; ``what`` names it in errors and logs."""

    what: str
    method: Literal["GET", "POST"]
    url: str
    form: Mapping[str, str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: HTTP Basic credentials (already form-encoded, RFC 6749 2.3.1).
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ProviderReply:
    """What the provider answered."""

    status: int
    content_type: str
    body: bytes


def _with_client(
    form: dict[str, str], client: ClientCredentials
) -> tuple[dict[str, str], tuple[str, str] | None]:
    """client_secret_basic (or _post) for confidential clients, ``client_id`` in the form
    for public ones."""
    if client.client_secret is None:
        form["client_id"] = client.client_id
        return form, None
    if client.method == "client_secret_post":
        form["client_id"], form["client_secret"] = client.client_id, client.client_secret
        return form, None
    return form, (quote(client.client_id, safe=""), quote(client.client_secret, safe=""))


def get_json(what: str, url: str) -> ProviderRequest:
    """A GET for a JSON document (discovery, JWKS)."""
    return ProviderRequest(what, "GET", url, headers={"Accept": "application/json"})


def token_request(
    token_endpoint: str, client: ClientCredentials, params: Mapping[str, str], *, what: str
) -> ProviderRequest:
    """A POST to the token endpoint with the client's authentication."""
    form, auth = _with_client(dict(params), client)
    return ProviderRequest(what, "POST", token_endpoint, form, {"Accept": "application/json"}, auth)


def code_exchange_params(*, code: str, redirect_uri: str, verifier: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }


def refresh_params(
    refresh_token: str, *, resource: str | None = None, organization_id: str | None = None
) -> dict[str, str]:
    params = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if resource:
        params["resource"] = resource
    if organization_id:
        params["organization_id"] = organization_id
    return params


def userinfo_request(userinfo_endpoint: str, access_token: str) -> ProviderRequest:
    return ProviderRequest(
        "userinfo", "GET", userinfo_endpoint, headers={"Authorization": f"Bearer {access_token}"}
    )


def introspection_request(endpoint: str, client: ClientCredentials, token: str) -> ProviderRequest:
    """RFC 7662 2.1: the token, hinted as an access token, with the API's credentials."""
    form, auth = _with_client({"token": token, "token_type_hint": "access_token"}, client)
    return ProviderRequest(
        "introspection", "POST", endpoint, form, headers={"Accept": "application/json"}, basic_auth=auth
    )


def revocation_request(
    revocation_endpoint: str, client: ClientCredentials, token: str, hint: str
) -> ProviderRequest:
    form, auth = _with_client({"token": token, "token_type_hint": hint}, client)
    return ProviderRequest("revocation", "POST", revocation_endpoint, form, basic_auth=auth)


# Parsers ---------------------------------------------------------------------------------


def _http_error(what: str, reply: ProviderReply) -> ProviderError:
    return ProviderError(f"the provider answered the {what} request with HTTP {reply.status}")


def read_json(what: str, reply: ProviderReply, *, unusable: type[ProviderError] = ProviderError) -> Any:
    """The reply's body as JSON; ``unusable`` (``ProviderError``) when too large or not JSON."""
    if len(reply.body) > MAX_RESPONSE_BYTES:
        raise unusable(f"the provider's {what} response is too large")
    try:
        return strict_json.loads(reply.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise unusable(f"the provider's {what} response is not JSON (HTTP {reply.status})") from exc


def json_object(what: str, reply: ProviderReply) -> dict[str, Any]:
    """A 200 answer whose body is a JSON object."""
    if reply.status != 200:
        raise _http_error(what, reply)
    body = read_json(what, reply)
    if not isinstance(body, dict):
        raise ProviderError(f"the provider's {what} response is not a JSON object")
    return body


def json_document(what: str, reply: ProviderReply) -> dict[str, Any]:
    """A discovery document or JWKS as a JSON object.

    An answer that is no document at all — HTTP 5xx, or a body that is not JSON (a
    maintenance page, a cut-off answer) — means the provider is down:
    ``ProviderUnavailable`` (503). Any other status (a 4xx: the wrong URL) or JSON that is
    not an object means it answered something we cannot use: ``ProviderError`` (502).
    """
    if reply.status >= 500:
        raise ProviderUnavailable(f"the provider answered the {what} request with HTTP {reply.status}")
    if reply.status != 200:
        raise _http_error(what, reply)
    body = read_json(what, reply, unusable=ProviderUnavailable)
    if not isinstance(body, dict):
        raise ProviderError(f"the provider's {what} response is not a JSON object")
    return body


def token_reply(what: str, reply: ProviderReply) -> dict[str, Any]:
    """The token endpoint's JSON object; ``AuthorizationError`` (with the provider's code)
    for a 4xx OAuth error, ``ProviderError`` for anything else unusable."""
    if 400 <= reply.status < 500:
        body = read_json(what, reply)
        code = body.get("error") if isinstance(body, dict) else None
        if not isinstance(code, str):
            raise _http_error(what, reply)
        description = body.get("error_description")
        raise AuthorizationError(
            f"the provider refused the {what}: {code}"
            + (f" ({description})" if isinstance(description, str) else ""),
            provider_error=code,
        )
    return json_object(what, reply)


def userinfo_reply(reply: ProviderReply) -> dict[str, Any] | str:
    """The userinfo claims, or the compact JWT of a signed (or encrypted) response
    (``application/jwt``, OIDC Core 5.3.2), still to be verified; ``AuthorizationError``
    when the token was refused."""
    if reply.status in (401, 403):
        raise AuthorizationError(
            f"the provider refused the access token at userinfo (HTTP {reply.status})",
            provider_error="invalid_token",
        )
    if reply.status == 200 and reply.content_type.split(";")[0].strip().lower() == "application/jwt":
        try:
            return reply.body.decode("ascii").strip()
        except UnicodeDecodeError as exc:
            raise ProviderError("the provider's signed userinfo response is not a JWT") from exc
    return json_object("userinfo", reply)
