"""The Django page's two ``asgi.py`` listings run and type-check against the test project.

They cannot run inside the test process (Django's settings are process-global) nor on their
own (they name the reader's project), so each runs in a subprocess of its own with two names
swapped for the test project's: ``mysite.settings`` → ``django_site.settings`` and the
Channels example's ``chat.consumers.ChatConsumer`` → ``django_site.consumers.WhoAmIConsumer``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .launcher import TESTS

ROOT = TESTS.parent
PAGE = ROOT / "docs" / "getting-started" / "django.md"
SWAPS = {
    '"mysite.settings"': '"django_site.settings"',
    "from chat.consumers import ChatConsumer": (
        "from django_site.consumers import WhoAmIConsumer as ChatConsumer"
    ),
}
CHECK = """
from logto_asgi import LogtoMiddleware
assert isinstance(application, LogtoMiddleware), application
print("ok", type(application.app).__name__)
"""


def listings() -> list[str]:
    """The page's ```py blocks (the ones the snippet tests leave out), in page order."""
    return re.findall(r"^```py\n(.*?)^```", PAGE.read_text(encoding="utf-8"), re.DOTALL | re.MULTILINE)


def swapped(code: str) -> str:
    for old, new in SWAPS.items():
        code = code.replace(old, new)
    return code


def test_the_page_has_both_listings() -> None:
    """The plain and the Channels ``asgi.py`` (so the tests below are not vacuous)."""
    found = listings()
    assert len(found) == 2
    assert "ProtocolTypeRouter" in found[1] and "ProtocolTypeRouter" not in found[0]


@pytest.mark.parametrize("number", [0, 1], ids=["plain", "channels"])
def test_listing_runs_and_type_checks(number: int, tmp_path: Path) -> None:
    """The listing builds a ``LogtoMiddleware`` around Django, and ``mypy --strict`` accepts it."""
    code = swapped(listings()[number])
    module = tmp_path / f"django_page_listing_{number}.py"
    module.write_text(code + CHECK, encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT / "src")]),
        "DJANGO_SITE_DB": ":memory:",
        "LOGTO_ENDPOINT": "http://127.0.0.1:9",
        "LOGTO_APP_ID": "listing-app",
        "LOGTO_APP_SECRET": "listing-secret",
        "LOGTO_COOKIE_SECRET": "c" * 40,
        "LOGTO_BASE_URL": "http://127.0.0.1:8000",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    ran = subprocess.run(
        [sys.executable, str(module)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split()[:2] == ["ok", "ProtocolTypeRouter" if number else "ASGIHandler"]
    typed = subprocess.run(
        [
            sys.executable, "-m", "mypy", "--strict", "--config-file", str(ROOT / "pyproject.toml"),
            "--no-incremental", "--cache-dir", str(tmp_path / "mypy"), str(module),
        ],
        env={**env, "MYPYPATH": os.pathsep.join([str(ROOT / "src"), str(TESTS)])},
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert typed.returncode == 0, typed.stdout + typed.stderr
