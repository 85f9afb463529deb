"""The two dependency lists (pip and conda) agree, and the package imports light."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10: pip vendors the same parser
    from pip._vendor import tomli as tomllib

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _split(requirement: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement)
    assert m, requirement
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    return dict(_split(r) for r in reqs)


def conda_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = [d for d in env["dependencies"] if isinstance(d, str)]
    for entry in env["dependencies"]:  # packages conda-forge does not carry, through pip
        if isinstance(entry, dict):
            deps += [d for d in entry.get("pip", []) if not d.startswith("-")]
    return {name: spec for name, spec in map(_split, deps) if name not in ("python", "pip")}


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    pip, conda = pyproject_requirements(), conda_requirements()
    assert set(pip) == set(conda), (
        f"only in pyproject: {sorted(set(pip) - set(conda))}; "
        f"only in environment.yml: {sorted(set(conda) - set(pip))}"
    )
    differing = {n: (pip[n], conda[n]) for n in pip if pip[n] != conda[n]}
    assert not differing, f"version ranges differ (pyproject, conda): {differing}"


def test_jupyter_book_is_pinned_below_2():
    # 2.x is a different, Node-based tool that ignores _config.yml/_toc.yml.
    assert "<2" in pyproject_requirements()["jupyter-book"]


def test_importing_the_package_does_not_import_tensorflow():
    code = (
        "import sys, recsys_utils, recsys_utils.features, recsys_utils.evaluation, "
        "recsys_utils.data, recsys_utils.models.rbm; print('tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
