"""logto-asgi: Logto (and any OpenID Connect provider) sign-in as one pure ASGI middleware."""

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .bearer import BearerAuthMiddleware
from .boundary import renderer_for
from .config import LogtoConfig
from .context import LogtoContext, current, current_auth, get_context, get_user
from .coordination import Coordination, HostCoordination, InProcessCoordination
from .errors import (
    AccessDenied,
    AuthorizationError,
    ConfigurationError,
    InsufficientScope,
    InvalidRequest,
    LogtoError,
    NotAuthenticated,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    SessionExpired,
    StepUpRequired,
    StoreUnavailable,
    TokenValidationError,
    TransactionError,
)
from .guards import RequireAuth, requires_auth
from .hooks import HookFailed, SignInEvent, SignInRefused, SignOutEvent
from .introspection import TokenIntrospection
from .messages import Messages, PageText
from .middleware import LogtoMiddleware, LogtoUser
from .models import AccessTokenClaims, IdTokenClaims, ReservedResource, UserInfo, UserInfoScope
from .sessions import CookieStore, MemoryStore, SessionStore

if TYPE_CHECKING:
    from .redis_coordination import RedisCoordination
    from .sessions.postgres import PostgresStore
    from .sessions.redis import RedisStore

__all__ = [
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


def __getattr__(name: str) -> Any:
    # RedisStore and PostgresStore are imported on first use, so redis-py and psycopg are
    # needed only by those who use them.
    if name == "RedisStore":
        from .sessions.redis import RedisStore  # noqa: PLC0415 - redis-py is an optional extra

        return RedisStore
    if name == "PostgresStore":
        from .sessions.postgres import PostgresStore  # noqa: PLC0415 - psycopg is an optional extra

        return PostgresStore
    if name == "RedisCoordination":
        from .redis_coordination import RedisCoordination  # noqa: PLC0415 - redis-py is an optional extra

        return RedisCoordination
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
