# Django and django-oauth-toolkit ship no type information (django-stubs is not a dependency).
# mypy: disable-error-code="import-untyped"
# mypy: allow-untyped-decorators, allow-subclassing-any
"""URLs: DOT under ``/o/`` (issuer ``{url}/o``), the login page, the ``/__test__/`` API."""

from __future__ import annotations

from django.contrib.auth.views import LoginView
from django.urls import URLPattern, URLResolver, include, path

from . import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("__test__/clients", views.register_client),
    path("__test__/resource-servers", views.register_resource_server),
    path("__test__/counts", views.counts),
    path("__test__/counts/reset", views.reset_counts),
    path("__test__/rotation", views.rotation),
    path("__test__/sessions", views.sessions),
    path("__test__/revoke-all", views.revoke_all),
]
