"""``LogtoConfig``: every option of the middleware, validated once at construction."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from .coordination import Coordination
from .discovery import accepted_issuers, discovery_url, logto_issuer
from .errors import ConfigurationError
from .messages import DEFAULT_MESSAGES, Messages
from .models import ReservedResource, UserInfoScope
from .redirects import same_origin_target
from .sessions.base import SessionStore
from .sessions.cookie import CookieStore

if TYPE_CHECKING:
    import httpx

    from .error_hook import ErrorHook
    from .hooks import SignInHook, SignOutHook

__all__ = ["LogtoConfig"]

DEFAULT_SCOPES = ("openid", "profile", "offline_access")
#: What every sign-in asks of a provider that is not Logto (``offline_access`` is added
#: where the provider's ``scopes_supported`` lists it).
STANDARD_SCOPES = ("openid", "profile")
OFFLINE_ACCESS = "offline_access"
MIN_SECRET_LENGTH = 32
_SAMESITE = ("lax", "strict", "none")
_ENV = {
    "endpoint": "LOGTO_ENDPOINT",
    "discovery_url": "LOGTO_DISCOVERY_URL",
    "app_id": "LOGTO_APP_ID",
    "app_secret": "LOGTO_APP_SECRET",
    "cookie_secret": "LOGTO_COOKIE_SECRET",
    "base_url": "LOGTO_BASE_URL",
}


def _check_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(name, f"must be an absolute http(s) URL, got {value!r}")
    if parts.query or parts.fragment:
        raise ConfigurationError(name, "must not contain a query string or a fragment")
    return value.rstrip("/")


def _secure_origin(url: str) -> bool:
    """https, or a loopback origin (where browsers keep Secure cookies over http)."""
    parts = urlsplit(url)
    return parts.scheme == "https" or parts.hostname in ("localhost", "127.0.0.1", "::1")


def _check_issuer(value: str) -> None:
    """An issuer is an https (or http) URL without query or fragment (OIDC Core 2), kept as
    written: its exact form, trailing slash included, is what tokens carry."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigurationError("issuer", f"must be an http(s) URL without query or fragment, got {value!r}")


def _check_path(name: str, value: str) -> None:
    if not value.startswith("/") or value.startswith("//") or any(c in value for c in "?#\\"):
        raise ConfigurationError(name, f"must be a path starting with a single '/', got {value!r}")


