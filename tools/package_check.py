"""The package as PyPI would get it (``make package``): build, check, install, run.

1. ``python -m build``: the sdist, and the wheel built from it, into a temporary folder (``--outdir`` to
   keep them);
2. ``twine check --strict``: the metadata and the long description render on PyPI;
3. the wheel holds ``logto_asgi/`` whole (every file of ``src/logto_asgi``, ``py.typed``,
   templates and migrations included) and nothing else; the sdist holds exactly what
   ``[tool.hatch.build.targets.sdist]`` in ``pyproject.toml`` decides, nothing generated;
4. a clean virtual environment outside the repository gets the wheel with its runtime
   dependencies only (from the package index): ``import logto_asgi`` works, each optional
   module refuses with the extra to install, ``python -m logto_asgi --help`` answers;
5. prints the wheel's size and the installed size of the runtime dependencies, per package.

Exit 1 (with every failed check listed) when something is wrong.

    .venv/bin/python tools/package_check.py
    .venv/bin/python tools/package_check.py --outdir dist
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "logto_asgi"

#: The sdist's top level, as pyproject.toml's sdist include list decides (plus what every
#: sdist has: PKG-INFO, and the .gitignore hatchling adds).
SDIST_TOP = {
    ".gitignore",
    "CHANGELOG.md",
    "LICENSE",
    "Makefile",
    "PKG-INFO",
    "README.md",
    "docs",
    "examples",
    "fuzz",
    "mkdocs.yml",
    "pyproject.toml",
    "src",
    "tests",
    "tools",
}
#: Files the sdist must have for its tests to run (the npm provider is installed with npm ci).
SDIST_NEEDS = ["tests/provider/package-lock.json", "tests/provider/package.json", "src/logto_asgi/py.typed"]
#: Path parts nothing in either archive may contain.
NEVER = {
    "node_modules",
    "__pycache__",
    ".venv",
    "site",
    "dist",
    "results",
    "corpus",
    "crashes",
    ".ci",
    "bench",
}
#: Optional modules and the extra their ImportError must name when it is missing.
OPTIONAL = {
    "logto_asgi.fastapi": "fastapi",
    "logto_asgi.sessions.redis": "redis",
    "logto_asgi.sessions.postgres": "postgres",
    "logto_asgi.django": "django",
}
#: Installed with any venv, not dependencies of the package.
TOOLING = {"pip", "setuptools"}

#: Run inside the clean venv: the size of each installed distribution, from its RECORD.
_SIZES = """
import json, importlib.metadata as md
sizes = {}
for dist in md.distributions():
    total = 0
    for file in dist.files or ():
        path = file.locate()
        total += path.stat().st_size if path.is_file() else 0
    sizes[dist.metadata["Name"]] = total
print(json.dumps(sizes))
"""


def run(*command: str | Path, cwd: Path = ROOT) -> str:
    """Runs ``command``; its output, or SystemExit with the output when it fails."""
    done = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, command))}\n{done.stdout}{done.stderr}")
    return done.stdout


def build(outdir: Path) -> tuple[Path, Path]:
    """The sdist of the working tree and the wheel built from that sdist (as ``pip`` would
    from PyPI), in ``outdir``."""
    run(sys.executable, "-m", "build", "--outdir", outdir, ROOT)
    sdists, wheels = sorted(outdir.glob("*.tar.gz")), sorted(outdir.glob("*.whl"))
    if len(sdists) != 1 or len(wheels) != 1:
        raise SystemExit(f"expected one sdist and one wheel in {outdir}, found {sdists + wheels}")
    return sdists[0], wheels[0]


def _forbidden(names: list[str]) -> list[str]:
    return [name for name in names if NEVER & set(Path(name).parts) or name.endswith(".pyc")]


def source_files() -> set[str]:
    """Every file of ``src/logto_asgi``, relative to ``src`` (bytecode left out)."""
    return {
        path.relative_to(PACKAGE.parent).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def check_wheel(wheel: Path) -> list[str]:
    """What is wrong with the wheel's contents and metadata (nothing: an empty list)."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = next(name for name in names if name.endswith(".dist-info/METADATA"))
        headers = archive.read(metadata).decode()
    info = metadata.split("/", 1)[0]
    problems = [
        f"wheel: unexpected {name}" for name in names if name.split("/", 1)[0] not in ("logto_asgi", info)
    ]
    problems += [f"wheel: missing {name}" for name in sorted(source_files() - set(names))]
    problems += [f"wheel: must not hold {name}" for name in _forbidden(names)]
    if "logto_asgi/py.typed" not in names:
        problems.append("wheel: no logto_asgi/py.typed")
    if "License-Expression: MIT" not in headers.splitlines():
        problems.append("wheel: METADATA has no License-Expression: MIT")
    if sum(line.startswith("Project-URL: ") for line in headers.splitlines()) < 5:
        problems.append("wheel: METADATA lacks the project URLs")
    return problems


