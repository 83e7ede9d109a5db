"""The ```python blocks of the README and the docs, as the tests read them.

One parser for every test that reads the documentation: the snippet tests
(``test_snippets.py``, ``test_snippet_types.py``) and the quick-start tests
(``tests/quickstarts``), which run a page's own block — never a copy of it.

A block is the text between a line ```` ```python ```` and the next line starting with
```` ``` ````. The HTML comment on the last non-blank line before a fence, if it is a
``<!-- snippet: ... -->`` marker, applies to that block; the only marker is
``<!-- snippet: no-typecheck (reason) -->`` (the block runs, but ``mypy --strict`` is
not asked about it), and a reason is required.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
_MARKER = re.compile(r"<!--\s*snippet:(?P<body>.*?)-->\s*$")
_NO_TYPECHECK = re.compile(r"\s*no-typecheck\s*\((?P<reason>[^)]*\S[^)]*)\)\s*")


@dataclass(frozen=True)
class Block:
    """One ```python block of a page."""

    page: Path
    #: Its place among the page's Python blocks, from 1.
    number: int
    code: str
    #: The page's line of the block's first line of code (from 1).
    line: int
    #: The body of the ``<!-- snippet: ... -->`` marker before its fence, if any.
    marker: str | None

    @property
    def name(self) -> str:
        """``docs/page.md#N``: how the tests name the block."""
        return f"{self.page.relative_to(ROOT).as_posix()}#{self.number}"

    @property
    def module(self) -> str:
        """A module name for the block (``snippet_docs_page_md_N``)."""
        return "snippet_" + re.sub(r"[^a-z0-9]", "_", self.name.lower())

    @property
    def no_typecheck(self) -> str | None:
        """The reason given in a ``no-typecheck`` marker (``None``: the block is checked)."""
        if self.marker is None:
            return None
        match = _NO_TYPECHECK.fullmatch(self.marker)
        return match.group("reason").strip() if match else None


def page_blocks(page: Path) -> list[Block]:
    """The Python blocks of one page, in order."""
    text = page.read_text(encoding="utf-8")
    found = []
    for number, match in enumerate(_BLOCK.finditer(text), start=1):
        before = text[: match.start()].rstrip().rsplit("\n", 1)[-1]
        marker = _MARKER.search(before)
        found.append(
            Block(
                page=page,
                number=number,
                code=match.group(1),
                line=text.count("\n", 0, match.start()) + 2,
                marker=marker.group("body") if marker else None,
            )
        )
    return found


def all_blocks() -> list[Block]:
    """Every Python block of the README and the docs."""
    return [block for page in PAGES for block in page_blocks(page)]


def block_after(page: str, heading: str) -> Block:
    """The first Python block of ``page`` (relative to the repository) after the first line
    that is exactly ``heading`` (a Markdown heading, or a bold label like ``**FastAPI**``)."""
    path = ROOT / page
    lines = path.read_text(encoding="utf-8").splitlines()
    try:
        start = lines.index(heading) + 1
    except ValueError:
        raise LookupError(f"{page} has no line {heading!r}") from None
    for block in page_blocks(path):
        if block.line > start:
            return block
    raise LookupError(f"{page} has no Python block after {heading!r}")
