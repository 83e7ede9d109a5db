"""A real Django 5 project served over ASGI with logto-asgi, for ``tests/django_integration``.

It runs in its own ``uvicorn`` process (Django's settings are process-global), configured
by environment variables: ``LOGTO_*`` (the client registered at the test provider),
``DJANGO_SITE_DB`` (the SQLite file), ``DJANGO_SITE_USERS`` (``lightweight`` or
``database``). See ``tests/django_integration/site.py`` for the launcher.
"""
