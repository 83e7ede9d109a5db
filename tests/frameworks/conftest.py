"""The real provider for framework tests."""

from flows.conftest import harness, provider

__all__ = ["harness", "provider"]
