"""logto-asgi: Logto (and any OpenID Connect provider) sign-in as one pure ASGI middleware."""

from ._version import __version__
from .config import LogtoConfig
from .context import LogtoContext, current, get_context
from .errors import (
    AccessDenied,
    AuthorizationError,
    ConfigurationError,
    InsufficientScope,
    LogtoError,
    NotAuthenticated,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    SessionExpired,
    StoreUnavailable,
    TokenValidationError,
    TransactionError,
)
from .middleware import LogtoMiddleware, LogtoUser
from .models import AccessTokenClaims, IdTokenClaims, ReservedResource, UserInfo, UserInfoScope
from .sessions import CookieStore, MemoryStore, SessionStore

__all__ = [
    "AccessDenied",
    "AccessTokenClaims",
    "AuthorizationError",
    "ConfigurationError",
    "CookieStore",
    "IdTokenClaims",
    "InsufficientScope",
    "LogtoConfig",
    "LogtoContext",
    "LogtoError",
    "LogtoMiddleware",
    "LogtoUser",
    "MemoryStore",
    "NotAuthenticated",
    "ProviderError",
    "ProviderTimeout",
    "ProviderUnavailable",
    "ReservedResource",
    "SessionExpired",
    "SessionStore",
    "StoreUnavailable",
    "TokenValidationError",
    "TransactionError",
    "UserInfo",
    "UserInfoScope",
    "__version__",
    "current",
    "get_context",
]
