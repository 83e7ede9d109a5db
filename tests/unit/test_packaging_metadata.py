"""The package's metadata as PyPI shows it: links, classifiers, dependencies, long description.

``make package`` (tools/package_check.py) builds the real sdist and wheel and installs the
wheel into a clean venv; this module pins the declarations it builds from, without a build.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from trove_classifiers import classifiers as KNOWN_CLASSIFIERS
from trove_classifiers import deprecated_classifiers

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
URLS: dict[str, str] = PROJECT.get("urls", {})
SOURCE = "https://github.com/logto-asgi/logto-asgi"
DOCS = "https://logto-asgi.readthedocs.io/en/latest/"
README = (ROOT / "README.md").read_text(encoding="utf-8")

#: The modules that may import more than the runtime dependencies: the extra that installs
#: what they import, and the framework the app brings itself (no extra: only an app built
#: on it imports the module). A key names a module and, for a package, everything under it.
OPTIONAL_MODULES: dict[str, tuple[str | None, frozenset[str]]] = {
    "logto_asgi.fastapi": ("fastapi", frozenset()),
    "logto_asgi.sessions.redis": ("redis", frozenset()),
    "logto_asgi.redis_coordination": ("redis", frozenset()),
    "logto_asgi.sessions.postgres": ("postgres", frozenset()),
    "logto_asgi.telemetry": ("otel", frozenset()),
    "logto_asgi.django": ("django", frozenset()),
    "logto_asgi.django.channels": ("django", frozenset({"channels"})),
    "logto_asgi._speedups": ("speedups", frozenset()),
    "logto_asgi.falcon": (None, frozenset({"falcon"})),
    "logto_asgi.litestar": (None, frozenset({"litestar"})),
}
#: What ``import logto_asgi`` must never import (OpenTelemetry it does, by design, when it
#: is installed: telemetry.py looks for it).
LAZY_PACKAGES = ["redis", "psycopg", "fastapi", "django", "channels", "falcon", "litestar", "quart"]


def requirement_names(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(line).name) for line in requirements}


RUNTIME = requirement_names(PROJECT["dependencies"])
EXTRAS = {name: requirement_names(lines) for name, lines in PROJECT["optional-dependencies"].items()}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def absolute_imports(path: Path) -> Iterator[str]:
    """The top-level names of every absolute import in the module (functions included)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


def third_party_imports() -> list[tuple[str, str]]:
    """``(module, imported package)`` for each import of a package outside the standard library."""
    found = set()
    for path in sorted((SRC / "logto_asgi").rglob("*.py")):
        for name in absolute_imports(path):
            if name not in sys.stdlib_module_names and name not in ("__future__", "logto_asgi"):
                found.add((module_name(path), name))
    return sorted(found)


def optional_part(module: str) -> tuple[str | None, frozenset[str]] | None:
    """The extra and the frameworks of a module (longest matching key); ``None``: the core."""
    keys = [key for key in OPTIONAL_MODULES if module == key or module.startswith(key + ".")]
    return OPTIONAL_MODULES[max(keys, key=len)] if keys else None


def distributions(package: str) -> set[str]:
    """The installed distributions providing the import name ``package``."""
    return {canonicalize_name(name) for name in importlib.metadata.packages_distributions().get(package, [])}


def provided_by(declared: set[str]) -> set[str]:
    """``declared`` and the distributions they require (one level: what they promise)."""
    names = set(declared)
    for name in declared:
        names |= {
            canonicalize_name(Requirement(line).name) for line in importlib.metadata.requires(name) or []
        }
    return names


def undeclared(module: str, package: str) -> str | None:
    """Why ``module`` may not import ``package`` (``None``: it may)."""
    provides = distributions(package)
    if provides & RUNTIME:
        return None
    part = optional_part(module)
    if part is None:
        return f"{module} imports {package}: not a runtime dependency {sorted(RUNTIME)}"
    extra, frameworks = part
    if package in frameworks:
        return None
    if extra is None:
        return f"{module} imports {package}: neither its framework {sorted(frameworks)} nor runtime"
    if extra not in EXTRAS:
        return f"{module} belongs to the extra {extra!r}, which pyproject.toml lacks"
    if not provides & provided_by(EXTRAS[extra]):
        return f"{module} imports {package}: not installed by the extra {extra!r}"
    return None


def test_every_third_party_import_is_declared() -> None:
    """A package imported by the core is a runtime dependency; one imported by an optional
    module comes with its extra (declared there, or required by what is) or is the
    framework the module adapts."""
    imports = third_party_imports()
    assert ("logto_asgi._crypto", "cryptography") in imports  # the scan sees imports at all
    problems = [problem for module, package in imports if (problem := undeclared(module, package))]
    assert not problems, "\n".join(problems)


def test_the_import_check_refuses_undeclared_packages() -> None:
    """The rule above fails where it should: a core module importing an extra's package, a
    module of one extra importing another's, an adapter importing another framework."""
    assert undeclared("logto_asgi.middleware", "redis") is not None
    assert undeclared("logto_asgi.fastapi", "redis") is not None
    assert undeclared("logto_asgi.falcon", "litestar") is not None
    assert undeclared("logto_asgi.sessions.redis", "redis") is None