@dataclass(frozen=True, kw_only=True)
class LogtoConfig:
    """Configuration of ``LogtoMiddleware``.

    ``endpoint`` is the Logto endpoint (``https://your-tenant.logto.app``); discovery is
    read from ``{endpoint}/oidc/.well-known/openid-configuration``. Any other OpenID
    Connect provider is configured by ``discovery_url`` alone: its issuer must be the
    URL without ``/.well-known/openid-configuration`` (a trailing slash allowed), or
    ``issuer`` when the URL has another form. Logto's habits (``offline_access`` always,
    ``prompt=consent``) apply to Logto endpoints only. ``cookie_secret`` is one secret of
    at least 32 characters, or a list: the first encrypts, all decrypt (rotation).
    Secrets never appear in ``repr``.
    """

    endpoint: str | None = None
    app_id: str
    app_secret: str | None = field(default=None, repr=False)
    cookie_secret: str | Sequence[str] = field(repr=False)
    base_url: str | None = None
    scopes: Sequence[str] = ()
    resources: Sequence[str] = ()
    prompt: str | None = None
    offline_access: bool | None = None
    discovery_url: str | None = None
    issuer: str | None = None
    sign_in_path: str = "/sign-in"
    callback_path: str = "/callback"
    sign_out_path: str = "/sign-out"
    backchannel_logout_path: str | None = None
    frontchannel_logout_path: str | None = None
    post_sign_in_redirect: str = "/"
    post_sign_out_redirect: str = "/"
    store: CookieStore | SessionStore = field(default_factory=CookieStore)
    coordination: Coordination | None = None
    session_idle_timeout: float = 24 * 3600
    session_max_age: float = 7 * 24 * 3600
    cookie_name: str = "logto"
    cookie_domain: str | None = None
    cookie_path: str = "/"
    cookie_samesite: Literal["lax", "strict", "none"] = "lax"
    cookie_secure: bool | None = None
    vary_cookie: bool = True
    check_ended_sessions: bool = False
    clock_skew: float = 60
    http_timeout: float = 10
    http_client: httpx.AsyncClient | None = field(default=None, repr=False, compare=False)
    extra_sign_in_params: Mapping[str, str] = field(default_factory=dict)
    max_pending_sign_ins: int = 5
    silent_sign_in: bool = False
    on_sign_in: SignInHook | None = field(default=None, repr=False, compare=False)
    on_sign_out: SignOutHook | None = field(default=None, repr=False, compare=False)
    on_error: ErrorHook | None = field(default=None, repr=False, compare=False)
    messages: Messages = field(default=DEFAULT_MESSAGES, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._check_client()
        self._check_cookies()
        self._check_paths()
        self._check_store_and_numbers()
        self._check_sign_in_request()

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def _check_client(self) -> None:
        if not isinstance(self.app_id, str) or not self.app_id.strip():
            raise ConfigurationError("app_id", "is required (the App ID from the Logto Console)")
        if self.endpoint is None and self.discovery_url is None:
            raise ConfigurationError(
                "endpoint",
                "is required: the Logto endpoint, or discovery_url= for another OpenID provider",
            )
        if self.endpoint is not None:
            self._set("endpoint", _check_url("endpoint", self.endpoint))
        if self.base_url is not None:
            self._set("base_url", _check_url("base_url", self.base_url))
            if urlsplit(self.base_url).path:  # (trailing slash already gone)
                raise ConfigurationError(
                    "base_url", "must be the app's origin, without a path: behind a prefix, prefix the paths"
                )
        if self.discovery_url is not None:
            _check_url("discovery_url", self.discovery_url)
        if self.issuer is not None:
            _check_issuer(self.issuer)
        if not self.expected_issuers:
            raise ConfigurationError(
                "issuer",
                f"the discovery URL {self.discovery_url!r} does not end in "
                "/.well-known/openid-configuration, so it does not say which issuer to expect: "
                "pass issuer= as well",
            )
        if self.app_secret == "":
            self._set("app_secret", None)

    def _check_cookies(self) -> None:
        secrets = [self.cookie_secret] if isinstance(self.cookie_secret, str) else list(self.cookie_secret)
        if not secrets:
            raise ConfigurationError("cookie_secret", "needs at least one secret")
        for secret in secrets:
            if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
                raise ConfigurationError(
                    "cookie_secret",
                    f"each secret must be a string of at least {MIN_SECRET_LENGTH} characters "
                    "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')",
                )
        self._set("cookie_secret", tuple(secrets))
        samesite = str(self.cookie_samesite).lower()
        if samesite not in _SAMESITE:
            raise ConfigurationError(
                "cookie_samesite",
                f"must be one of 'lax', 'strict', 'none', got {self.cookie_samesite!r}",
            )
        self._set("cookie_samesite", samesite)
        if samesite == "none" and self.cookie_secure is False:
            raise ConfigurationError("cookie_secure", "SameSite=None cookies must be Secure")
        if not self.cookie_name or not all(c.isalnum() or c in "_-" for c in self.cookie_name):
            raise ConfigurationError("cookie_name", "use letters, digits, '_' and '-' only")
        self._check_cookie_prefix()

    def _check_cookie_prefix(self) -> None:
        """Browsers drop ``__Host-`` / ``__Secure-`` cookies that break the prefix's rules
        (a silent sign-in loop): refuse such settings here, and make the cookies Secure."""
        name = self.cookie_name
        host, secure = name.startswith("__Host-"), name.startswith("__Secure-")
        if not (host or secure):
            return
        prefix = "__Host-" if host else "__Secure-"
        if self.cookie_secure is False:
            raise ConfigurationError("cookie_secure", f"a {prefix} cookie name needs Secure cookies")
        if host and self.cookie_domain is not None:
            raise ConfigurationError("cookie_domain", "a __Host- cookie cannot have a Domain")
        if host and self.cookie_path != "/":
            raise ConfigurationError("cookie_path", "a __Host- cookie must have the path '/'")
        if self.base_url is not None and not _secure_origin(self.base_url):
            raise ConfigurationError("base_url", f"{prefix} cookies need https (or localhost)")
        self._set("cookie_secure", True)

    def _check_paths(self) -> None:
        for name in ("sign_in_path", "callback_path", "sign_out_path", "cookie_path"):
            _check_path(name, getattr(self, name))
        paths = [self.sign_in_path, self.callback_path, self.sign_out_path]
        if self.frontchannel_logout_path is not None:
            _check_path("frontchannel_logout_path", self.frontchannel_logout_path)
            paths.append(self.frontchannel_logout_path)
        if self.backchannel_logout_path is not None:
            _check_path("backchannel_logout_path", self.backchannel_logout_path)
            if isinstance(self.store, CookieStore):
                raise ConfigurationError(
                    "backchannel_logout_path",
                    "back-channel logout needs a server-side store (MemoryStore, RedisStore or "
                    "your own SessionStore): cookie sessions cannot be ended from the server",
                )
            paths.append(self.backchannel_logout_path)
        if len(set(paths)) != len(paths):
            raise ConfigurationError("sign_in_path", "the auth paths must all differ")
        for name in ("post_sign_in_redirect", "post_sign_out_redirect"):
            # The rules of return_to: a configured value must not be an open redirect.
            problem = same_origin_target(getattr(self, name), self.base_url)
            if problem is not None:
                raise ConfigurationError(name, f"{problem}, got {getattr(self, name)!r}")

    def _check_store_and_numbers(self) -> None:
        if not isinstance(self.store, (CookieStore, SessionStore)):
            raise ConfigurationError(
                "store", "must be CookieStore(), MemoryStore(), RedisStore(...) or a SessionStore"
            )
        if self.coordination is not None and not isinstance(self.coordination, Coordination):
            raise ConfigurationError(
                "coordination",
                "must be HostCoordination(), InProcessCoordination(), RedisCoordination(...) "
                "or a Coordination",
            )
        for name in ("session_idle_timeout", "session_max_age", "http_timeout"):
            if not getattr(self, name) > 0:
                raise ConfigurationError(name, "must be a positive number of seconds")
        if self.session_idle_timeout > self.session_max_age:
            raise ConfigurationError("session_idle_timeout", "cannot be longer than session_max_age")
        if not 0 <= self.clock_skew <= 600:
            raise ConfigurationError("clock_skew", "must be between 0 and 600 seconds")
        if not 1 <= self.max_pending_sign_ins <= 20:
            raise ConfigurationError("max_pending_sign_ins", "must be between 1 and 20")
        self._check_hooks()

    def _check_hooks(self) -> None:
        if not isinstance(self.messages, Messages):
            raise ConfigurationError("messages", "must be a logto_asgi.Messages (see docs/errors.md)")
        for name in ("on_sign_in", "on_sign_out", "on_error"):
            if getattr(self, name) is not None and not callable(getattr(self, name)):
                raise ConfigurationError(name, "must be a function taking the event (or None)")

    def _check_sign_in_request(self) -> None:
        for name in ("scopes", "resources"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise ConfigurationError(name, "must be a list of strings, not one string")
            self._set(name, tuple(str(v.value if hasattr(v, "value") else v) for v in value))
        if self.offline_access not in (None, True, False):
            raise ConfigurationError("offline_access", "must be None (automatic), True or False")
        if self.offline_access is False and OFFLINE_ACCESS in self.scopes:
            raise ConfigurationError("offline_access", "is False, but scopes lists offline_access")
        for resource in self.resources:
            if not resource or " " in resource:
                raise ConfigurationError("resources", f"invalid resource indicator {resource!r}")
        reserved = [k for k in self.extra_sign_in_params if k in _RESERVED_PARAMS]
        if reserved:
            raise ConfigurationError(
                "extra_sign_in_params", f"cannot override protocol parameters {sorted(reserved)}"
            )
        self._set("extra_sign_in_params", dict(self.extra_sign_in_params))

    # Derived values -------------------------------------------------------------------

    @property
    def cookie_secrets(self) -> tuple[str, ...]:
        """The cookie secrets as a tuple, newest first."""
        return tuple(self.cookie_secret)

    @property
    def is_logto(self) -> bool:
        """Whether the provider is a Logto endpoint (else a generic OpenID provider)."""
        return self.endpoint is not None

    @property
    def expected_issuers(self) -> tuple[str, ...]:
        """The issuer values the discovery document may name (empty: nothing to expect)."""
        logto = logto_issuer(self.endpoint) if self.endpoint is not None else None
        return accepted_issuers(self.discovery_url, configured=self.issuer, logto=logto)

    @property
    def metadata_url(self) -> str:
        """Where discovery is read from."""
        if self.discovery_url is not None:
            return self.discovery_url
        return discovery_url(logto_issuer(self.endpoint or ""))

    @property
    def all_scopes(self) -> tuple[str, ...]:
        """Scopes every sign-in asks for: the defaults, then the configured (a generic
        provider also gets ``offline_access`` where it supports it: ``sign_in_scopes``)."""
        defaults = DEFAULT_SCOPES if self.is_logto else STANDARD_SCOPES
        return tuple(dict.fromkeys((*defaults, *self.scopes)))

    def sign_in_scopes(self, scopes_supported: object) -> tuple[str, ...]:
        """The scopes of an authorization request, given the provider's ``scopes_supported``:
        ``offline_access`` as ``offline_access=`` says, by default where it is supported."""
        scopes = self.all_scopes
        if self.offline_access is False:
            return tuple(scope for scope in scopes if scope != OFFLINE_ACCESS)
        if OFFLINE_ACCESS in scopes:
            return scopes
        wanted = self.offline_access or (
            isinstance(scopes_supported, list) and OFFLINE_ACCESS in scopes_supported
        )
        return (*scopes, OFFLINE_ACCESS) if wanted else scopes

    @property
    def sign_in_prompt(self) -> str | None:
        """The ``prompt`` sent: as configured; by default ``consent`` for Logto (which
        issues a refresh token only so) and none for other providers; ``""`` sends none."""
        if self.prompt is None:
            return "consent" if self.is_logto else None
        return self.prompt or None

    @property
    def all_resources(self) -> tuple[str, ...]:
        """Resources sent with the authorization request (organizations added when needed)."""
        resources = list(self.resources)
        if UserInfoScope.organizations.value in self.scopes:
            resources.append(ReservedResource.organizations.value)
        return tuple(dict.fromkeys(resources))

    @property
    def is_public_client(self) -> bool:
        return self.app_secret is None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> LogtoConfig:
        """Build a configuration from ``LOGTO_ENDPOINT`` (or ``LOGTO_DISCOVERY_URL``),
        ``LOGTO_APP_ID``, ``LOGTO_APP_SECRET``, ``LOGTO_COOKIE_SECRET`` and
        ``LOGTO_BASE_URL``; keyword arguments override or complete them."""
        source = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name, variable in _ENV.items():
            if source.get(variable):
                values[name] = source[variable]
        values.update(overrides)
        if "endpoint" not in values and "discovery_url" not in values:
            raise ConfigurationError(
                "endpoint", "is required: set LOGTO_ENDPOINT (or LOGTO_DISCOVERY_URL), or pass endpoint="
            )
        for name in ("app_id", "cookie_secret"):
            if name not in values:
                raise ConfigurationError(name, f"is required: set {_ENV[name]} or pass {name}=")
        return cls(**values)

    def replace(self, **changes: Any) -> LogtoConfig:
        """A copy with some options changed (validated again)."""
        return replace(self, **changes)


_RESERVED_PARAMS = frozenset(
    {
        "prompt",  # the prompt= option (sent once)
        "client_id",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "resource",
    }
)
