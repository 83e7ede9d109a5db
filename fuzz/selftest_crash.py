"""A target that crashes on purpose (any input starting with ``!``), never run by default:
``tests/fuzz`` runs it to prove the runner reports a crash and fails."""

from __future__ import annotations

from ._harness import Target


def build() -> Target:
    def test_one_input(data: bytes) -> None:
        if data.startswith(b"!"):
            raise RuntimeError("the self-test target crashed, as it should")

    return Target("selftest_crash", test_one_input, lambda: [b"seed"], None, 64)
