"""environment.yml (the conda description of the stack) asks for everything pyproject.toml does — the
package's dependencies and its book, classroom and dev extras — with torch and torchvision at
constraints.txt's versions and jupyter-book below 2."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"pytorch": "torch"}  # conda-forge name -> PyPI name


def _name(spec: str) -> str:
    name = re.split(r"[\s<>=!~\[;]", spec.strip().strip('"'), maxsplit=1)[0]
    return CONDA_NAMES.get(name.lower(), name.lower()).replace("_", "-")


def _environment() -> tuple[dict[str, str], list[str]]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    conda, pip = {}, []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip += dep["pip"]
        else:
            conda[_name(dep)] = dep
    return conda, pip


def _pyproject() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += [r for r in extra if _name(r) != project["name"]]
    return reqs


def test_environment_has_every_requirement_of_pyproject():
    conda, pip = _environment()
    have = set(conda) | {_name(p) for p in pip if not p.startswith("-")}
    missing = sorted({_name(r) for r in _pyproject()} - have)
    assert missing == [], f"environment.yml lacks {missing}"


def test_environment_installs_the_package_with_its_extras():
    _, pip = _environment()
    assert '-e ".[dev]"' in pip


def test_environment_bounds_are_pyproject_s():
    """A requirement listed in both files has the same bounds (torch and torchvision: see below)."""
    conda, pip = _environment()
    listed = {**conda, **{_name(p): p for p in pip if not p.startswith("-")}}
    differ = [(r, listed[_name(r)]) for r in _pyproject()
              if _name(r) not in ("torch", "torchvision") and listed[_name(r)].replace(" ", "") != r.replace(" ", "")]
    assert differ == []


def test_environment_pins_agree_with_constraints():
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    conda, pip = _environment()
    assert conda["torch"] == f"pytorch={pins['torch']}"
    assert conda["torchvision"] == f"torchvision={pins['torchvision']}"
    assert [p for p in pip if _name(p) == "jupyter-book"] == ["jupyter-book>=1.0.4,<2"]
