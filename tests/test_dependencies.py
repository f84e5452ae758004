"""Every third-party module the code imports is declared in pyproject.toml (the platform's in
its dependencies, the suite's in the ``test`` extra too), and constraints.txt pins each
declared distribution to a version its requirement accepts."""

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def declared(*extras: str) -> dict[str, Requirement]:
    requirements = [Requirement(r) for r in PROJECT["dependencies"]]
    for extra in extras:
        requirements += [Requirement(r) for r in PROJECT["optional-dependencies"][extra]]
    return {canonicalize_name(r.name): r for r in requirements}


def imported(folder: Path) -> dict[str, set[str]]:
    """Top-level modules imported anywhere under ``folder`` (lazy imports inside functions
    too), other than the standard library's and the project's own, with the files importing
    each."""
    found: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("beamtime", "tests"):
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def undeclared(folder: Path, allowed: dict[str, Requirement]) -> list[str]:
    distributions = packages_distributions()
    missing = []
    for module, files in sorted(imported(folder).items()):
        provided_by = {canonicalize_name(d) for d in distributions.get(module, [])}
        if not provided_by & set(allowed):
            missing.append(f"{module} ({', '.join(sorted(files)[:3])})")
    return missing


def test_every_module_the_platform_imports_is_a_declared_dependency():
    # The LDAP backend is optional: it is imported only with the ldap extra installed.
    assert undeclared(ROOT / "src" / "beamtime", declared("ldap")) == []


def test_every_module_the_suite_imports_is_declared_for_it():
    assert undeclared(ROOT / "tests", declared("ldap", "test")) == []


def test_the_lock_file_pins_every_declared_distribution_within_its_requirement():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line.strip()).groups()
            pins[canonicalize_name(name)] = version
    for name, requirement in declared(*PROJECT["optional-dependencies"]).items():
        assert name in pins, f"{name} is not in constraints.txt (run scripts/lock.sh)"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {name}=={pins[name]}, outside {requirement}"
        )
