"""The two dependency lists (pip and conda) agree, and the package imports light."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10: pip vendors the same parser
    from pip._vendor import tomli as tomllib

import pytest
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


# --------------------------------------------------------------------------------------
# The committed benchmark results travel with the package (committed_result)
# --------------------------------------------------------------------------------------

RESULTS = ROOT / "benchmarks" / "results"
RESULTS_PACKAGE = "recsys_utils.committed_results"


def setuptools_config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_the_package_list_names_every_package_folder():
    from setuptools import find_packages

    listed = set(setuptools_config()["packages"])
    found = set(find_packages(where=str(ROOT), include=["recsys_utils*"]))
    assert listed - {RESULTS_PACKAGE} == found, (
        f"pyproject.toml's [tool.setuptools] packages differs from the package folders: "
        f"missing {sorted(found - listed)}, extra {sorted(listed - found - {RESULTS_PACKAGE})}"
    )


def test_the_committed_results_are_mapped_into_the_package():
    config = setuptools_config()
    assert RESULTS_PACKAGE in config["packages"]
    assert config["package-dir"][RESULTS_PACKAGE] == "benchmarks/results"
    assert config["package-data"][RESULTS_PACKAGE] == ["*.json"]
    assert sorted(RESULTS.glob("*.json")), "benchmarks/results holds no JSON file"


def _run_outside(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter whose working folder is outside the repository."""
    import os

    full_env = {k: v for k, v in os.environ.items() if k != "RECSYS_RESULTS_DIR"} | env
    return subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=full_env, capture_output=True, text=True
    )


def test_committed_result_prefers_RECSYS_RESULTS_DIR_from_outside_the_repository(tmp_path):
    own = tmp_path / "own"
    own.mkdir()
    (own / "book_runtime.json").write_text('{"total_s": 1.0}\n')
    code = (
        "from recsys_utils.experiments.committed import committed_result; "
        "print(committed_result('book_runtime.json')); print(committed_result('cells_cpu'))"
    )
    # this checkout's package (the shared environment may install another one)
    out = _run_outside(code, tmp_path, RECSYS_RESULTS_DIR=str(own), PYTHONPATH=str(ROOT))
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.split()
    assert Path(first) == own / "book_runtime.json"
    # not in the named folder: the repository's copy (the package is imported from the clone)
    assert Path(second) == RESULTS / "cells_cpu.json"


def test_committed_result_names_every_place_it_looked(tmp_path):
    from recsys_utils.errors import BadArgumentError, DataMissingError
    from recsys_utils.experiments.committed import committed_result

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RECSYS_RESULTS_DIR", str(tmp_path))
        with pytest.raises(DataMissingError) as err:
            committed_result("no_such_result.json")
    message = str(err.value)
    assert str(tmp_path / "no_such_result.json") in message
    assert str(RESULTS / "no_such_result.json") in message
    assert "committed_results" in message and "RECSYS_RESULTS_DIR" in message
    for bad in ("", "../pyproject.toml", "results/x.json", "/etc/passwd"):
        with pytest.raises(BadArgumentError):
            committed_result(bad)


@pytest.mark.slow
def test_the_wheel_ships_the_committed_results(tmp_path):
    """Build the wheel from a copy of the sources, unpack it away from the repository, and read
    a committed result through the unpacked package (the repository's copy is not reachable)."""
    import shutil
    import zipfile

    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "recsys_utils", src / "recsys_utils", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(RESULTS, src / "benchmarks" / "results")
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(src),
        ],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = (tmp_path / "dist").glob("recsys_utils-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"recsys_utils/committed_results/{p.name}" for p in RESULTS.glob("*.json")}
    assert expected <= names, f"the wheel lacks {sorted(expected - names)}"

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import recsys_utils, json; from recsys_utils.experiments.committed import committed_result; "
        "p = committed_result('book_runtime'); print(recsys_utils.__file__); print(p); "
        "print(json.loads(p.read_text())['total_s'])"
    )
    out = _run_outside(code, tmp_path, PYTHONPATH=str(site))
    assert out.returncode == 0, out.stderr
    module, path, total = out.stdout.split()
    assert Path(module).is_relative_to(site), f"imported {module}, not the unpacked wheel"
    assert Path(path) == site / "recsys_utils" / "committed_results" / "book_runtime.json"
    assert float(total) == json.loads((RESULTS / "book_runtime.json").read_text())["total_s"]
