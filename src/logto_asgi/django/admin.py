"""``LogtoIdentity`` in the admin, read-only: the link is made at sign-in."""

# mypy: allow-subclassing-any, allow-untyped-decorators

from __future__ import annotations

from typing import Any

from django.contrib import admin

from .models import LogtoIdentity


@admin.register(LogtoIdentity)
class LogtoIdentityAdmin(admin.ModelAdmin):
    list_display = ("sub", "issuer", "user", "updated_at")
    search_fields = ("sub", "user__username", "user__email")
    readonly_fields = ("user", "issuer", "sub", "created_at", "updated_at")

    def has_add_permission(self, request: Any) -> bool:
        return False
