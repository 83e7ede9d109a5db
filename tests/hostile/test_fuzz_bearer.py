"""Properties of ``BearerAuthMiddleware`` at the ASGI surface.

Arbitrary ``Authorization`` headers — garbage, other schemes, several headers, and
mutations of a real access token (truncated, one character changed, segments swapped or
dropped, claims re-signed wrongly) — never give a 500, and authenticate a request only
when the token's header and claims are exactly the genuine token's.
"""

from __future__ import annotations

import json
import time

import anyio
import httpx
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hostile.inprocess import (
    API,
    ENDPOINT,
    SIGNER,
    access_token,
    assert_clean_headers,
    build_app,
    call,
    mock_provider,
)
from logto_asgi import BearerAuthMiddleware
from support.tokens import b64, flip_signature_bit, hs256_with_public_key, id_claims, unsigned

FUZZ = settings(max_examples=150, deadline=None)
GOOD = access_token()
GOOD_CONTENT = GOOD.rsplit(".", 1)[0]
BASE = {"aud": API, "scope": "read write", "nonce": None, "name": None}
WRONG = [
    flip_signature_bit(GOOD),
    unsigned(id_claims(**BASE)),
    hs256_with_public_key(id_claims(**BASE), SIGNER.jwk()),
    access_token(aud="https://another.api"),
    access_token(iss="https://evil.example/oidc"),
    access_token(exp=int(time.time()) - 3600),
    access_token(nbf=int(time.time()) + 3600),
    access_token(aud=None),
    # ES256 named in the header of an ES384 key's token.
    b64(json.dumps({"alg": "ES256", "kid": SIGNER.kid}).encode()) + GOOD[GOOD.index(".") :],
]


def mutations(token: str) -> st.SearchStrategy[str]:
    head, payload, signature = token.split(".")
    return st.one_of(
        st.just(token),
        st.integers(0, len(token) - 1).map(lambda i: token[:i]),
        st.integers(0, len(token) - 1).map(
            lambda i: token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
        ),
        st.permutations([head, payload, signature]).map(".".join),
        st.just(f"{head}.{payload}."),
        st.just(f"{head}.{payload}"),
        st.just(f"{token}.{signature}"),
        st.just(token + "=="),
        st.sampled_from(WRONG),
    )


TOKENS = st.one_of(mutations(GOOD), st.text(max_size=80))
SCHEMES = st.sampled_from(["Bearer", "bearer", "BEARER", "Bearer\t", "Basic", "Token", "", "Bearer:"])
AUTHORIZATION = st.one_of(
    st.tuples(SCHEMES, st.sampled_from([" ", "  ", "\t", ""]), TOKENS).map(
        lambda t: "".join(t).encode("utf-8")
    ),
    st.binary(max_size=300),
)


def bearer_app() -> BearerAuthMiddleware:
    client = httpx.AsyncClient(transport=httpx.MockTransport(mock_provider))
    return BearerAuthMiddleware(build_app(), endpoint=ENDPOINT, audience=API, http_client=client)


def whoami(headers: list[bytes]) -> tuple[int, dict[str, object] | None, str | None]:
    async def run() -> tuple[int, dict[str, object] | None, str | None]:
        answer = await call(bearer_app(), "/me", headers=[(b"authorization", h) for h in headers])
        assert_clean_headers(answer)
        body = json.loads(answer.body) if answer.status == 200 else None
        return answer.status, body, answer.header(b"www-authenticate")

    return anyio.run(run)


def test_genuine_token_authenticates() -> None:
    """Control: the genuine access token authenticates the request."""
    assert whoami([f"Bearer {GOOD}".encode()]) == (200, {"sub": "user-1"}, None)


@FUZZ
@given(headers=st.lists(AUTHORIZATION, min_size=1, max_size=2))
@example(headers=[f"Bearer {GOOD}".encode(), f"Bearer {GOOD}".encode()])
@example(headers=[f"Bearer {GOOD}\r\nX-Evil: 1".encode()])
def test_arbitrary_authorization_headers(headers: list[bytes]) -> None:
    """Any Authorization header(s): never a 500; authenticated only by the genuine token's content."""
    status, body, challenge = whoami(headers)
    assert status in (200, 401)
    if status == 401:
        assert challenge == 'Bearer error="invalid_token"'
    elif body is not None and body["sub"] is not None:
        assert len(headers) == 1
        token = headers[0].decode("latin-1").split(None, 1)[1].strip()
        assert token.rsplit(".", 1)[0] == GOOD_CONTENT
