"""The ``Authorization`` header, through ``BearerAuthMiddleware``'s authenticator.

Input: one ``Authorization`` header value per line (several lines: several headers). The
authenticator parses the scheme and the token, validates it against the provider's JWKS
(signature, ``iss``, ``aud`` — the API or any organization — ``exp``, ``nbf``) and writes
the identity into the scope; a handler then reads its scopes and asks for the API's.

Allowed outcomes: no token (anonymous), a valid token's identity, or
``BearerTokenRejected`` (401) raised for a ``TokenValidationError``; ``granted_scopes``
may raise ``AccessDenied``. The authenticator turns *any* exception from the validator
into a 401 as a safety net; here that net counts as a crash, since it means a parser
failed in a way no check expects.

The mutator re-signs the token it mutates with the provider's keys (see ``fuzz.jwt``).
"""

from __future__ import annotations

import random
from typing import Any

from logto_asgi.boundary import BearerTokenRejected
from logto_asgi.errors import AccessDenied, TokenValidationError

from . import _mutate
from ._fixtures import API, ED25519, access_claims, bearer_middleware, jwt
from ._harness import HarnessError, Target, complete, http_scope
from .jwt import ORGANIZATION, mutate_token, token_seeds


def _seeds() -> list[bytes]:
    good = jwt(access_claims(), typ="at+jwt")
    values = [
        f"Bearer {good}",
        f"bearer   {good}  ",
        f"BEARER\t{good}",
        f"Bearer {jwt(access_claims(aud=ORGANIZATION, organization_id='org-1'), ED25519, typ='at+jwt')}",
        f"Bearer {jwt(access_claims(aud=[API, 'other'], scope='a b  c'), typ='application/AT+JWT')}",
        f"Bearer {jwt(access_claims())}",  # typ JWT: refused
        f"Bearer {good}\nBearer {good}",
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer ",
        *(f"Bearer {token}" for token in token_seeds()),
    ]
    return [v.encode("latin-1") for v in values]


def build() -> Target:
    authenticator = bearer_middleware().authenticator

    def test_one_input(data: bytes) -> None:
        headers = [(b"authorization", line) for line in data.split(b"\n")] if data else []
        scope = http_scope("/api", headers=headers)
        try:
            found = authenticator.authenticate(scope)
            if found is not None:
                complete(found)
        except BearerTokenRejected as exc:
            cause = exc.__cause__
            if cause is not None and not isinstance(cause, TokenValidationError):
                raise HarnessError("only the bearer safety net caught this") from cause
            return
        context: Any = scope["state"]["logto"]
        if context.is_authenticated:
            context.scopes, context.organization_id, scope["user"].display_name
            for resource in (None, API):
                try:
                    complete(context.granted_scopes(resource))
                except AccessDenied:
                    pass

    def mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        line, sep, rest = data.partition(b"\n")
        scheme, space, token = line.decode("latin-1").partition(" ")
        if not token or rng.random() < 0.3:
            return _mutate.raw(data, max_size)
        mutated = mutate_token(token.strip(), rng, max_size).encode("utf-8", "surrogateescape")
        return (f"{scheme}{space}".encode("latin-1") + mutated + sep + rest)[:max_size]

    return Target("authorization", test_one_input, _seeds, mutator, 16384)
