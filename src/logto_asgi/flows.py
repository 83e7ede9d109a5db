"""The browser side of the flows, without I/O: the authorization and end-session URLs,
the sign-in options a request may forward, ``return_to``, PKCE, and the parsed token
response. (The back-channel requests are in ``protocol``.)
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from .config import LogtoConfig
from .discovery import ProviderMetadata
from .errors import ProviderError
from .sign_in_options import merge_prompts


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_secret() -> str:
    """A fresh random value for state and nonce (256 bits)."""
    return secrets.token_urlsafe(32)


def new_verifier() -> str:
    """A PKCE code verifier (RFC 7636: 43 to 128 characters; 86 here)."""
    return secrets.token_urlsafe(64)


def authorization_url(
    metadata: ProviderMetadata,
    config: LogtoConfig,
    *,
    redirect_uri: str,
    state: str,
    nonce: str,
    verifier: str,
    extras: Mapping[str, str],
) -> str:
    params: list[tuple[str, str]] = [
        ("client_id", config.app_id),
        ("redirect_uri", redirect_uri),
        ("response_type", "code"),
        ("scope", " ".join(config.sign_in_scopes(metadata.raw.get("scopes_supported")))),
        ("state", state),
        ("nonce", nonce),
        ("code_challenge", pkce_challenge(verifier)),
        ("code_challenge_method", "S256"),
    ]
    prompt = merge_prompts(config.sign_in_prompt, extras.get("prompt"))
    if prompt:
        params.append(("prompt", prompt))
    params.extend(("resource", resource) for resource in config.all_resources)
    params.extend(config.extra_sign_in_params.items())
    params.extend((name, value) for name, value in extras.items() if name != "prompt")
    separator = "&" if "?" in metadata.authorization_endpoint else "?"
    return f"{metadata.authorization_endpoint}{separator}{urlencode(params)}"


def end_session_url(
    metadata: ProviderMetadata,
    *,
    client_id: str,
    id_token: str | None,
    post_logout_redirect_uri: str,
) -> str | None:
    if not metadata.end_session_endpoint:
        return None
    params = {"client_id": client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
    if id_token:
        params["id_token_hint"] = id_token
    separator = "&" if "?" in metadata.end_session_endpoint else "?"
    return f"{metadata.end_session_endpoint}{separator}{urlencode(params)}"


@dataclass(frozen=True, slots=True)
class TokenResponse:
    """A successful token endpoint answer."""

    access_token: str
    expires_at: float
    scope: str | None
    id_token: str | None
    refresh_token: str | None


def parse_token_response(body: Mapping[str, Any], *, now: float) -> TokenResponse:
    access_token = body.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise ProviderError("the token response has no access_token")
    token_type = body.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() not in ("bearer", "dpop"):
        raise ProviderError("the token response has an unknown token_type")
    expires_in = body.get("expires_in", 3600)
    # (bounded: a session holding now + 1e300 could not be read back)
    if (
        isinstance(expires_in, bool)
        or not isinstance(expires_in, (int, float))
        or not 0 <= expires_in <= 10**9
    ):
        raise ProviderError("the token response has an invalid expires_in")

    def optional(name: str) -> str | None:
        value = body.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise ProviderError(f"the token response's {name} is not a string")
        return value

    return TokenResponse(
        access_token=access_token,
        expires_at=now + float(expires_in),
        scope=optional("scope"),
        id_token=optional("id_token"),
        refresh_token=optional("refresh_token"),
    )
