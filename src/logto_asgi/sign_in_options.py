"""What a sign-in request may ask of the provider: the allowlist of per-request options.

``/sign-in`` (and ``LogtoContext.sign_in_url``) forward these, each checked against its
own rule, and nothing else: ``prompt`` (OIDC Core 3.1.2.1's values; ``none`` alone),
``max_age`` (seconds; the callback then requires a recent enough ``auth_time``),
``ui_locales`` (BCP 47 tags), ``login_hint``, and Logto's ``interaction_mode``,
``first_screen`` and ``direct_sign_in``. An option that breaks its rule is dropped, as if
it had not been given: a link someone crafted cannot smuggle parameters to the provider.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

__all__ = [
    "FIRST_SCREENS",
    "INTERACTION_MODES",
    "MAX_AGE_LIMIT",
    "PROMPTS",
    "merge_prompts",
    "sign_in_extras",
]

INTERACTION_MODES = ("signIn", "signUp")
FIRST_SCREENS = (
    "sign_in",
    "register",
    "reset_password",
    "identifier:sign_in",
    "identifier:register",
    "single_sign_on",
)
#: OIDC Core 3.1.2.1, plus ``create`` (Initiating User Registration via OpenID Connect).
PROMPTS = ("none", "login", "consent", "select_account", "create")
#: The largest ``max_age`` forwarded (ten years): anything longer means nothing.
MAX_AGE_LIMIT = 10 * 365 * 86400
_DIRECT_SIGN_IN = re.compile(r"(social|sso):[A-Za-z0-9._-]{1,128}")
_LOCALE = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8}){0,4}")
_MAX_LOCALES = 10


def valid_prompt(value: str) -> bool:
    """Known values, each once; ``none`` only alone (OIDC Core 3.1.2.1)."""
    words = value.split(" ")
    if not words or len(set(words)) != len(words) or any(word not in PROMPTS for word in words):
        return False
    return words == ["none"] or "none" not in words


def valid_max_age(value: str) -> bool:
    return value.isdecimal() and value.isascii() and len(value) <= 10 and int(value) <= MAX_AGE_LIMIT


def valid_ui_locales(value: str) -> bool:
    tags = value.split(" ")  # never empty: "".split(" ") is [""], which no tag matches
    return len(tags) <= _MAX_LOCALES and all(_LOCALE.fullmatch(tag) for tag in tags)


def _valid_login_hint(value: str) -> bool:
    return len(value) <= 256 and value.isprintable()


def _valid_direct_sign_in(value: str) -> bool:
    return _DIRECT_SIGN_IN.fullmatch(value) is not None


_RULES: dict[str, Callable[[str], bool]] = {
    "prompt": valid_prompt,
    "max_age": valid_max_age,
    "ui_locales": valid_ui_locales,
    "login_hint": _valid_login_hint,
    "interaction_mode": INTERACTION_MODES.__contains__,
    "first_screen": FIRST_SCREENS.__contains__,
    "direct_sign_in": _valid_direct_sign_in,
}


def sign_in_extras(query: Mapping[str, str]) -> dict[str, str]:
    """The allowed sign-in options found in ``query``, each valid by its rule; others dropped."""
    extras: dict[str, str] = {}
    for name, rule in _RULES.items():
        value = query.get(name)
        if value and rule(value):
            extras[name] = value
    return extras


def merge_prompts(configured: str | None, requested: str | None) -> str | None:
    """The ``prompt`` sent: the configured one (Logto's ``consent``) and the request's
    together, once each — except ``none`` (silent sign-in), which goes alone."""
    if requested == "none":
        return "none"
    words = [*(configured or "").split(), *(requested or "").split()]
    return " ".join(dict.fromkeys(words)) or None