def check_sdist(sdist: Path) -> list[str]:
    """What is wrong with the sdist's contents (nothing: an empty list)."""
    with tarfile.open(sdist) as archive:
        names = [member.name.split("/", 1)[1] for member in archive.getmembers() if "/" in member.name]
    top = {name.split("/", 1)[0] for name in names}
    problems = [f"sdist: unexpected {name}" for name in sorted(top - SDIST_TOP)]
    problems += [f"sdist: missing {name}" for name in sorted(SDIST_TOP - top)]
    problems += [f"sdist: missing {name}" for name in SDIST_NEEDS if name not in names]
    problems += [f"sdist: must not hold {name}" for name in _forbidden(names)]
    return problems


def _import_check() -> str:
    """Python run in the clean venv: the package imports; each optional module without its
    extra raises ImportError naming the extra; prints what went wrong."""
    return (
        "import importlib, logto_asgi, logto_asgi.testing\n"
        f"for module, extra in {OPTIONAL!r}.items():\n"
        "    try:\n"
        "        importlib.import_module(module)\n"
        "    except ImportError as exc:\n"
        "        if f'logto-asgi[{extra}]' not in str(exc):\n"
        "            print(f'{module}: ImportError without the extra: {exc}')\n"
        "    else:\n"
        "        print(f'{module}: imported without its extra')\n"
        "print('version', logto_asgi.__version__)\n"
    )


def install_and_run(wheel: Path, venv: Path) -> tuple[list[str], dict[str, int]]:
    """Installs ``wheel`` (runtime dependencies only) into a new venv at ``venv`` and uses
    it: the problems found, and the installed size of each distribution."""
    run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel, cwd=venv)
    problems: list[str] = []
    out = run(python, "-c", _import_check(), cwd=venv)
    problems += [f"clean venv: {line}" for line in out.splitlines() if not line.startswith("version ")]
    usage = run(python, "-m", "logto_asgi", "--help", cwd=venv)
    if "check" not in usage:
        problems.append(f"clean venv: python -m logto_asgi --help says no 'check':\n{usage}")
    sizes: dict[str, int] = json.loads(run(python, "-c", _SIZES, cwd=venv))
    return problems, sizes


def kib(size: int) -> str:
    return f"{size / 1024:,.0f} KiB"


def report(wheel: Path, sizes: dict[str, int]) -> str:
    """The size lines: the wheel, the installed runtime dependencies (total and each)."""
    ours = {name: size for name, size in sizes.items() if name.lower() not in TOOLING}
    dependencies = {name: size for name, size in ours.items() if name.lower() != "logto-asgi"}
    lines = [
        f"wheel {wheel.name}: {kib(wheel.stat().st_size)}",
        f"installed: logto-asgi {kib(sizes.get('logto-asgi', 0))} + {len(dependencies)} runtime "
        f"dependencies {kib(sum(dependencies.values()))} = {kib(sum(ours.values()))} "
        f"(pip and setuptools left out)",
    ]
    lines += [
        f"  {name:<20} {kib(size):>12}" for name, size in sorted(dependencies.items(), key=lambda i: -i[1])
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--outdir", type=Path, help="keep the sdist and the wheel here (default: a temp folder)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="logto-asgi-package-") as scratch:
        outdir = (args.outdir or Path(scratch) / "dist").resolve()
        outdir.mkdir(parents=True, exist_ok=True)
        for old in [*outdir.glob("logto_asgi-*.whl"), *outdir.glob("logto_asgi-*.tar.gz")]:
            old.unlink()
        sdist, wheel = build(outdir)
        print(f"built {sdist.name} and {wheel.name}")
        print(run(sys.executable, "-m", "twine", "--no-color", "check", "--strict", sdist, wheel).strip())
        problems = check_wheel(wheel) + check_sdist(sdist)
        installed, sizes = install_and_run(wheel, Path(scratch) / "venv")
        problems += installed
        print(report(wheel, sizes))
    for problem in problems:
        print(f"FAIL {problem}")
    print("package: FAILED" if problems else "package: all checks passed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
