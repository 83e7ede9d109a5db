"""Coverage-guided fuzzing of logto-asgi's parsers of hostile input (``make fuzz``).

Runs each target of ``fuzz/`` (atheris, i.e. libFuzzer) in its own process, for a time or a
number of executions, and prints one line per target: executions, coverage (libFuzzer's
``cov:`` edges and ``ft:`` features), executions per second, crashes. Exit 1 on any crash.

    .venv/bin/python tools/fuzz.py                       # every target, 60 s each
    .venv/bin/python tools/fuzz.py --seconds 10 --only jwt --only jwks
    .venv/bin/python tools/fuzz.py --runs 1000000 --tolerate-known   # the long run
    make fuzz FUZZ_SECONDS=300 FUZZ_ARGS="--jobs 2"

Each target starts from its seeds (written by the target itself, with the real keys) plus
what earlier runs found: fuzz/corpus/<target>/ (git-ignored). A crash leaves its input in
fuzz/crashes/<target>/crash-<sha1> (emptied at the start of each run of that target) with
the log; replay it with ``.venv/bin/python -m fuzz <target> fuzz/crashes/<target>/crash-…``.
``--tolerate-known`` counts the crashes already reported (``fuzz/_findings.py``) instead
of stopping at them; ``--survey`` counts every one. docs/fuzzing.md says more.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "fuzz" / "corpus"
CRASHES = ROOT / "fuzz" / "crashes"
#: libFuzzer's status lines: ``#1234  NEW    cov: 56 ft: 78 corp: ...``.
_STATUS = re.compile(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+)(?: corp: (\d+)/)?", re.MULTILINE)
_STAT = re.compile(r"^stat::(\w+):\s+(\d+)", re.MULTILINE)
_EXCEPTION = re.compile(r"=== Uncaught Python exception: ===\n(.+)")


def _load(module: str, path: Path) -> ModuleType:
    """A module of ``fuzz/`` loaded from its path: in this script ``import fuzz`` would
    find the script itself. (Only modules without relative imports.)"""
    spec = importlib.util.spec_from_file_location(module, path)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def registry() -> tuple[dict[str, str], dict[str, str]]:
    """The targets and the self-test targets of ``fuzz/__init__.py``."""
    module = _load("_fuzz_registry", ROOT / "fuzz" / "__init__.py")
    return dict(module.TARGETS), dict(module.SELF_TESTS)


def known_findings() -> dict[str, str]:
    """The crash signatures already reported (``fuzz/_findings.py``)."""
    return dict(_load("_fuzz_findings", ROOT / "fuzz" / "_findings.py").KNOWN)


@dataclass
class Result:
    """What one target's run gave."""

    target: str
    executions: int = 0
    cov: int = 0
    ft: int = 0
    corpus: int = 0
    exec_per_sec: int = 0
    seconds: float = 0.0
    returncode: int = 0
    crashes: list[str] = field(default_factory=list)
    #: Crash signature -> count, for crashes tolerated (``--tolerate-known``/``--survey``).
    findings: dict[str, int] = field(default_factory=dict)
    error: str = ""
    log: str = ""

    @property
    def new_findings(self) -> list[str]:
        """Tolerated crash signatures that are not known (``--survey`` finds those)."""
        known = known_findings()
        return sorted(name for name in self.findings if name not in known)

    @property
    def crashed(self) -> bool:
        return self.returncode != 0 or bool(self.crashes) or bool(self.new_findings)


def parse_log(result: Result, text: str) -> None:
    """Fill ``result`` from libFuzzer's output."""
    statuses = _STATUS.findall(text)
    if statuses:
        runs, cov, ft, corpus = statuses[-1]
        result.executions, result.cov, result.ft = int(runs), int(cov), int(ft)
        result.corpus = int(corpus or 0)
    stats = dict(_STAT.findall(text))
    result.executions = max(result.executions, int(stats.get("number_of_executed_units", 0)))
    result.exec_per_sec = int(stats.get("average_exec_per_sec", 0))
    if not result.exec_per_sec and result.seconds:
        result.exec_per_sec = int(result.executions / result.seconds)
    exception = _EXCEPTION.search(text)
    if exception:
        result.error = exception.group(1).strip()
    elif result.returncode != 0:
        tail = [line for line in text.splitlines() if line.strip()][-3:]
        result.error = " | ".join(tail)


