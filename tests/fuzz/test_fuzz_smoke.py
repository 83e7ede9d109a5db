"""A short run of every fuzz target (fuzz/, tools/fuzz.py), and proof that the runner
reports a crash. The long runs are ``make fuzz``; docs/fuzzing.md.

Each run goes through tools/fuzz.py in a subprocess, as ``make fuzz`` does, with its
corpus and crash folders in a temporary directory. Known, reported crashes of src/
(``fuzz/_findings.py``) are tolerated here so that ``make test`` stays green until they
are fixed; any other crash fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("atheris", reason="atheris has wheels for CPython 3.11-3.13 on x86-64 Linux only")

ROOT = Path(__file__).resolve().parents[2]
SECONDS_PER_TARGET = 2


def fuzz(tmp_path: Path, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    """Run tools/fuzz.py: its exit code, its JSON results and its output."""
    results = tmp_path / "results.json"
    command = [
        sys.executable,
        str(ROOT / "tools" / "fuzz.py"),
        *args,
        "--corpus",
        str(tmp_path / "corpus"),
        "--crashes",
        str(tmp_path / "crashes"),
        "--json",
        str(results),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    output = done.stdout + done.stderr
    assert results.exists(), output
    return done.returncode, json.loads(results.read_text("utf-8")), output


def targets() -> list[str]:
    listed = subprocess.run(
        [sys.executable, "-m", "fuzz", "--list"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return listed.stdout.split()


def test_every_target_runs_and_finds_no_new_crash(tmp_path: Path) -> None:
    """Every target executes inputs for a few seconds and finds no crash beyond the known ones."""
    names = targets()
    assert len(names) == 8
    code, results, output = fuzz(
        tmp_path, "--seconds", str(SECONDS_PER_TARGET), "--jobs", "2", "--tolerate-known"
    )
    assert [r["target"] for r in results] == names
    for result in results:
        assert result["executions"] > 0, output
        assert result["cov"] > 0, output
        assert not result["crashed"], output
    assert code == 0, output


def test_a_crashing_target_fails_the_run(tmp_path: Path) -> None:
    """A target that crashes is reported: exit 1, its input kept, its exception named."""
    code, results, output = fuzz(tmp_path, "--seconds", "20", "--only", "selftest_crash")
    assert code == 1, output
    (result,) = results
    assert result["crashed"] and len(result["crashes"]) == 1, output
    assert Path(result["crashes"][0]).read_bytes().startswith(b"!")
    assert "RuntimeError: the self-test target crashed" in result["error"]
    assert "CRASH in selftest_crash" in output


def test_a_survey_counts_an_unknown_crash_as_one(tmp_path: Path) -> None:
    """--survey goes on past crashes, but one that is not a known finding still fails the run."""
    code, results, output = fuzz(tmp_path, "--seconds", "2", "--only", "selftest_crash", "--survey")
    assert code == 1, output
    (result,) = results
    assert result["crashes"] == [] and result["executions"] > 1000, output
    assert result["new_findings"] == ["RuntimeError@selftest_crash.py:test_one_input"], output
    assert result["findings"][result["new_findings"][0]] >= 1
