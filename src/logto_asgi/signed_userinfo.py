"""Signed userinfo responses (OpenID Connect Core 5.3.2): ``application/jwt``.

A client registered with ``userinfo_signed_response_alg`` gets its userinfo claims as a
JWT signed with the provider's keys. It is verified like any other token of the provider
(the same algorithm allowlist and key choice); ``iss`` and ``aud``, which the response
SHOULD carry, must be the provider and this client when present. An encrypted response
(a JWE, five parts) cannot be read: this client has no decryption key.
"""

from __future__ import annotations

from typing import Any

from .errors import ProviderError, TokenValidationError
from .tokens import KeySource, audiences, check_issuer, verify_signature

__all__ = ["verify_signed_userinfo"]


async def verify_signed_userinfo(
    token: str, provider: KeySource, *, issuer: str, client_id: str
) -> dict[str, Any]:
    """The claims of a signed userinfo response; ``TokenValidationError`` when it fails
    a check, ``ProviderError`` when it is encrypted."""
    if token.count(".") == 4:
        raise ProviderError(
            "the userinfo response is encrypted (JWE), which logto-asgi does not decrypt: "
            "register the client without userinfo_encrypted_response_alg"
        )
    claims = await verify_signature(token, provider)
    if "iss" in claims:
        check_issuer(claims, issuer)
    if "aud" in claims and client_id not in audiences(claims):
        raise TokenValidationError("the signed userinfo response is for another client", check="aud")
    return claims
