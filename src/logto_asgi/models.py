"""Claims models and the scope vocabulary of Logto.

Claims live in a plain dict; typed attributes read from it. A claim the provider did not
send is absent from ``to_dict()`` (a claim sent as ``null`` is kept as ``None``), unknown
claims are kept, and every model is JSON-serialisable through ``to_dict()``.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar, overload

__all__ = [
    "AccessTokenClaims",
    "IdTokenClaims",
    "ReservedResource",
    "UserInfo",
    "UserInfoScope",
]

T = TypeVar("T")


class UserInfoScope(str, enum.Enum):
    """The scopes Logto understands for user information (values are plain strings)."""

    openid = "openid"
    profile = "profile"
    email = "email"
    phone = "phone"
    address = "address"
    custom_data = "custom_data"
    identities = "identities"
    roles = "roles"
    organizations = "urn:logto:scope:organizations"
    organization_roles = "urn:logto:scope:organization_roles"

    def __str__(self) -> str:
        return self.value


class ReservedResource(str, enum.Enum):
    """Resource indicators Logto reserves."""

    organizations = "urn:logto:resource:organizations"

    def __str__(self) -> str:
        return self.value


class _Claim(Generic[T]):
    """A typed, read-only view of one claim; ``None`` when the claim was not sent."""

    __slots__ = ("name",)

    def __init__(self, name: str | None = None) -> None:
        self.name = name or ""

    def __set_name__(self, owner: type, name: str) -> None:
        if not self.name:
            self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> _Claim[T]: ...
    @overload
    def __get__(self, obj: _Claims, owner: type) -> T | None: ...
    def __get__(self, obj: _Claims | None, owner: type) -> _Claim[T] | T | None:
        if obj is None:
            return self
        return obj._data.get(self.name)


class _Claims(Mapping[str, Any]):
    """Base for claim sets: a read-only mapping with typed attributes."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data: dict[str, Any] = dict(data)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Claims):
            return type(self) is type(other) and self._data == other._data
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """The claims that were sent (unknown ones included), as a new plain dict."""
        return dict(self._data)

    def to_json(self, **kwargs: Any) -> str:
        """``to_dict()`` as JSON; keyword arguments go to ``json.dumps``."""
        return json.dumps(self._data, **kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data!r})"


class _ProfileClaims(_Claims):
    """Claims shared by the ID token and the userinfo response."""

    __slots__ = ()

    sub: _Claim[str] = _Claim()
    # profile
    name: _Claim[str] = _Claim()
    username: _Claim[str] = _Claim()
    picture: _Claim[str] = _Claim()
    given_name: _Claim[str] = _Claim()
    family_name: _Claim[str] = _Claim()
    middle_name: _Claim[str] = _Claim()
    nickname: _Claim[str] = _Claim()
    preferred_username: _Claim[str] = _Claim()
    profile: _Claim[str] = _Claim()
    website: _Claim[str] = _Claim()
    gender: _Claim[str] = _Claim()
    birthdate: _Claim[str] = _Claim()
    zoneinfo: _Claim[str] = _Claim()
    locale: _Claim[str] = _Claim()
    created_at: _Claim[int] = _Claim()
    """Milliseconds since the epoch (Logto's convention, not seconds)."""
    updated_at: _Claim[int] = _Claim()
    """Milliseconds since the epoch (Logto's convention, not seconds)."""
    # email / phone / address
    email: _Claim[str] = _Claim()
    email_verified: _Claim[bool] = _Claim()
    phone_number: _Claim[str] = _Claim()
    phone_number_verified: _Claim[bool] = _Claim()
    address: _Claim[dict[str, Any]] = _Claim()
    # roles and organizations
    roles: _Claim[list[str]] = _Claim()
    organizations: _Claim[list[str]] = _Claim()
    organization_roles: _Claim[list[str]] = _Claim()


class IdTokenClaims(_ProfileClaims):
    """The claims of a validated ID token (``request.state.user``)."""

    __slots__ = ()

    iss: _Claim[str] = _Claim()
    aud: _Claim[str | list[str]] = _Claim()
    exp: _Claim[int] = _Claim()
    iat: _Claim[int] = _Claim()
    auth_time: _Claim[int] = _Claim()
    nonce: _Claim[str] = _Claim()
    at_hash: _Claim[str] = _Claim()
    sid: _Claim[str] = _Claim()
    azp: _Claim[str] = _Claim()


class UserInfo(_ProfileClaims):
    """The userinfo endpoint's answer: every claim of the granted scopes."""

    __slots__ = ()

    custom_data: _Claim[dict[str, Any]] = _Claim()
    identities: _Claim[dict[str, Any]] = _Claim()
    sso_identities: _Claim[list[dict[str, Any]]] = _Claim()
    organization_data: _Claim[list[dict[str, Any]]] = _Claim()


class AccessTokenClaims(_Claims):
    """The claims of a validated JWT access token (resource or organization token)."""

    __slots__ = ()

    iss: _Claim[str] = _Claim()
    sub: _Claim[str] = _Claim()
    aud: _Claim[str | list[str]] = _Claim()
    exp: _Claim[int] = _Claim()
    iat: _Claim[int] = _Claim()
    nbf: _Claim[int] = _Claim()
    jti: _Claim[str] = _Claim()
    client_id: _Claim[str] = _Claim()
    scope: _Claim[str] = _Claim()
    organization_id: _Claim[str] = _Claim()

    @property
    def scopes(self) -> frozenset[str]:
        """The ``scope`` claim split into a set."""
        value = self._data.get("scope")
        return frozenset(value.split()) if isinstance(value, str) else frozenset()
