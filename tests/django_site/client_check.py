"""Django's own test ``Client`` against the project, without ``LogtoMiddleware`` in front:
what an app's own test suite sees. Run as ``python -m django_site.client_check``; prints
one JSON object of findings (``tests/django_integration/test_django_test_client.py``)."""

from __future__ import annotations

import json
import os
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_site.settings")
os.environ["DJANGO_SITE_USERS"] = "database"
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client, RequestFactory  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from logto_asgi.django.responses import http_response  # noqa: E402


def main() -> dict[str, Any]:
    setup_test_environment()  # as Django's test runner does: "testserver" allowed, and so on
    call_command("migrate", verbosity=0)
    client = Client()
    found: dict[str, Any] = {"anonymous": client.get("/whoami-sync").json()}
    refused = client.get("/raises-in-sync", headers={"accept": "application/json"})
    found["logto_error"] = {"status": refused.status_code, "body": refused.json()}
    user = get_user_model().objects.create_user("carol", "carol@example.com")
    client.force_login(user)
    found["forced"] = client.get("/whoami-sync").json()
    cookies = [(b"set-cookie", b"first=1; Path=/; HttpOnly"), (b"set-cookie", b"second=2; Max-Age=0; Path=/")]
    answer = http_response(RequestFactory().get("/"), 401, cookies, b"")
    found["set_cookies"] = [value for name, value in answer.items() if name.lower() == "set-cookie"]
    found["set_cookies"] += [morsel.OutputString() for morsel in answer.cookies.values()]
    return found


if __name__ == "__main__":
    print(json.dumps(main()))
