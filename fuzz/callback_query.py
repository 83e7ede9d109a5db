"""The callback's query string, through ``LogtoMiddleware``'s callback route.

Input: the raw query string of ``GET /callback``; the request carries a genuine
transaction cookie for ``STATE``, so a query naming it (and the code the mock provider
accepts, ``good.<nonce>``) goes all the way: issuer check, provider errors, the
transaction, the code exchange, the ID token, the new session.

Allowed outcomes: a redirect to the attempt's ``return_to`` (or the post-sign-in page), or
an error page below 500, with clean headers. The route answers every ``LogtoError``
itself, so any exception is a crash.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from logto_asgi.messages import SIGN_IN_CANCELLED, with_notice
from logto_asgi.sessions import MemoryStore
from logto_asgi.sessions._ops import StoreOps
from logto_asgi.transaction import Transaction, TransactionCookies

from ._fixtures import ISSUER, NONCE, NOW, ORIGIN, STATE, cookie_header, logto_middleware, set_cookies
from ._harness import HarnessError, Target, http_scope, request

RETURN_TO = "/after"


def _seeds() -> list[bytes]:
    good = {"state": STATE, "code": f"good.{NONCE}"}
    queries = [
        urlencode(good),
        urlencode({**good, "iss": ISSUER}),
        urlencode({**good, "iss": "https://evil.example/oidc"}),
        urlencode({"code": f"good.{NONCE}"}),
        urlencode({"state": STATE}),
        urlencode({"state": STATE, "code": "x" * 2049}),
        urlencode({"state": STATE, "code": "bad"}),
        urlencode({"state": STATE, "error": "access_denied", "error_description": "The user said no"}),
        urlencode({"state": STATE, "error": "x" * 100, "error_description": "<script>" * 100}),
        urlencode({"state": "otherState_0123456789abcdef", "code": "good.x"}),
        f"state={STATE}&state=x&code=good.{NONCE}&code=y",
        f"state={quote(STATE)}%00&code=good.{NONCE}",
        "&".join(f"p{i}=v" for i in range(70)),
        "state=&code=&error=",
        "%ff%fe=%c3%28&;&&==",
        "",
    ]
    return [q.encode("latin-1") for q in queries]


def build() -> Target:
    middleware = logto_middleware()
    core = middleware.core
    tx = Transaction(STATE, NONCE, "v" * 86, RETURN_TO, f"{ORIGIN}/callback", int(NOW))
    transactions = TransactionCookies("logto", core.transactions, core.jar, samesite="lax", max_pending=5)
    cookie = cookie_header(set_cookies(transactions.begin(tx, {}, secure=True))).encode("latin-1")
    # A cancellation goes back to return_to with the notice key (routes.GoBack).
    cancelled = with_notice(RETURN_TO, SIGN_IN_CANCELLED)
    allowed_locations = {RETURN_TO, cancelled, core.config.post_sign_in_redirect}

    def test_one_input(data: bytes) -> None:
        # A fresh coordination store per input: each callback is the first of its state,
        # so every input behaves the same however often it runs.
        core.shared = StoreOps(MemoryStore())
        answer = request(middleware, http_scope("/callback", query=data, headers=[(b"cookie", cookie)]))
        if answer.status >= 500:
            raise HarnessError(f"the callback answered HTTP {answer.status}: {answer.body[:300]!r}")
        if 300 <= answer.status < 400 and answer.header(b"location") not in allowed_locations:
            raise HarnessError(f"the callback redirected to {answer.header(b'location')!r}")

    return Target("callback_query", test_one_input, _seeds, None, 8192)
