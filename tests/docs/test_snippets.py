"""Every Python code block in the README and the docs runs: a broken snippet fails the tests."""

from __future__ import annotations

import re
import sys
import types
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def snippets() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for number, match in enumerate(BLOCK.finditer(page.read_text()), start=1):
            found.append((f"{page.relative_to(ROOT)}#{number}", match.group(1)))
    return found


def test_there_are_snippets_to_check() -> None:
    """The collector finds the README's and the docs' Python blocks (so the test below is not vacuous)."""
    names = [name for name, _ in snippets()]
    assert any(name.startswith("README.md") for name in names)
    assert len(names) >= 10


@pytest.mark.parametrize(("name", "code"), snippets(), ids=[name for name, _ in snippets()])
def test_snippet_runs(name: str, code: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The block compiles and executes on its own (imports, configuration, app construction)."""
    monkeypatch.chdir(tmp_path)
    module = types.ModuleType(f"snippet_{re.sub(r'[^a-z0-9]', '_', name.lower())}")
    # Frameworks that resolve annotations (Litestar, FastAPI) look the module up by name.
    monkeypatch.setitem(sys.modules, module.__name__, module)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # apps built here are never served
        exec(compile(code, name, "exec"), module.__dict__)
