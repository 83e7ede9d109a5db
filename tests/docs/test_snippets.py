"""Every Python code block in the README and the docs runs: a broken snippet fails the tests."""

from __future__ import annotations

import sys
import types
import warnings
from pathlib import Path

import pytest

from docs.markdown import Block, all_blocks

BLOCKS = all_blocks()


def test_there_are_snippets_to_check() -> None:
    """The collector finds the README's and the docs' Python blocks (so the test below is not vacuous)."""
    names = [block.name for block in BLOCKS]
    assert any(name.startswith("README.md") for name in names)
    assert len(names) >= 10


@pytest.mark.parametrize("block", BLOCKS, ids=[block.name for block in BLOCKS])
def test_snippet_runs(block: Block, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The block compiles and executes on its own (imports, configuration, app construction)."""
    monkeypatch.chdir(tmp_path)
    module = types.ModuleType(block.module)
    # Frameworks that resolve annotations (Litestar, FastAPI) look the module up by name.
    monkeypatch.setitem(sys.modules, module.__name__, module)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # apps built here are never served
        exec(compile(block.code, block.name, "exec"), module.__dict__)