def run_target(name: str, options: argparse.Namespace) -> Result:
    corpus = Path(options.corpus) / name
    artifacts = Path(options.crashes) / name
    artifacts.mkdir(parents=True, exist_ok=True)
    for old in artifacts.iterdir():
        if old.is_file():
            old.unlink()
    budget = f"-runs={options.runs}" if options.runs else f"-max_total_time={options.seconds}"
    command = [
        sys.executable,
        "-m",
        "fuzz",
        name,
        "--seeds",
        str(corpus),
        *(["--tolerate-known"] if options.tolerate_known else []),
        *(["--survey"] if options.survey else []),
        budget,
        "-print_final_stats=1",
        f"-artifact_prefix={artifacts}{os.sep}",
        f"-timeout={options.timeout}",
        "-rss_limit_mb=2048",
        *options.libfuzzer,
    ]
    result = Result(name)
    log = artifacts / "fuzz.log"
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.run(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, check=False)
    result.seconds = round(time.monotonic() - started, 1)
    result.returncode = process.returncode
    result.log = str(log)
    parse_log(result, log.read_text("utf-8", "replace"))
    result.crashes = sorted(
        str(path)
        for path in artifacts.iterdir()
        if path.name.startswith(("crash-", "timeout-", "oom-", "leak-"))
    )
    findings = artifacts / "findings.json"
    if findings.exists():
        result.findings = json.loads(findings.read_text("utf-8"))
    return result


def table(results: list[Result]) -> str:
    rows = [("target", "executions", "cov", "ft", "corpus", "exec/s", "seconds", "crashes", "tolerated")]
    for r in results:
        crashes = str((len(r.crashes) or (1 if r.returncode else 0)) + len(r.new_findings))
        known = str(sum(r.findings.values())) + (f" ({len(r.findings)} kinds)" if r.findings else "")
        rows.append(
            (
                r.target,
                f"{r.executions:,}",
                str(r.cov),
                str(r.ft),
                str(r.corpus),
                f"{r.exec_per_sec:,}",
                f"{r.seconds:g}",
                crashes,
                known,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    return "\n".join(lines)


def report(results: list[Result]) -> str:
    lines = [table(results)]
    for r in results:
        if r.crashed:
            lines.append(f"\nCRASH in {r.target}: {r.error or 'see the log'}")
            lines.extend(f"  input: {path}" for path in r.crashes)
            lines.append(f"  log:   {r.log}")
            lines.append(f"  replay: {os.path.relpath(sys.executable, ROOT)} -m fuzz {r.target} <input>")
        new = r.new_findings
        for name, count in sorted(r.findings.items()):
            kind = "NEW crash" if name in new else "known crash"
            lines.append(
                f"{r.target}: {kind} {name} x{count} (input and traceback: {r.log.rsplit(os.sep, 1)[0]})"
            )
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    targets, self_tests = registry()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=60, help="per target (default 60)")
    parser.add_argument("--runs", type=int, default=0, help="executions per target, instead of --seconds")
    parser.add_argument(
        "--only", action="append", choices=[*targets, *self_tests], help="this target (repeatable)"
    )
    parser.add_argument("--jobs", type=int, default=1, help="targets run at once (default 1)")
    parser.add_argument("--corpus", default=str(CORPUS), help="corpus root (default fuzz/corpus)")
    parser.add_argument(
        "--crashes", default=str(CRASHES), help="crash inputs and logs (default fuzz/crashes)"
    )
    parser.add_argument("--timeout", type=int, default=30, help="seconds one input may take (default 30)")
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--tolerate-known", action="store_true", help="count the reported crashes, go on")
    modes.add_argument("--survey", action="store_true", help="count every crash, go on")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("libfuzzer", nargs="*", help="extra libFuzzer options, after --")
    options = parser.parse_args(argv)
    options.only = options.only or list(targets)
    return options


def main(argv: list[str]) -> int:
    options = parse_args(argv)
    budget = f"{options.runs:,} executions" if options.runs else f"{options.seconds} s"
    print(f"fuzzing {len(options.only)} target(s), {budget} each, {options.jobs} at a time", flush=True)
    with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        futures = [pool.submit(run_target, name, options) for name in options.only]
        results = []
        for future in futures:
            result = future.result()
            results.append(result)
            state = "CRASH" if result.crashed else "ok"
            print(
                f"  {result.target}: {state}, {result.executions:,} executions in {result.seconds:g} s",
                flush=True,
            )
    print(report(results))
    if options.json:
        Path(options.json).write_text(
            json.dumps(
                [{**asdict(r), "crashed": r.crashed, "new_findings": r.new_findings} for r in results],
                indent=1,
            ),
            encoding="utf-8",
        )
    return 1 if any(r.crashed for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
