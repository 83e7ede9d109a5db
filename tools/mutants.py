"""Mutation testing of logto-asgi's security checks (``make mutants``; stdlib only).

Each mutant weakens one check in a security-critical module (``TARGETS``): a comparison
flipped, ``and``/``or`` swapped, a ``not`` dropped, a ``raise`` under an ``if`` made ``pass``
(or, when the ``if`` only raises, its condition made ``False``), a limit moved by one,
``hmac.compare_digest(...)`` made ``True``, ``fullmatch`` → ``match``, ``startswith`` ↔
``endswith``, ``"none"``/``"HS256"`` added to an ``ALLOWED_*`` tuple. The module's tests
must then fail ("killed"); a survivor is a check that no test pins.

    .venv/bin/python tools/mutants.py --list             # every mutant, sites per module
    .venv/bin/python tools/mutants.py --max 12           # an evenly spread sample
    .venv/bin/python tools/mutants.py --only tokens.py:  # descriptions containing this
    make mutants MUTANTS_ARGS="--max 30 --tests tests/unit --timeout 120 --min-score 90"

Why a copy: others use the work tree meanwhile, so nothing under src/ is ever written.
src/logto_asgi is snapshotted once; each mutant goes into a fresh temp copy of it, first on
PYTHONPATH so it shadows the editable install (checked at start-up). pytest runs in the repo
root (pyproject's ``pythonpath = ["tests"]``, the live tests/) and must first pass on the
unmutated copy, else the run aborts. Sites come from the AST, not line numbers; docstrings,
f-strings, ``logger.*`` calls, ``assert``, ``__repr__`` and annotations are left alone. A
mutated module is rewritten by ``ast.unparse`` (the baseline runs on round-tripped modules).
Output: a line per mutant, a summary, .mutants/report.json; exit 1 below --min-score.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "logto_asgi"
REPORT = ROOT / ".mutants" / "report.json"

#: (module path relative to src/logto_asgi, qualnames to restrict to; None = the whole file).
#: A missing file is skipped with a warning, so renames only need an edit here.
TARGETS: list[tuple[str, tuple[str, ...] | None]] = [
    ("tokens.py", None),
    ("token_service.py", None),
    ("flows.py", None),
    ("_crypto.py", None),
    ("transaction.py", None),
    ("routes.py", None),
    ("_refresh.py", None),
    ("bearer.py", None),
    ("bearer_context.py", None),
    ("backchannel.py", None),
    ("callback_checks.py", None),
    ("sign_out_guard.py", None),
    ("redirects.py", None),
    ("cache_headers.py", None),
    ("sessions/cookie.py", None),
    ("config.py", ("LogtoConfig._check_cookie_prefix", "LogtoConfig._check_paths", "_secure_origin")),
    ("guard_rules.py", None),
    ("hooks.py", None),
    ("sign_in_options.py", None),
    ("silent_sign_in.py", None),
    ("error_hook.py", None),
    ("discovery.py", ("accepted_issuers", "ProviderMetadata.check_issuer")),
    ("introspection.py", None),
    ("signed_userinfo.py", None),
    ("frontchannel.py", None),
    ("_speedups.py", None),
    (
        "sessions/_redis_tracking.py",
        (
            "TrackedValues.fresh",
            "TrackedValues.get",
            "TrackedValues.keep",
            "TrackedValues.forget",
            "TrackedValues._on_message",
        ),
    ),
    (
        "session_auth.py",
        (
            "SessionAuthenticator.__init__",
            "SessionAuthenticator.authenticate",
            "SessionAuthenticator._authenticate_cookies",
            "SessionAuthenticator._authenticate_sealed",
        ),
    ),
]
#: Fast tests that need neither Redis nor the npm provider (but tests/hostile's log test).
DEFAULT_TESTS = ("tests/unit", "tests/hostile")
#: Modules whose checks the default selection does not reach (--tests overrides all).
MODULE_TESTS: dict[str, tuple[str, ...]] = {
    "routes.py": (*DEFAULT_TESTS, "tests/flows", "tests/stores/test_backchannel_tokens.py"),
    "backchannel.py": (*DEFAULT_TESTS, "tests/stores/test_backchannel_tokens.py"),
    "token_service.py": (*DEFAULT_TESTS, "tests/flows", "tests/stores/test_sign_out_race.py"),
    "_refresh.py": (
        *DEFAULT_TESTS,
        "tests/stores/test_refresh_race.py",
        "tests/stores/test_sign_out_race.py",
        "tests/flows/test_tokens.py",
    ),
    "bearer.py": (*DEFAULT_TESTS, "tests/guards"),
    "callback_checks.py": (*DEFAULT_TESTS, "tests/flows/test_callback_query.py"),
    "frontchannel.py": ("tests/stores/test_frontchannel.py",),
    "session_auth.py": (
        *DEFAULT_TESTS,
        "tests/flows/test_sign_in_journey.py",
        "tests/stores/test_frontchannel.py",
        "tests/stores/test_server_side_flows.py",
    ),
    "guard_rules.py": (*DEFAULT_TESTS, "tests/guards"),
    "hooks.py": ("tests/flows/test_hooks.py",),
    "sign_in_options.py": ("tests/unit/test_sign_in_options.py", "tests/flows/test_sign_in_requests.py"),
    "silent_sign_in.py": ("tests/flows/test_sign_in_requests.py",),
    "error_hook.py": ("tests/flows/test_error_hook.py", "tests/unit/test_error_pages.py"),
    "introspection.py": (*DEFAULT_TESTS, "tests/generic/test_dot_flows.py"),
    "_speedups.py": (
        "tests/unit/test_speedups.py",
        "tests/unit/test_crypto_edges.py",
        "tests/unit/test_crypto.py",
    ),
    "sessions/_redis_tracking.py": (
        "tests/unit/test_redis_tracking.py",
        "tests/stores/test_redis_local_cache.py",
    ),
}
ALLOWLIST_NAME = re.compile(r"^_?ALLOWED_|_ALGORITHMS$")
FORBIDDEN_VALUES = ("none", "HS256")
_PAIRS = [(ast.Eq, ast.NotEq), (ast.Lt, ast.LtE), (ast.Gt, ast.GtE), (ast.In, ast.NotIn), (ast.Is, ast.IsNot)]
FLIPS: dict[type[ast.cmpop], type[ast.cmpop]] = {**dict(_PAIRS), **{b: a for a, b in _PAIRS}}
METHOD_SWAPS = {"fullmatch": "match", "startswith": "endswith", "endswith": "startswith"}
SKIPPED_FIELDS = frozenset({"annotation", "returns", "type_comment"})
LOGGERS = frozenset({"logger", "logging", "log"})

PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-x", "-q", "--no-header"]
if importlib.util.find_spec("pytest_randomly") is not None:
    PYTEST += ["-p", "no:randomly"]
if importlib.util.find_spec("hypothesis") is not None:
    PYTEST.append("--hypothesis-seed=0")  # the same examples for every mutant
RUNNING: set[int] = set()  # process groups of the pytest runs under way
SHADOW_CHECK = (  # run with the copy first on PYTHONPATH: the import must come from there
    f"import os, {PACKAGE} as m; f, top = (os.path.realpath(p) for p in (m.__file__, "
    "os.environ['PYTHONPATH'].split(os.pathsep)[0])); print(f); exit(not f.startswith(top + os.sep))"
)


@dataclass
class Slot:
    """Where a node hangs in its parent, so that a mutant can replace it."""

    parent: ast.AST
    name: str
    index: int | None = None

    def get(self) -> ast.AST:
        value = getattr(self.parent, self.name)
        node = value if self.index is None else value[self.index]
        assert isinstance(node, ast.AST)
        return node

    def set(self, node: ast.AST) -> None:
        if self.index is None:
            setattr(self.parent, self.name, node)
        else:
            getattr(self.parent, self.name)[self.index] = node

    def text(self) -> str:
        return ast.unparse(self.get())


@dataclass
class Site:
    line: int
    operator: str
    show: Callable[[], str]  # the small node around the change, before or after it
    apply: Callable[[], None]


@dataclass
class Mutant:
    module: str
    description: str
    source: str  # the whole mutated module
    error: str | None = None


@dataclass
class Result:
    description: str
    status: str  # KILLED, SURVIVED, TIMEOUT or ERROR (the mutant could not be applied)
    seconds: float
    returncode: int | None
    killed_by: str


def _children(node: ast.AST) -> Iterator[tuple[ast.AST, Slot]]:
    for name, value in ast.iter_fields(node):
        if name in SKIPPED_FIELDS:
            continue
        if isinstance(value, ast.AST):
            yield value, Slot(node, name)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, ast.AST):
                    yield item, Slot(node, name, index)


def _skipped(node: ast.AST) -> bool:
    if isinstance(node, ast.Assert | ast.JoinedStr):
        return True
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return isinstance(node.value.value, str)  # a docstring
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        owner = node.func.value
        return isinstance(owner, ast.Name) and owner.id in LOGGERS
    return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "__repr__"


def _target_names(node: ast.Assign | ast.AnnAssign) -> list[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return [target.id for target in targets if isinstance(target, ast.Name)]


#: Tuning durations (cache lifetimes, polls, waits): one second more is not a weakened
#: check, and no test should pin it. Security windows that are checks stay mutated.
_DURATION = re.compile(r"(_TTL|_TIMEOUT|_INTERVAL|_MEMORY|_POLL)$")
_SECURITY_WINDOWS = frozenset({"TRANSACTION_TTL"})


def _is_limit(name: str) -> bool:
    return name.isupper() and (name in _SECURITY_WINDOWS or not _DURATION.search(name))


def _limit_context(node: ast.AST) -> ast.AST | None:
    """Numbers are mutated inside comparisons and in UPPER_CASE limit constants only
    (not tuning durations: see ``_DURATION``)."""
    if isinstance(node, ast.Compare):
        return node
    if isinstance(node, ast.Assign | ast.AnnAssign) and any(_is_limit(n) for n in _target_names(node)):
        return node
    return None


def _replace(slot: Slot, line: int, operator: str, new: ast.AST) -> Site:
    return Site(line, operator, slot.text, partial(slot.set, new))


def _edit(shown: ast.AST, operator: str, obj: ast.AST, attr: str, value: object) -> Site:
    """Set ``obj.attr = value``; the description shows ``shown`` before and after."""
    apply = partial(setattr, obj, attr, value)
    return Site(getattr(shown, "lineno", 0), operator, partial(ast.unparse, shown), apply)


def _compare_sites(node: ast.Compare) -> list[Site]:
    ops = node.ops
    return [
        _edit(node, "flip", node, "ops", [*ops[:i], FLIPS[type(op)](), *ops[i + 1 :]])
        for i, op in enumerate(ops)
        if type(op) in FLIPS
    ]


def _if_sites(node: ast.If) -> list[Site]:
    """A check that only raises loses its condition; other raises under an if become pass."""
    if all(isinstance(stmt, ast.Raise) for stmt in node.body):
        test = partial(setattr, node, "test", ast.Constant(False))
        return [Site(node.lineno, "if-false", lambda: f"if {ast.unparse(node.test)}:", test)]
    return [
        _replace(Slot(node, "body", i), stmt.lineno, "no-raise", ast.Pass())
        for i, stmt in enumerate(node.body)
        if isinstance(stmt, ast.Raise)
    ]


def _call_sites(node: ast.Call, slot: Slot) -> list[Site]:
    func = node.func
    if not isinstance(func, ast.Attribute):
        return []
    if func.attr == "compare_digest":
        return [_replace(slot, node.lineno, "digest", ast.Constant(True))]
    swapped = METHOD_SWAPS.get(func.attr)
    if swapped is None:
        return []
    return [_edit(node, "method", func, "attr", swapped)]


def _number_sites(node: ast.Constant, context: ast.AST) -> list[Site]:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return []
    return [_edit(context, "number", node, "value", value + 1)]


def _allowlist_sites(node: ast.Assign | ast.AnnAssign) -> list[Site]:
    value = node.value
    names = _target_names(node)
    if not isinstance(value, ast.Tuple | ast.List | ast.Set) or not any(map(ALLOWLIST_NAME.search, names)):
        return []
    present = {elt.value for elt in value.elts if isinstance(elt, ast.Constant)}
    return [
        _edit(node, "allowlist", value, "elts", [*value.elts, ast.Constant(v)])
        for v in FORBIDDEN_VALUES
        if v not in present
    ]


def _sites(node: ast.AST, slot: Slot, limit: ast.AST | None) -> list[Site]:
    if isinstance(node, ast.Compare):
        return _compare_sites(node)
    if isinstance(node, ast.BoolOp):
        return [_edit(node, "and/or", node, "op", ast.Or() if isinstance(node.op, ast.And) else ast.And())]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return [_replace(slot, node.lineno, "drop-not", node.operand)]
    if isinstance(node, ast.If):
        return _if_sites(node)
    if isinstance(node, ast.Call):
        return _call_sites(node, slot)
    if isinstance(node, ast.Constant) and limit is not None:
        return _number_sites(node, limit)
    if isinstance(node, ast.Assign | ast.AnnAssign):
        return _allowlist_sites(node)
    return []


class Collector:
    """Every site of a module, in a fixed (depth-first) order."""

    def __init__(self, only: tuple[str, ...] | None) -> None:
        self.only = only
        self.sites: list[Site] = []

    def wanted(self, qualname: str) -> bool:
        return self.only is None or any(qualname == n or qualname.startswith(f"{n}.") for n in self.only)

    def visit(self, node: ast.AST, slot: Slot | None, qualname: str, limit: ast.AST | None) -> None:
        if _skipped(node):
            return
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            qualname = f"{qualname}.{node.name}" if qualname else node.name
        limit = _limit_context(node) or limit
        if slot is not None and self.wanted(qualname):
            self.sites.extend(_sites(node, slot, limit))
        for child, child_slot in _children(node):
            self.visit(child, child_slot, qualname, limit)


def collect(tree: ast.Module, only: tuple[str, ...] | None) -> list[Site]:
    collector = Collector(only)
    collector.visit(tree, None, "", None)
    return collector.sites


def _short(text: str, width: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def build_mutants(module: str, source: str, only: tuple[str, ...] | None) -> list[Mutant]:
    """One mutant per site; each is applied to a fresh parse of the same source."""
    mutants = []
    for index in range(len(collect(ast.parse(source), only))):
        tree = ast.parse(source)
        site = collect(tree, only)[index]
        before = site.show()
        site.apply()
        description = f"{module}:{site.line}: {site.operator} {_short(before)} → {_short(site.show())}"
        try:
            mutated = ast.unparse(tree)
            compile(mutated, module, "exec")
        except (SyntaxError, ValueError, TypeError) as exc:
            mutants.append(Mutant(module, description, "", error=repr(exc)))
            continue
        mutants.append(Mutant(module, description, mutated))
    return mutants


def sample(groups: Sequence[Sequence[Mutant]], limit: int | None) -> list[Mutant]:
    """At most ``limit`` mutants: quotas dealt round-robin over the modules, then the
    middles of equal slices of each module's sites (deterministic)."""
    if limit is None:
        return [m for group in groups for m in group]
    quotas = [0] * len(groups)
    left = limit
    while left > 0 and any(q < len(g) for q, g in zip(quotas, groups, strict=True)):
        for i, group in enumerate(groups):
            if left > 0 and quotas[i] < len(group):
                quotas[i] += 1
                left -= 1
    return [g[(2 * k + 1) * len(g) // (2 * q)] for g, q in zip(groups, quotas, strict=True) for k in range(q)]


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def in_copy(
    snapshot: Path, files: dict[str, str], cmd: Sequence[str], timeout: float
) -> tuple[int | None, str]:
    """Run ``cmd`` against a temp copy of the snapshot with ``files`` overwritten, in its
    own process group (so a timeout also ends the npm provider it started)."""
    tmp = Path(tempfile.mkdtemp(prefix="logto-mutant-"))
    try:
        shutil.copytree(snapshot, tmp / "src" / PACKAGE)
        for module, source in files.items():
            (tmp / "src" / PACKAGE / module).write_text(source)
        env = {k: v for k, v in os.environ.items() if k != "COVERAGE_PROCESS_START"}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(tmp / "src"), env.get("PYTHONPATH")) if p)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["HYPOTHESIS_STORAGE_DIRECTORY"] = str(tmp / "hypothesis")  # not the work tree's
        with (tmp / "out.log").open("w") as log:
            proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            RUNNING.add(proc.pid)
            try:
                returncode: int | None = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                returncode = None
            finally:
                _kill_group(proc.pid)  # this run's leftovers only
                proc.wait()
                RUNNING.discard(proc.pid)
        return returncode, (tmp / "out.log").read_text(errors="replace")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _killer(output: str) -> str:
    failed = [line for line in output.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    return _short(failed[0], 160) if failed else ""


def tests_for(module: str, override: str | None) -> tuple[str, ...]:
    return tuple(override.split()) if override else MODULE_TESTS.get(module, DEFAULT_TESTS)


def run_mutant(mutant: Mutant, snapshot: Path, tests: Sequence[str], timeout: float) -> Result:
    if mutant.error is not None:
        return Result(mutant.description, "ERROR", 0.0, None, mutant.error)
    started = time.monotonic()
    returncode, output = in_copy(snapshot, {mutant.module: mutant.source}, [*PYTEST, *tests], timeout)
    seconds = time.monotonic() - started
    if returncode is None:
        return Result(mutant.description, "TIMEOUT", seconds, None, "")
    status = "SURVIVED" if returncode == 0 else "KILLED"
    return Result(mutant.description, status, seconds, returncode, _killer(output))


def check_shadowing(snapshot: Path) -> None:
    """The copy, first on PYTHONPATH, must win over the editable install."""
    returncode, output = in_copy(snapshot, {}, [sys.executable, "-c", SHADOW_CHECK], 60)
    if returncode != 0:
        sys.exit(f"mutants: importing {PACKAGE} from the temp copy failed or missed it:\n{output}")


def baseline(snapshot: Path, selections: set[tuple[str, ...]], modules: Sequence[str]) -> None:
    """The unmutated snapshot (target modules round-tripped through ast) must pass."""
    files = {m: ast.unparse(ast.parse((snapshot / m).read_text())) for m in modules}
    for tests in sorted(selections):
        started = time.monotonic()
        returncode, output = in_copy(snapshot, files, [*PYTEST, *tests], 1800)
        print(f"baseline {' '.join(tests)}: exit {returncode} in {time.monotonic() - started:.1f}s")
        if returncode != 0:
            print("\n".join(output.splitlines()[-40:]))
            sys.exit("mutants: the baseline fails without any mutation; fix that first")


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("--max", type=int, default=None, help="run at most N mutants, spread evenly")
    parser.add_argument("--only", default="", help="only mutants whose description contains this")
    parser.add_argument("--tests", default=None, help='test paths for every mutant, e.g. "tests/unit"')
    parser.add_argument("--timeout", type=float, default=300, help="seconds per mutant (default 300)")
    parser.add_argument("--min-score", type=float, default=95, help="percent killed to pass (default 95)")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="mutants run at once (default 1)")
    return parser.parse_args(argv)


