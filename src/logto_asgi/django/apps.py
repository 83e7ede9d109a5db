"""The Django app (``INSTALLED_APPS += ["logto_asgi.django"]``): the ``LogtoIdentity``
model of database mode, and ``LOGTO_DJANGO`` checked when Django starts."""

# mypy: allow-subclassing-any

from __future__ import annotations

from django.apps import AppConfig

from .conf import options


class LogtoDjangoConfig(AppConfig):
    name = "logto_asgi.django"
    label = "logto_asgi"
    verbose_name = "Logto"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A wrong LOGTO_DJANGO fails here, at startup, naming the key to fix.
        options()
