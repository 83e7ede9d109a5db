"""What the Litestar and Falcon error-handler tests share: the middleware's own answer
to compare with.

``beside_reference(app)`` puts a plain ASGI app next to the framework's: a request with
``x-reference: 1`` goes to code that raises the same ``LogtoError`` straight into the
middleware's boundary, any other to the framework. Same path, same query, same
``Accept``: the two answers must be byte for byte the same. (The wrapper also hides the
framework app from ``LogtoMiddleware``, so it cannot register the handler itself: only an
explicit handler helps.)
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from logto_asgi import get_context

#: A request for the reference answer.
REFERENCE = {"x-reference": "1"}
JSON = {"accept": "application/json"}
#: A scope no sign-in grants: a route that requires it answers 403.
ADMIN_SCOPE = "shopping:admin"
#: The errors' answers are never stored by a cache.
NO_STORE = "no-store"
#: Headers that differ between any two responses.
_VOLATILE = {"date", "server"}


def beside_reference(app: ASGIApp) -> ASGIApp:
    """``app``, with ``x-reference: 1`` requests raising into the boundary instead."""

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (b"x-reference", b"1") in scope["headers"]:
            get_context(scope).require_user()
            raise AssertionError("the reference is for signed-out requests")
        await app(scope, receive, send)

    return dispatch


@dataclass(frozen=True)
class Answer:
    """A response as the comparison sees it."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def answer(response: httpx.Response) -> Answer:
    headers = sorted((k.lower(), v) for k, v in response.headers.multi_items() if k.lower() not in _VOLATILE)
    return Answer(response.status_code, tuple(headers), response.content)


async def check_signed_out_401(client: httpx.AsyncClient, origin: str, accept: dict[str, str]) -> None:
    """``/me?tab=1`` signed out: the boundary's very 401 (JSON for APIs, the page for browsers)."""
    response = await client.get(f"{origin}/me?tab=1", headers=accept)
    reference = await client.get(f"{origin}/me?tab=1", headers={**accept, **REFERENCE})
    assert answer(response) == answer(reference)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["cache-control"] == NO_STORE
    if accept:
        assert response.json()["error"] == "not_authenticated"
        assert response.json()["sign_in_url"] == "/sign-in?return_to=%2Fme%3Ftab%3D1"
    else:
        assert response.headers["content-type"].startswith("text/html")
        assert 'href="/sign-in?return_to=%2Fme%3Ftab%3D1"' in response.text


async def check_signed_in_refusals(client: httpx.AsyncClient, origin: str, org_path: str) -> None:
    """Signed in: ``/me`` answers; ``/admin`` (ADMIN_SCOPE) is a 403 with its challenge; the
    organization route (``org_path`` with ``{org}``) 403 ``access_denied`` for a stranger's."""
    assert (await client.get(f"{origin}/me", headers=JSON)).json() == {"sub": "user-alice"}
    refused = await client.get(f"{origin}/admin", headers=JSON)
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"] == f'Bearer error="insufficient_scope", scope="{ADMIN_SCOPE}"'
    assert refused.json()["error"] == "insufficient_scope"
    stranger = await client.get(origin + org_path.format(org="org-initech"), headers=JSON)
    assert stranger.status_code == 403
    assert stranger.json()["error"] == "access_denied"
    assert (await client.get(origin + org_path.format(org="org-acme"), headers=JSON)).json() == {"parts": 3}
