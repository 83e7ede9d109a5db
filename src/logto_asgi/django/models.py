"""``LogtoIdentity``: which provider account (issuer and ``sub``) a ``User`` row belongs to.

Database mode (``LOGTO_DJANGO = {"users": "database"}``) keeps the link here rather than
in the username or the email, which users can change at the provider and which another
account may already hold: ``(issuer, sub)`` is what OpenID Connect promises stays unique.
"""

# mypy: allow-subclassing-any
# (Django ships no type information: its base classes are Any to mypy.)

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models

__all__ = ["LogtoIdentity"]


class LogtoIdentity(models.Model):
    """One provider account, linked to one user (a user may have several)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="logto_identities"
    )
    #: The ID token's ``iss``.
    issuer = models.CharField(max_length=255)
    #: The ID token's ``sub``: unique for that issuer.
    sub = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    #: The last sign-in.
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[models.Manager]

    class Meta:
        app_label = "logto_asgi"
        verbose_name = "Logto identity"
        verbose_name_plural = "Logto identities"
        constraints: ClassVar[list[models.UniqueConstraint]] = [
            models.UniqueConstraint(fields=["issuer", "sub"], name="logto_identity_unique_sub"),
        ]

    def __str__(self) -> str:
        return f"{self.sub} at {self.issuer}"
