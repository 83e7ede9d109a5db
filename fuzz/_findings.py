"""Crashes already found and reported, so a run can go on past them.

A crash is named by its *signature*: the root exception's type and the innermost frame of
``logto_asgi`` it came from (``OverflowError@tokens.py:_number``), or of the harness for
an invariant. By default every crash stops the run (libFuzzer writes the input and exits
non-zero). With ``--tolerate-known`` the signatures in ``KNOWN`` are counted instead, so
a long run still looks for *new* crashes; with ``--survey`` every signature is counted,
to list what a target finds in one run. Either way the first input of each signature is
written next to libFuzzer's artifacts (``finding-<signature>``) and the counts go to
``findings.json`` there, which the runner reads (libFuzzer's exit skips ``atexit``).

An entry leaves ``KNOWN`` when ``src/`` is fixed: ``python -m fuzz NAME finding-…``
replays its input and must no longer crash.
"""

from __future__ import annotations

import json
import re
import time
import traceback
from collections.abc import Callable
from pathlib import Path

#: Signature -> the bug and who can reach it; an entry leaves once ``src/`` is fixed.
#: Empty: everything the first runs found (issue 13: non-finite and huge numbers and lone
#: surrogates in sessions, transactions, claims and provider replies; a bad IPv6 URL in
#: discovery; a non-string refresh token) was fixed in "Fix what fuzzing found".
KNOWN: dict[str, str] = {}

#: Modules of small helpers used everywhere: a crash there is named with its caller too.
SHARED_HELPERS = frozenset({"_crypto.py", "_http.py", "_cache.py"})
_SOURCE = re.compile(r"[/\\](logto_asgi|fuzz)[/\\](?:.*[/\\])?([A-Za-z_0-9]+\.py)$")


def signature(exc: BaseException) -> str:
    """``Type@module.py:function`` of the root cause's innermost frame in our code; for a
    shared helper (``SHARED_HELPERS``) also its caller's (``…<backchannel.py:_end_sessions``),
    since the same helper fails for different reasons in different places."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    ours: list[str] = []
    harness: list[str] = []
    for frame in traceback.extract_tb(exc.__traceback__):
        match = _SOURCE.search(frame.filename)
        if match:
            (ours if match.group(1) == "logto_asgi" else harness).append(f"{match.group(2)}:{frame.name}")
    if not ours:
        return f"{type(exc).__name__}@{harness[-1] if harness else '?'}"
    where = ours[-1]
    module = where.split(":", 1)[0]
    callers = [frame for frame in ours if not frame.startswith(f"{module}:")]
    if module in SHARED_HELPERS and callers:
        where += f"<{callers[-1]}"
    return f"{type(exc).__name__}@{where}"


class Recorder:
    """Wraps a target's ``test_one_input``: lets through the signatures it tolerates,
    counting them and keeping the first input of each."""

    def __init__(self, folder: Path, *, tolerate: Callable[[str], bool]) -> None:
        self._folder = folder
        self._tolerate = tolerate
        self.counts: dict[str, int] = {}
        self._written = 0.0

    def wrap(self, test_one_input: Callable[[bytes], None]) -> Callable[[bytes], None]:
        def recorded(data: bytes) -> None:
            try:
                test_one_input(data)
            except Exception as exc:
                name = signature(exc)
                if not self._tolerate(name):
                    raise
                self._record(name, data, exc)

        return recorded

    def _record(self, name: str, data: bytes, exc: Exception) -> None:
        first = name not in self.counts
        self.counts[name] = self.counts.get(name, 0) + 1
        if first:
            slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
            self._folder.mkdir(parents=True, exist_ok=True)
            (self._folder / f"finding-{slug}").write_bytes(data)
            (self._folder / f"finding-{slug}.txt").write_text(
                "".join(traceback.format_exception(exc)), encoding="utf-8"
            )
        now = time.monotonic()
        if first or now - self._written >= 1.0:
            self._written = now
            (self._folder / "findings.json").write_text(json.dumps(self.counts, indent=1), encoding="utf-8")
