"""Entry point: ``python -m bench.run`` or ``python bench/run.py`` from the repository root.

Prints one table and writes it, with the raw numbers, to ``bench/results/latest.json``.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _paths() -> None:
    # bench.* from the repository root, the test support modules (provider, redis) from tests/.
    for path in (ROOT / "tests", ROOT / "src", ROOT):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


def main(argv: list[str] | None = None) -> int:
    _paths()
    # Authlib (the baseline) warns about its own httpx integration on import: not ours.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    import uvloop  # noqa: PLC0415 - only after the paths and the warning filter are set

    from bench.suite import main as run_suite  # noqa: PLC0415 - likewise

    report = uvloop.run(run_suite(argv))
    print(report.render())
    path = Path(report.meta["settings"]["output"])
    report.write(path)
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
