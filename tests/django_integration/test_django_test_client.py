"""What an app's own tests see through Django's test ``Client`` (no ``LogtoMiddleware``
in front): Django's session login still works, and LogtoErrors are still answered."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .launcher import TESTS


def test_django_test_client_falls_back_to_djangos_session() -> None:
    """``Client.force_login`` sets ``request.user``; a view's ``NotAuthenticated`` is a 401, not a 500."""
    env = {**os.environ, "PYTHONPATH": str(TESTS), "DJANGO_SITE_DB": ":memory:"}
    done = subprocess.run(
        [sys.executable, "-m", "django_site.client_check"],
        cwd=TESTS,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["anonymous"]["kind"] == "AnonymousUser"
    assert found["forced"]["kind"] == "User" and found["forced"]["username"] == "carol"
    assert found["logto_error"]["status"] == 401
    assert found["logto_error"]["body"]["error"] == "not_authenticated"
    assert "Traceback" not in done.stderr
    # An on_error answer with two cookies keeps both (Django holds one header per name).
    assert sorted(found["set_cookies"]) == ["first=1; HttpOnly; Path=/", "second=2; Max-Age=0; Path=/"]
