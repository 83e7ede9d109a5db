# Django and django-oauth-toolkit ship no type information (django-stubs is not a dependency).
# mypy: disable-error-code="import-untyped"
# mypy: allow-untyped-decorators, allow-subclassing-any
"""The test-only admin API under ``/__test__/`` (JSON, no CSRF, no authentication).

* ``POST clients``: ``{"redirect_uris", "post_logout_redirect_uris", "confidential",
  "skip_authorization", "client_id"?, "name"?, "allowed_origins"?}`` -> an authorization-code
  RS256 application; answers ``{"client_id", "client_secret"}`` (the plain secret, null for a
  public client: DOT hashes it on save).
* ``POST resource-servers``: a confidential client-credentials application whose Basic
  credentials authenticate at ``/o/introspect/``; answers ``{"client_id", "client_secret"}``.
* ``GET counts`` / ``POST counts/reset``: see :mod:`.middleware`.
* ``POST rotation`` ``{"rotate": bool}``: ROTATE_REFRESH_TOKEN from the next refresh grant on.
* ``GET sessions?username=``: ``{"active": <unexpired Django sessions of the user>}``.
* ``POST revoke-all?username=``: revokes every refresh and access token of the user and ends
  all their Django sessions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_access_token_model, get_application_model, get_refresh_token_model
from oauth2_provider.settings import oauth2_settings

from . import middleware

View = Callable[[HttpRequest], HttpResponse]


def _body(request: HttpRequest) -> dict[str, Any]:
    if not request.body:
        return {}
    data = json.loads(request.body)
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _bad_request(message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=400)


def _create_application(**fields: Any) -> tuple[Any, str | None]:
    """Saves a new Application; returns it with its plain secret (hashed from now on)."""
    application_model = get_application_model()
    secret = generate_client_secret() if fields["client_type"] == "confidential" else ""
    application = application_model(client_secret=secret, **fields)
    application.full_clean()
    application.save()
    return application, secret or None


@csrf_exempt
@require_POST
def register_client(request: HttpRequest) -> HttpResponse:
    try:
        body = _body(request)
        extra = {"client_id": body["client_id"]} if body.get("client_id") else {}
        application, secret = _create_application(
            name=str(body.get("name") or "test client"),
            client_type="confidential" if body.get("confidential", True) else "public",
            authorization_grant_type="authorization-code",
            algorithm="RS256",
            redirect_uris=" ".join(body.get("redirect_uris") or []),
            post_logout_redirect_uris=" ".join(body.get("post_logout_redirect_uris") or []),
            allowed_origins=" ".join(body.get("allowed_origins") or []),
            skip_authorization=bool(body.get("skip_authorization", True)),
            **extra,
        )
    except (ValueError, ValidationError) as error:
        return _bad_request(str(error))
    return JsonResponse({"client_id": application.client_id, "client_secret": secret})


@csrf_exempt
@require_POST
def register_resource_server(request: HttpRequest) -> HttpResponse:
    try:
        application, secret = _create_application(
            name="resource server",
            client_type="confidential",
            authorization_grant_type="client-credentials",
        )
    except ValidationError as error:
        return _bad_request(str(error))
    return JsonResponse({"client_id": application.client_id, "client_secret": secret})


@require_GET
def counts(request: HttpRequest) -> HttpResponse:
    return JsonResponse(middleware.snapshot())


@csrf_exempt
@require_POST
def reset_counts(request: HttpRequest) -> HttpResponse:
    middleware.reset()
    return JsonResponse({})


@csrf_exempt
@require_POST
def rotation(request: HttpRequest) -> HttpResponse:
    try:
        rotate = _body(request)["rotate"]
    except (ValueError, KeyError):
        return _bad_request('expected {"rotate": true|false}')
    if not isinstance(rotate, bool):
        return _bad_request('expected {"rotate": true|false}')
    # oauth2_settings caches each setting as an instance attribute on first read (and the
    # validator reads oauth2_settings.ROTATE_REFRESH_TOKEN at every refresh grant): replace
    # the cached value, and the user settings too so that a reload() keeps it.
    oauth2_settings.user_settings["ROTATE_REFRESH_TOKEN"] = rotate
    oauth2_settings.ROTATE_REFRESH_TOKEN = rotate
    return JsonResponse({"rotate": oauth2_settings.ROTATE_REFRESH_TOKEN})


def _user(request: HttpRequest) -> Any:
    username = request.GET.get("username", "")
    return get_user_model().objects.filter(username=username).first()


def _owner(session: Any) -> str | None:
    owner = session.get_decoded().get("_auth_user_id")
    return None if owner is None else str(owner)


@require_GET
def sessions(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if user is None:
        return _bad_request("unknown username")
    live = Session.objects.filter(expire_date__gt=timezone.now())
    active = sum(1 for session in live if _owner(session) == str(user.pk))
    return JsonResponse({"active": active})


@csrf_exempt
@require_POST
def revoke_all(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if user is None:
        return _bad_request("unknown username")
    refresh_tokens = list(get_refresh_token_model().objects.filter(user=user, revoked__isnull=True))
    for refresh_token in refresh_tokens:
        refresh_token.revoke()  # deletes its access token too
    access_tokens = list(get_access_token_model().objects.filter(user=user))
    for access_token in access_tokens:
        access_token.revoke()
    sessions = [session for session in Session.objects.all() if _owner(session) == str(user.pk)]
    for session in sessions:
        session.delete()
    return JsonResponse(
        {
            "refresh_tokens": len(refresh_tokens),
            "access_tokens": len(access_tokens),
            "sessions": len(sessions),
        }
    )