def test_importing_the_package_imports_no_extra() -> None:
    """``import logto_asgi`` (and the testing kit) loads none of the optional packages."""
    code = (
        "import sys, logto_asgi, logto_asgi.testing, logto_asgi.sessions\n"
        f"print(sorted(name for name in {LAZY_PACKAGES!r} if name in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_runtime_dependencies_are_the_design_ones_and_cryptography() -> None:
    """Runtime: starlette, httpx, joserfc, anyio, and cryptography (imported directly) with
    the floor joserfc declares (45.0.1)."""
    assert RUNTIME == {"starlette", "httpx", "joserfc", "anyio", "cryptography"}
    [cryptography] = [
        Requirement(line) for line in PROJECT["dependencies"] if line.startswith("cryptography")
    ]
    assert "45.0.1" in cryptography.specifier and "44.0.3" not in cryptography.specifier


def test_project_urls() -> None:
    """PyPI gets the five project links, on the repository and the documentation site."""
    assert URLS == {
        "Homepage": SOURCE,
        "Documentation": DOCS,
        "Source": SOURCE,
        "Changelog": f"{SOURCE}/blob/main/CHANGELOG.md",
        "Issues": f"{SOURCE}/issues",
    }


def test_classifiers_are_valid_and_say_what_is_supported() -> None:
    """Every classifier exists on PyPI; Python 3.10-3.13 only, typed, AsyncIO, FastAPI, Django."""
    found = PROJECT["classifiers"]
    assert not [name for name in found if name not in KNOWN_CLASSIFIERS or name in deprecated_classifiers]
    assert found == sorted(found) and len(found) == len(set(found))
    versions = [
        name.rsplit(" ", 1)[1]
        for name in found
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", name)
    ]
    assert versions == ["3.10", "3.11", "3.12", "3.13"]
    assert PROJECT["requires-python"] == ">=3.10"
    for name in ("Programming Language :: Python :: 3 :: Only", "Typing :: Typed", "Framework :: AsyncIO"):
        assert name in found
    assert {"Framework :: FastAPI", "Framework :: Django"} <= set(found)


def test_django_classifiers_match_the_tested_and_allowed_versions() -> None:
    """The Django version the suite runs is claimed, and every claimed one is allowed."""
    claimed = [
        name.rsplit(" ", 1)[1]
        for name in PROJECT["classifiers"]
        if name.startswith("Framework :: Django :: ")
    ]
    tested = ".".join(importlib.metadata.version("django").split(".")[:2])
    assert tested in claimed
    django = [
        Requirement(line)
        for line in PROJECT["optional-dependencies"].get("django", ())
        if line.startswith("django")
    ]
    for requirement in django:
        assert all(requirement.specifier.contains(f"{version}.99") for version in claimed), requirement


def test_license_is_an_spdx_expression_without_a_license_classifier() -> None:
    """``license = "MIT"`` (PEP 639) with the LICENSE file; no ``License ::`` classifier,
    which PyPI refuses next to a license expression."""
    assert PROJECT["license"] == "MIT"
    assert PROJECT["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert not [name for name in PROJECT["classifiers"] if name.startswith("License ::")]


LINK = re.compile(r"\]\(([^)\s]+)\)|<(?:a|img)\b[^>]*?(?:href|src)=[\"']([^\"']+)")


def readme_links() -> list[str]:
    return [target or attribute for target, attribute in LINK.findall(README)]


def test_readme_links_are_absolute_and_lead_somewhere() -> None:
    """The long description has only absolute links (PyPI has no repository to resolve
    relative ones); docs links name a page of docs/, file links a file of the repository."""
    links = readme_links()
    assert any(link.startswith(DOCS) for link in links)  # the scan sees links at all
    problems = [link for link in links if not link.startswith("https://")]
    for link in links:
        if link.startswith(DOCS):
            page = link.removeprefix(DOCS).split("#")[0].rstrip("/") or "index"
            if not (ROOT / "docs" / f"{page}.md").is_file():
                problems.append(f"{link}: no docs/{page}.md")
        elif link.startswith(f"{SOURCE}/blob/main/"):
            if not (ROOT / link.removeprefix(f"{SOURCE}/blob/main/").split("#")[0]).exists():
                problems.append(f"{link}: no such file in the repository")
    assert not problems, problems


@pytest.mark.parametrize("command", ["make test", "make demo"])
def test_readme_keeps_the_repository_commands_in_its_development_section(command: str) -> None:
    """``make test`` (read by the CI runner) and ``make demo`` stay, in a ```sh block of the
    Development section, after the install and quick start."""
    development = README.index("\n## Development\n")
    blocks = re.findall(r"^```sh\n(.*?)^```", README[development:], re.DOTALL | re.MULTILINE)
    assert any(command in block.splitlines() for block in blocks)
    assert README.index("pip install logto-asgi") < README.index("```python") < development
