"""The public surface is deliberate: a change to it must change this test too."""

from __future__ import annotations

import importlib
from pathlib import Path

import logto_asgi

PUBLIC = [
    "AccessDenied",
    "AccessTokenClaims",
    "AuthorizationError",
    "BearerAuthMiddleware",
    "ConfigurationError",
    "CookieStore",
    "Coordination",
    "HookFailed",
    "HostCoordination",
    "IdTokenClaims",
    "InProcessCoordination",
    "InsufficientScope",
    "InvalidRequest",
    "LogtoConfig",
    "LogtoContext",
    "LogtoError",
    "LogtoMiddleware",
    "LogtoUser",
    "MemoryStore",
    "Messages",
    "NotAuthenticated",
    "PageText",
    "PostgresStore",
    "ProviderError",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RedisCoordination",
    "RedisStore",
    "RequireAuth",
    "ReservedResource",
    "SessionExpired",
    "SessionStore",
    "SignInEvent",
    "SignInRefused",
    "SignOutEvent",
    "StepUpRequired",
    "StoreUnavailable",
    "TokenIntrospection",
    "TokenValidationError",
    "TransactionError",
    "UserInfo",
    "UserInfoScope",
    "__version__",
    "current",
    "current_auth",
    "get_context",
    "get_user",
    "renderer_for",
    "requires_auth",
]


def test_all_is_pinned_and_sorted() -> None:
    """__all__ is exactly the documented public names, sorted."""
    assert logto_asgi.__all__ == PUBLIC
    assert sorted(logto_asgi.__all__) == logto_asgi.__all__


def test_every_public_name_resolves_and_is_documented() -> None:
    """Each name imports, and each class or function has a docstring."""
    for name in PUBLIC:
        value = getattr(logto_asgi, name)
        if callable(value) and name != "__version__":
            assert value.__doc__, f"{name} has no docstring"


def test_error_tree_has_one_root() -> None:
    """Every error class derives from LogtoError and has a code and a status."""
    for name in PUBLIC:
        value = getattr(logto_asgi, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, logto_asgi.LogtoError)
            assert value.error and 400 <= value.status_code < 600


def test_version_has_one_source_and_the_package_is_typed() -> None:
    """__version__ comes from _version.py (also read by hatchling) and py.typed ships."""
    version = importlib.import_module("logto_asgi._version").__version__
    assert logto_asgi.__version__ == version
    assert (Path(logto_asgi.__file__).parent / "py.typed").exists()
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert 'path = "src/logto_asgi/_version.py"' in pyproject


def test_submodules_for_frameworks_stay_optional() -> None:
    """logto_asgi.fastapi and logto_asgi.testing import; RedisStore and PostgresStore resolve lazily."""
    assert importlib.import_module("logto_asgi.fastapi").require
    assert importlib.import_module("logto_asgi.testing").TestIssuer
    assert logto_asgi.RedisStore.__name__ == "RedisStore"
    assert logto_asgi.PostgresStore.__name__ == "PostgresStore"
