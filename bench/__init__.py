"""Benchmarks of logto-asgi against the bare app and the Authlib + SessionMiddleware baseline.

Run ``python -m bench.run`` (or ``make bench``) from the repository root.
"""
