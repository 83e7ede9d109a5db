"""Coverage-guided fuzzing (atheris) of what logto-asgi parses from the outside world.

One module per target; each has ``build() -> Target``: the real object the request path
uses (a ``LogtoMiddleware``, its transaction cookies, a ``BearerAuthMiddleware``, the
provider-reply parsers) against an in-process provider, and a ``test_one_input`` whose
only allowed outcomes are a normal return or the exceptions the code documents for that
input. Anything else is a crash. ``python -m fuzz NAME`` runs one target under libFuzzer;
``tools/fuzz.py`` (``make fuzz``) runs them all and prints the table; docs/fuzzing.md.

Nothing here imports ``logto_asgi`` at import time: ``python -m fuzz`` imports the target
inside atheris's instrumentation, so the package is instrumented for coverage.
"""

from __future__ import annotations

#: Target name -> module, in the runner's order.
TARGETS: dict[str, str] = {
    "session_cookie": "fuzz.session_cookie",
    "transaction_cookie": "fuzz.transaction_cookie",
    "callback_query": "fuzz.callback_query",
    "return_to": "fuzz.return_to",
    "jwt": "fuzz.jwt",
    "jwks": "fuzz.jwks",
    "provider_reply": "fuzz.provider_reply",
    "authorization": "fuzz.authorization",
}

#: Never run by default: crashes on purpose, so a test can prove the runner reports it.
SELF_TESTS: dict[str, str] = {
    "selftest_crash": "fuzz.selftest_crash",
}

ALL_TARGETS: dict[str, str] = {**TARGETS, **SELF_TESTS}
