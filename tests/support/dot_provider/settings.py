"""Django settings of the django-oauth-toolkit test provider.

Everything variable comes from the environment the launcher (:mod:`support.dot`) sets:

* ``DOT_DATABASE``: path of the SQLite database file (in a temporary directory);
* ``OIDC_RSA_PRIVATE_KEY``: the PEM of the RS256 signing key (a new one at each start);
* ``ROTATE_REFRESH_TOKEN``: ``1`` (default) or ``0``; switchable at runtime too
  (``POST /__test__/rotation``);
* ``OIDC_ISS_ENDPOINT``: an explicit issuer (e.g. ``{url}/o/``); by default DOT derives
  ``{url}/o`` (no trailing slash) from the discovery URL of each request;
* ``AUTHZ_RESPONSE_ISS``: ``1`` adds RFC 9207 ``iss`` to authorization responses
  (and ``authorization_response_iss_parameter_supported`` to discovery); off by default.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


SECRET_KEY = os.environ.get("DOT_SECRET_KEY") or secrets.token_urlsafe(50)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oauth2_provider",
]
# No migration files are replayed: `migrate --run-syncdb` creates every table straight from
# the models, which is several times faster on a fresh database.
MIGRATION_MODULES = {label.rsplit(".", 1)[-1]: None for label in INSTALLED_APPS}

MIDDLEWARE = [
    "support.dot_provider.middleware.CountingMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "support.dot_provider.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
STATIC_URL = "/static/"

DATABASES: dict[str, dict[str, Any]] = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DOT_DATABASE") or str(Path(os.environ.get("TMPDIR", "/tmp")) / "dot.sqlite3"),
        # Requests run in parallel threads: wait for the write lock instead of failing, take
        # it at BEGIN (no read-then-upgrade deadlocks) and let readers go on while one writes.
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Fast hashing for users and for client secrets (DOT hashes them with the default hasher):
# the default PBKDF2 costs ~0.5 s of CPU per token request, which a test provider cannot afford.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AUTH_PASSWORD_VALIDATORS: list[dict[str, Any]] = []

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
SESSION_COOKIE_NAME = "dot_sessionid"
CSRF_COOKIE_NAME = "dot_csrftoken"

OAUTH2_PROVIDER: dict[str, Any] = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": os.environ.get("OIDC_RSA_PRIVATE_KEY", ""),
    "OIDC_ISS_ENDPOINT": os.environ.get("OIDC_ISS_ENDPOINT", ""),
    "PKCE_REQUIRED": True,
    "SCOPES": {
        "openid": "OpenID Connect",
        "profile": "Your name and username",
        "email": "Your email address",
    },
    "DEFAULT_SCOPES": ["openid"],
    "OAUTH2_VALIDATOR_CLASS": "support.dot_provider.validator.TestOAuth2Validator",
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
    "ROTATE_REFRESH_TOKEN": _flag("ROTATE_REFRESH_TOKEN", True),
    "ACCESS_TOKEN_EXPIRE_SECONDS": int(os.environ.get("DOT_ACCESS_TOKEN_SECONDS") or 36000),
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    # No "Do you want to log out?" page when id_token_hint names the signed-in user.
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
    # Reject (instead of warn about) what RFC 9700 discourages and the middleware never does.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": _flag("AUTHZ_RESPONSE_ISS", False),
}

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
        "oauth2_provider": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
    },
}
