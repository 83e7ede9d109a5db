"""The real test provider for the quick-start tests."""

from flows.conftest import provider

__all__ = ["provider"]
