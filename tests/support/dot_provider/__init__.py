"""A second, independent OpenID Provider for the tests: django-oauth-toolkit on Django.

The package is a minimal Django project (``settings``, ``urls``, ``views``, ``validator``,
``middleware``) served by uvicorn from ``python -m support.dot_provider``; the launcher and
async admin client live in :mod:`support.dot`. Nothing here is imported by the test process
itself, so Django never loads inside pytest.
"""
