"""Two harmless questions that tell whether the provider knows this app as configured.

Discovery and the JWKS say nothing of the app's own registration. ``probe_client`` asks:

- the authorization endpoint, with the sign-in request the middleware would send (the
  redirect URI built from ``base_url``, the scopes, the resources) and nothing followed:
  a provider that knows the client and the redirect URI goes on to its sign-in page; one
  that does not answers an error page (``invalid_redirect_uri``, ``invalid_client``) or
  sends the error back to the redirect URI (``invalid_scope``, ``invalid_target``);
- the token endpoint, with the app's credentials and an authorization code that does
  not exist: ``invalid_grant`` means the credentials were accepted (and only the code
  was not), ``invalid_client`` that the app ID or secret is wrong.

Neither creates a session or a token. ``python -m logto_asgi check --app`` (or
``--probe``) runs them; the middleware's startup check does not, so a deployment does
not leave failed sign-in attempts in the provider's logs.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from . import protocol
from .check import Report, redirect_uris
from .config import LogtoConfig
from .discovery import ProviderMetadata
from .errors import LogtoError
from .flows import authorization_url, new_secret, new_verifier
from .protocol import ProviderReply
from .provider import ProviderClient

__all__ = ["probe_client"]

#: OAuth error codes an error page may name (RFC 6749 4.1.2.1, RFC 8707, oidc-provider).
_ERROR_CODE = re.compile(
    r"\b(invalid_redirect_uri|invalid_client|unauthorized_client|invalid_request|invalid_scope"
    r"|invalid_target|unsupported_response_type|access_denied)\b"
)
#: A code no provider ever issued: the token endpoint can only refuse it.
_NO_SUCH_CODE = "logto-asgi-check-no-such-code"


async def probe_client(report: Report, config: LogtoConfig, client: ProviderClient) -> None:
    """Ask the authorization and token endpoints whether they know this app as configured
    (nothing when discovery fails: ``run_checks`` has said so)."""
    try:
        metadata = await client.metadata()
    except LogtoError:
        return
    if config.base_url is None:
        report.add("warning", "base_url is not set: the redirect URI could not be checked with the provider")
    else:
        await _probe_authorization(report, config, metadata)
    await _probe_token_endpoint(report, config, client, metadata)


def _error_code(body: bytes) -> str | None:
    found = _ERROR_CODE.search(body[:20_000].decode("utf-8", "replace"))
    return found.group(1) if found else None


async def _probe_authorization(report: Report, config: LogtoConfig, metadata: ProviderMetadata) -> None:
    redirect_uri = redirect_uris(config)[0]
    url = authorization_url(
        metadata,
        config,
        redirect_uri=redirect_uri,
        state=new_secret(),
        nonce=new_secret(),
        verifier=new_verifier(),
        extras={},
    )
    own = config.http_client is None
    http = config.http_client or httpx.AsyncClient(timeout=config.http_timeout)
    try:
        response = await http.get(url, follow_redirects=False)
    except httpx.HTTPError:
        report.add("error", "the provider's authorization endpoint could not be reached")
        return
    finally:
        if own:
            await http.aclose()
    _judge_authorization(report, config, redirect_uri, response)


def _judge_authorization(
    report: Report, config: LogtoConfig, redirect_uri: str, response: httpx.Response
) -> None:
    status = response.status_code
    if response.is_redirect:
        location = urljoin(str(response.url), response.headers.get("location", ""))
        if location.split("?")[0] == redirect_uri:
            query = parse_qs(urlsplit(location).query)
            if "error" in query:
                detail = query.get("error_description", [""])[0]
                report.add(
                    "error",
                    f"the provider refused the sign-in request: {query['error'][0]}"
                    + (f" ({detail})" if detail else ""),
                )
                return
        report.add("ok", f"the provider accepts app {config.app_id!r} with the redirect URI {redirect_uri}")
    elif status == 200:
        report.add("ok", f"the provider accepts app {config.app_id!r} with the redirect URI {redirect_uri}")
    elif status >= 500:
        report.add("error", f"the provider failed the sign-in request (HTTP {status})")
    else:
        code = _error_code(response.content)
        report.add(
            "error",
            f"the provider refused the sign-in request (HTTP {status}{': ' + code if code else ''}): "
            f"check that {redirect_uri} is a registered redirect URI of app {config.app_id!r}",
        )


async def _probe_token_endpoint(
    report: Report, config: LogtoConfig, client: ProviderClient, metadata: ProviderMetadata
) -> None:
    credentials = client.client.for_provider(metadata.raw.get("token_endpoint_auth_methods_supported"))
    params = protocol.code_exchange_params(
        code=_NO_SUCH_CODE, redirect_uri=redirect_uris(config)[0], verifier=new_verifier()
    )
    request = protocol.token_request(metadata.token_endpoint, credentials, params, what="token (check)")
    try:
        reply = await client.send(request)
    except LogtoError as exc:
        report.add("error", f"the token endpoint failed: {exc.description}")
        return
    _judge_token_reply(report, config, reply)


def _judge_token_reply(report: Report, config: LogtoConfig, reply: ProviderReply) -> None:
    code: object = None
    try:
        body = protocol.read_json("token", reply)
        code = body.get("error") if isinstance(body, dict) else None
    except LogtoError:
        pass
    kind = "app ID and secret" if config.app_secret is not None else "app ID (a public client)"
    if code == "invalid_grant":
        report.add("ok", f"the token endpoint accepts the {kind}")
    elif code == "invalid_client" or reply.status == 401:
        report.add(
            "error", f"the token endpoint refused the {kind} (invalid_client): check app_id and app_secret"
        )
    elif code == "unauthorized_client":
        report.add("error", "the provider does not let this app use the authorization code grant")
    elif reply.status >= 500:
        report.add("error", f"the token endpoint failed (HTTP {reply.status})")
    else:
        report.add(
            "warning",
            f"the token endpoint answered a test request with {code or f'HTTP {reply.status}'} "
            "(expected invalid_grant): the credentials could not be checked",
        )