def load_groups(snapshot: Path, only: str) -> tuple[list[list[Mutant]], dict[str, int]]:
    groups, counts = [], {}
    for module, qualnames in TARGETS:
        path = snapshot / module
        if not path.is_file():
            print(f"warning: src/{PACKAGE}/{module} does not exist: skipped", file=sys.stderr)
            continue
        mutants = build_mutants(module, path.read_text(), qualnames)
        counts[module] = len(mutants)
        groups.append([m for m in mutants if only in m.description])
    return groups, counts


def run_all(mutants: Sequence[Mutant], snapshot: Path, args: argparse.Namespace) -> list[Result]:
    results = []
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [
            pool.submit(run_mutant, m, snapshot, tests_for(m.module, args.tests), args.timeout)
            for m in mutants
        ]
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                r = future.result()
                results.append(r)
                killer = f"  [{r.killed_by}]" if r.killed_by else ""
                print(f"[{done:3}/{len(mutants)}] {r.status:8} {r.seconds:5.1f}s  {r.description}{killer}")
        except KeyboardInterrupt:
            for future in futures:
                future.cancel()
            for pid in list(RUNNING):
                _kill_group(pid)
            raise
    return results


def summarize(results: Sequence[Result], args: argparse.Namespace, elapsed: float) -> int:
    by_status = {s: sum(r.status == s for r in results) for s in ("KILLED", "SURVIVED", "TIMEOUT", "ERROR")}
    applied = len(results) - by_status["ERROR"]
    killed = by_status["KILLED"] + by_status["TIMEOUT"]
    score = 100 * killed / applied if applied else 0.0
    print(
        f"\napplied {applied}, killed {by_status['KILLED']}, timeout {by_status['TIMEOUT']}, "
        f"survived {by_status['SURVIVED']}, not applicable {by_status['ERROR']}: "
        f"score {score:.1f}% (minimum {args.min_score:g}%) in {elapsed:.0f}s"
    )
    for r in results:
        if r.status == "SURVIVED":
            print(f"  SURVIVED {r.description}")
    summary = {"applied": applied, "killed": killed, "score": round(score, 2), **by_status}
    REPORT.parent.mkdir(exist_ok=True)
    report = {"summary": summary, "seconds": round(elapsed, 1), "mutants": [asdict(r) for r in results]}
    REPORT.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"report: {REPORT.relative_to(ROOT)}")
    return 0 if applied and score >= args.min_score else 1


def main(argv: Sequence[str] | None = None) -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean up on kill as on ^C
    args = _parse_args(argv)
    snapshot = Path(tempfile.mkdtemp(prefix="logto-mutants-snapshot-")) / PACKAGE
    try:
        shutil.copytree(ROOT / "src" / PACKAGE, snapshot, ignore=shutil.ignore_patterns("__pycache__"))
        groups, counts = load_groups(snapshot, args.only)
        mutants = sample(groups, args.max)
        if args.list:
            for m in mutants:
                print(m.description + (f"  (cannot apply: {m.error})" if m.error else ""))
            print(f"{len(mutants)} mutants; sites per module: {json.dumps(counts)}")
            return 0
        print(f"sites per module: {json.dumps(counts)}; running {len(mutants)}")
        check_shadowing(snapshot)
        baseline(snapshot, {tests_for(m.module, args.tests) for m in mutants}, list(counts))
        started = time.monotonic()
        results = run_all(mutants, snapshot, args)
        return summarize(results, args, time.monotonic() - started)
    finally:
        shutil.rmtree(snapshot.parent, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("mutants: interrupted")
