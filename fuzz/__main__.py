"""Run one fuzz target under libFuzzer (atheris).

    python -m fuzz --list
    python -m fuzz NAME [--seeds DIR] [--tolerate-known | --survey]
                        [libFuzzer options] [corpus dirs or input files]

``--seeds DIR`` writes the target's seeds into DIR and adds DIR as the (first) corpus
directory, where libFuzzer also keeps the new inputs it finds. An input file instead of a
directory runs just that input: how a crash reproduces (``python -m fuzz jwt crash-…``).
``--tolerate-known`` counts the crashes already reported (``fuzz._findings.KNOWN``)
instead of stopping; ``--survey`` counts every crash (see ``fuzz._findings``).
``tools/fuzz.py`` (``make fuzz``) runs every target and sums up.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import atheris

from . import ALL_TARGETS, TARGETS

#: Where coverage is measured (and guides the fuzzer): our package and the JOSE library.
INSTRUMENTED = ["logto_asgi", "joserfc"]


def _load(name: str) -> Any:
    """The target's module, imported under atheris's coverage instrumentation."""
    already = [module for module in INSTRUMENTED if module in sys.modules]
    if already:
        raise SystemExit(f"{already} imported before instrumentation: coverage would be blind")
    with atheris.instrument_imports(include=INSTRUMENTED):
        return importlib.import_module(ALL_TARGETS[name])


def _artifacts(args: list[str]) -> Path:
    """The folder of libFuzzer's ``-artifact_prefix`` (the current one by default)."""
    prefix = next((a.split("=", 1)[1] for a in args if a.startswith("-artifact_prefix=")), "./")
    return Path(prefix) if prefix.endswith(("/", "\\")) else Path(prefix).parent


def _write_seeds(folder: Path, seeds: Iterable[bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index, seed in enumerate(seeds):
        (folder / f"seed-{index:03d}").write_bytes(seed)


async def _fuzz(module: Any, seeds: Path | None, mode: str, args: list[str]) -> None:
    # libFuzzer runs inside this coroutine, so the event loop is running: see _harness.
    from ._findings import KNOWN, Recorder  # noqa: PLC0415 - after instrumentation
    from ._harness import quiet_logs  # noqa: PLC0415 - imports logto_asgi, after instrumentation

    quiet_logs()
    target = module.build()
    test_one_input = target.test_one_input
    if mode != "strict":
        tolerate = (lambda name: True) if mode == "survey" else KNOWN.__contains__
        test_one_input = Recorder(_artifacts(args), tolerate=tolerate).wrap(test_one_input)
    if seeds is not None:
        _write_seeds(seeds, target.seeds())
        args = [*args, str(seeds)]
    argv = [sys.argv[0], f"-max_len={target.max_len}", *args]
    if target.mutator is None:
        atheris.Setup(argv, test_one_input)
    else:
        atheris.Setup(argv, test_one_input, custom_mutator=target.mutator)
    atheris.Fuzz()


def main(argv: list[str]) -> None:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        print("targets:", ", ".join(TARGETS))
        raise SystemExit(0 if argv else 2)
    if argv[0] == "--list":
        print("\n".join(TARGETS))
        return
    name, rest = argv[0], argv[1:]
    if name not in ALL_TARGETS:
        raise SystemExit(f"unknown target {name!r}; targets: {', '.join(ALL_TARGETS)}")
    seeds: Path | None = None
    if "--seeds" in rest:
        at = rest.index("--seeds")
        seeds, rest = Path(rest[at + 1]), rest[:at] + rest[at + 2 :]
    mode = "strict"
    for flag in ("--tolerate-known", "--survey"):
        if flag in rest:
            mode, rest = flag.removeprefix("--"), [a for a in rest if a != flag]
    asyncio.run(_fuzz(_load(name), seeds, mode, rest))


if __name__ == "__main__":
    main(sys.argv[1:])
