"""URLs of the test project."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from logto_asgi.django import sign_in

from . import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", sign_in),  # Django's default LOGIN_URL: ?next= becomes return_to
    path("", views.page_sync),
    path("page-async", views.page_async),
    path("whoami-sync", views.whoami_sync),
    path("whoami-async", views.whoami_async),
    path("login-required-sync", views.login_required_sync),
    path("login-required-async", views.login_required_async),
    path("login-required-direct", views.login_required_direct),
    path("needs-permission", views.needs_permission),
    path("guarded-sync", views.guarded_sync),
    path("guarded-async", views.guarded_async),
    path("guarded-redirect", views.guarded_redirect),
    path("admins-sync", views.admins_sync),
    path("admins-async", views.admins_async),
    path("shop-write-sync", views.shop_write_sync),
    path("shop-write-async", views.shop_write_async),
    path("token-sync", views.token_sync),
    path("token-async", views.token_async),
    path("require-user-async", views.require_user_async),
    path("raises-in-sync", views.raises_in_sync),
    path("not-logto", views.not_logto),
    path("post-form", views.post_form),
    path("post-protected", views.post_protected),
    path("__faults__/<str:name>", views.set_fault),
]
