"""Every Python code block in the README and the docs passes ``mypy --strict``.

A reader copies a snippet into a type-checked project: it must not need a ``# type:
ignore`` they have to invent, nor hide an ``Any`` where the library has a typed answer.
The blocks are written to one temporary directory, one module each, and checked by one
mypy run (its cache kept in the system's temporary directory, so a second run is quick);
each block is then its own test, named ``page.md#N`` and failing with its errors, the
lines given as lines of the page.

A block that cannot be checked on its own (intentionally partial) is marked with
``<!-- snippet: no-typecheck (the reason) -->`` on the line before its fence: it still
runs (``test_snippets.py``), and there may be at most ``MAX_EXEMPTIONS`` such blocks.
"""

from __future__ import annotations

import getpass
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import pytest

from docs.markdown import PAGES, ROOT, Block, all_blocks, page_blocks

#: How many blocks may skip type checking ("a handful").
MAX_EXEMPTIONS = 3
MYPY_TIMEOUT = 120

BLOCKS = all_blocks()
CHECKED = [block for block in BLOCKS if block.no_typecheck is None]
EXEMPT = [block for block in BLOCKS if block.no_typecheck is not None]

_LINE = re.compile(r"^(?P<file>[^:\s]+\.py):(?P<line>\d+):(?:\d+:)? (?P<kind>error|note): (?P<text>.*)$")


class MypyReport:
    """mypy's findings per block, and anything it said that belongs to no block."""

    def __init__(self, returncode: int, output: str, files: dict[str, Block]) -> None:
        self.returncode = returncode
        self.output = output
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.stray: list[str] = []
        for raw in output.splitlines():
            match = _LINE.match(raw)
            block = files.get(Path(match.group("file")).name) if match else None
            if match is None or block is None:
                if raw.strip():
                    self.stray.append(raw)
                continue
            page_line = block.line + int(match.group("line")) - 1
            where = f"{block.name} (line {page_line} of {block.page.name})"
            self.errors[block.name].append(f"{where}: {match.group('kind')}: {match.group('text')}")


def _cache_dir() -> Path:
    """mypy's cache for these runs: in the temporary directory, per user (not the repo's)."""
    return Path(tempfile.gettempdir()) / f"logto-asgi-snippets-mypy-{getpass.getuser()}"


@pytest.fixture(scope="module")
def mypy_report(tmp_path_factory: pytest.TempPathFactory) -> MypyReport:
    """One ``mypy --strict`` run over every block (exempt ones too: see the last test)."""
    directory = tmp_path_factory.mktemp("snippets")
    files: dict[str, Block] = {}
    for block in BLOCKS:
        path = directory / f"{block.module}.py"
        path.write_text(block.code, encoding="utf-8")
        files[path.name] = block
    # A config file of our own: strict, the package from src/ (its own errors are
    # `make lint`'s business, not the snippets'), and the repo's settings left out.
    config = directory / "mypy.ini"
    config.write_text(
        f"[mypy]\nstrict = True\nmypy_path = {ROOT / 'src'}\n[mypy-logto_asgi.*]\nfollow_imports = silent\n",
        encoding="utf-8",
    )
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        str(config),
        "--cache-dir",
        str(_cache_dir()),
        "--no-error-summary",
        "--no-pretty",
        "--no-color-output",
        "--show-error-codes",
        "--hide-error-context",
        *sorted(files),
    ]
    done = subprocess.run(
        command, cwd=directory, capture_output=True, text=True, timeout=MYPY_TIMEOUT, check=False
    )
    return MypyReport(done.returncode, done.stdout + done.stderr, files)


def test_mypy_ran(mypy_report: MypyReport) -> None:
    """mypy ran to the end (exit 0 or 1) and every line it printed belongs to a block."""
    assert mypy_report.returncode in (0, 1), mypy_report.output
    assert not mypy_report.stray, "\n".join(mypy_report.stray)


@pytest.mark.parametrize("block", CHECKED, ids=[block.name for block in CHECKED])
def test_snippet_type_checks(block: Block, mypy_report: MypyReport) -> None:
    """The block passes ``mypy --strict`` as written."""
    errors = mypy_report.errors.get(block.name, [])
    assert not errors, "mypy --strict:\n" + "\n".join(errors)


def test_exemptions_are_few_and_still_needed(mypy_report: MypyReport) -> None:
    """At most a handful of blocks skip type checking, each with its reason, and each
    still fails it (a marker on a block that passes is removed)."""
    listed = [f"{block.name}: {block.no_typecheck}" for block in EXEMPT]
    assert len(EXEMPT) <= MAX_EXEMPTIONS, "too many no-typecheck blocks:\n" + "\n".join(listed)
    stale = [block.name for block in EXEMPT if not mypy_report.errors.get(block.name)]
    assert not stale, f"these blocks pass mypy --strict: remove their no-typecheck marker: {stale}"


def test_markers_are_well_formed() -> None:
    """A ``<!-- snippet: ... -->`` marker says ``no-typecheck (reason)`` and stands on the
    line before a fence: anything else (a typo, no reason, a stray place) would silently
    change nothing."""
    malformed = [f"{b.name}: {b.marker!r}" for b in BLOCKS if b.marker is not None and b.no_typecheck is None]
    assert not malformed, "\n".join(malformed)
    for page in PAGES:
        placed = sum(1 for block in page_blocks(page) if block.marker is not None)
        written = len(re.findall(r"<!--\s*snippet:", page.read_text(encoding="utf-8")))
        assert written == placed, f"{page.name}: a snippet marker that is not right before a ```python fence"
