"""The code base stays ruff- and mypy-clean (run as part of the test command)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def _tool(name: str) -> str:
    path = os.path.join(BIN, name)
    if os.path.exists(path):
        return path
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return found


@pytest.mark.parametrize(
    "args", [["check", "."], ["format", "--check", "."]], ids=["lint", "format"]
)
def test_ruff(args: list[str]) -> None:
    done = subprocess.run([_tool("ruff"), *args], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict() -> None:
    done = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_lowest_versions_ci_pins_are_the_lower_bounds_pyproject_declares() -> None:
    """.ci/lowest.txt tests exactly the floor users may install (no drift either way)."""
    import tomllib
    from pathlib import Path

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads(Path(ROOT, "pyproject.toml").read_text())["project"]
    floors: dict[str, str] = {}
    for text in [*project["dependencies"], *project["optional-dependencies"]["test"]]:
        requirement = Requirement(text)
        for spec in requirement.specifier:
            if spec.operator == ">=":
                floors[canonicalize_name(requirement.name)] = spec.version
    pins: dict[str, str] = {}
    for line in Path(ROOT, ".ci", "lowest.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version
    assert pins, ".ci/lowest.txt pins nothing"
    for name, version in pins.items():
        assert floors.get(name) == version, f"{name}: pinned {version}, floor {floors.get(name)}"
    for name in ("aiosqlite", "anyio", "hypothesis", "pytest", "pytest-xdist"):
        assert name in pins, f"harness's dependency {name} is not tested at its floor"


def test_no_module_of_the_package_is_past_600_lines() -> None:
    """CONVENTIONS: a module past ~600 lines is split (what it owns gets a name)."""
    too_long = {}
    for folder, _dirs, files in os.walk(os.path.join(ROOT, "harness")):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as handle:
                    count = sum(1 for _ in handle)
                if count > 600:
                    too_long[os.path.relpath(path, ROOT)] = count
    assert not too_long, f"split these modules: {too_long}"
