"""Hostile provider, hostile browser, failing provider: the negative suite."""
