"""Sync and async views of the test project, each pinning one behaviour."""

# Django ships no type information: its decorators are untyped to mypy.
# mypy: allow-untyped-decorators

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from logto_asgi import NotAuthenticated, get_context
from logto_asgi.django import requires_auth
from support import faults

SHOPPING = "https://shopping.example.com/api"


def describe(user: Any, perms: tuple[bool, bool] | None = None) -> dict[str, Any]:
    """What the tests compare: who ``user`` is to Django (``perms``: the two permission
    checks, made by the caller in async code)."""
    if perms is None:
        perms = (user.has_perm("auth.view_user"), user.has_perm("auth.delete_user"))
    return {
        "kind": user.__class__.__name__,  # (a SimpleLazyObject passes __class__ on)
        "is_authenticated": bool(user.is_authenticated),
        "is_anonymous": bool(user.is_anonymous),
        "username": user.get_username() if user.is_authenticated else "",
        "pk": str(user.pk) if user.pk is not None else None,
        "email": getattr(user, "email", ""),
        "first_name": getattr(user, "first_name", ""),
        "last_name": getattr(user, "last_name", ""),
        "is_staff": bool(getattr(user, "is_staff", False)),
        "can_view_users": perms[0],
        "can_delete_users": perms[1],
    }


def whoami_sync(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"view": "sync", **describe(request.user)})


async def whoami_async(request: HttpRequest) -> HttpResponse:
    user = await request.auser()
    # Once auser() answered, request.user is the same object: no query in async code.
    perms = (await user.ahas_perm("auth.view_user"), await user.ahas_perm("auth.delete_user"))
    return JsonResponse({"view": "async", "same": request.user == user, **describe(user, perms)})


def page_sync(request: HttpRequest) -> HttpResponse:
    return render(request, "whoami.html", {"view": "sync"})


async def page_async(request: HttpRequest) -> HttpResponse:
    await request.auser()
    return render(request, "whoami.html", {"view": "async"})


@login_required
def login_required_sync(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"sync page of {request.user.get_username()}")


@login_required
async def login_required_async(request: HttpRequest) -> HttpResponse:
    user = await request.auser()
    return HttpResponse(f"async page of {user.get_username()}")


@login_required(login_url="/sign-in", redirect_field_name="return_to")
def login_required_direct(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"direct page of {request.user.get_username()}")


@permission_required("auth.delete_user")
def needs_permission(request: HttpRequest) -> HttpResponse:
    return HttpResponse("deleted nothing")


@requires_auth()
def guarded_sync(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"guarded sync for {request.user.get_username()}")


@requires_auth()
async def guarded_async(request: HttpRequest) -> HttpResponse:
    user = await request.auser()
    return HttpResponse(f"guarded async for {user.get_username()}")


@requires_auth(redirect=True)
async def guarded_redirect(request: HttpRequest) -> HttpResponse:
    return HttpResponse("welcome back")


@requires_auth(roles=["admin"])
def admins_sync(request: HttpRequest) -> HttpResponse:
    return HttpResponse("admins only (sync)")


@requires_auth(roles=["admin"])
async def admins_async(request: HttpRequest) -> HttpResponse:
    return HttpResponse("admins only (async)")


@requires_auth(scopes=["shopping:write"], resource=SHOPPING)
def shop_write_sync(request: HttpRequest) -> HttpResponse:
    return HttpResponse("may write (sync)")


@requires_auth(scopes=["shopping:write"], resource=SHOPPING)
async def shop_write_async(request: HttpRequest) -> HttpResponse:
    return HttpResponse("may write (async)")


def token_sync(request: HttpRequest) -> HttpResponse:
    """A token fetched in a sync view: the errors it raises are the middleware's to answer."""
    from asgiref.sync import async_to_sync  # noqa: PLC0415 - only this view needs it

    claims = async_to_sync(get_context(request.scope).get_access_token_claims)(SHOPPING)
    return JsonResponse({"aud": claims.get("aud"), "scope": claims.get("scope")})


async def token_async(request: HttpRequest) -> HttpResponse:
    claims = await get_context(request.scope).get_access_token_claims(SHOPPING)
    return JsonResponse({"aud": claims.get("aud"), "scope": claims.get("scope")})


async def require_user_async(request: HttpRequest) -> HttpResponse:
    """``require_user()`` raises ``NotAuthenticated`` for a signed-out request."""
    user = get_context(request.scope).require_user()
    return HttpResponse(f"hello {user.sub}")


def not_logto(request: HttpRequest) -> HttpResponse:
    """Any other exception stays Django's 500 (the middleware answers LogtoErrors only)."""
    raise RuntimeError("an ordinary bug")


def raises_in_sync(request: HttpRequest) -> HttpResponse:
    raise NotAuthenticated("sign in first")


@csrf_exempt
def post_form(request: HttpRequest) -> HttpResponse:
    """Not CSRF-protected on purpose: the contrast to ``post_protected``."""
    return HttpResponse("posted")


def post_protected(request: HttpRequest) -> HttpResponse:
    return HttpResponse("posted (csrf checked)")


def set_fault(request: HttpRequest, name: str) -> HttpResponse:
    """Test-only: make the provider's token endpoint refuse connections (``refuse``), or not (``off``)."""
    from .asgi import FAULTS  # noqa: PLC0415 - the transport lives with the application

    FAULTS.fault = faults.refuse if name == "refuse" else None
    FAULTS.fault_path = "/token"
    return HttpResponse(name)
