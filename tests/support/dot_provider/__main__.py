# Django and django-oauth-toolkit ship no type information (django-stubs is not a dependency).
# mypy: disable-error-code="import-untyped"
# mypy: allow-untyped-decorators, allow-subclassing-any
"""``python -m support.dot_provider --port N``: migrate, seed the users, serve with uvicorn.

Run from the ``tests`` directory (or with it on ``PYTHONPATH``); see :mod:`support.dot`.
"""

from __future__ import annotations

import argparse
import os
import time

USERS = [
    # username, password, email, first name, last name
    ("alice", "alice-password", "alice@example.com", "Alice", "Liddell"),
    ("bob", "bob-password", "bob@example.com", "Bob", "Builder"),
]


def _prepare() -> None:
    import django  # noqa: PLC0415  (Django must be imported after the settings are chosen)
    from django.core.management import call_command  # noqa: PLC0415

    django.setup()
    call_command("migrate", run_syncdb=True, verbosity=0, interactive=False)
    from django.contrib.auth import get_user_model  # noqa: PLC0415  (needs the app registry)

    user_model = get_user_model()
    for username, password, email, first_name, last_name in USERS:
        user_model.objects.create_user(
            username, email=email, password=password, first_name=first_name, last_name=last_name
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "support.dot_provider.settings")
    started = time.monotonic()
    _prepare()
    import uvicorn  # noqa: PLC0415
    from django.core.asgi import get_asgi_application  # noqa: PLC0415

    print(f"prepared in {time.monotonic() - started:.2f}s", flush=True)
    uvicorn.run(
        get_asgi_application(),
        host=options.host,
        port=options.port,
        lifespan="off",  # Django's ASGI handler speaks HTTP only
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
