"""environment.yml (the conda alternative) installs what pyproject.toml declares.

Every ``[project] dependencies`` entry of pyproject.toml must appear in environment.yml, by
normalised name (PEP 503: lower case, runs of ``-_.`` as one ``-``, extras dropped), either as a
conda-forge package (under its conda-forge name where that differs, see ``CONDA_FORGE_NAMES``)
with the same lower bound, or in the ``pip:`` section. Nothing else may be listed but the
interpreter and the tools named in ``NOT_PYTHON_DEPENDENCIES``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

#: PyPI name -> conda-forge name, where they differ
CONDA_FORGE_NAMES = {
    "duckdb": "python-duckdb",
    "neo4j": "neo4j-python-driver",
    "neo4j-rust-ext": "neo4j-python-driver-rust-ext",
}
#: in environment.yml, not Python dependencies of the package
NOT_PYTHON_DEPENDENCIES = {"python", "pip", "openjdk", "maven"}

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*?)\s*$")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def split(requirement: str) -> tuple[str, str]:
    """(normalised name, version specifier without spaces) of a PEP 508 or conda spec."""
    m = _NAME.match(requirement.split(";")[0].split("#")[0])
    assert m, f"cannot parse {requirement!r}"
    return normalise(m.group(1)), m.group(3).replace(" ", "")


def pyproject_dependencies() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return dict(split(r) for r in data["project"]["dependencies"])


def environment() -> tuple[dict, dict[str, str], list[str]]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda: dict[str, str] = {}
    pip: list[str] = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip.extend(dep["pip"])
        else:
            name, spec = split(dep)
            conda[name] = spec
    return env, conda, pip


def test_split_normalises() -> None:
    assert split("dask[dataframe,distributed]>=2024.8") == ("dask", ">=2024.8")
    assert split("Pydantic_Settings >= 2.2") == ("pydantic-settings", ">=2.2")
    assert split("python=3.11") == ("python", "=3.11")


def test_environment_yml_is_conda_forge_python_311() -> None:
    env, conda, pip = environment()
    assert env["name"] == "sightgraph"
    assert env["channels"][0] == "conda-forge"
    assert "defaults" not in env["channels"]
    assert conda["python"] == "=3.11"
    assert "pip" in conda
    assert "-e ." in [p.split("#")[0].strip() for p in pip]  # the package itself


def test_every_pyproject_dependency_is_in_environment_yml() -> None:
    deps = pyproject_dependencies()
    assert len(deps) >= 10 and "scikit-learn" in deps
    _, conda, pip = environment()
    pip_names = {split(p)[0] for p in pip if not p.lstrip().startswith("-")}
    missing, wrong_bound = [], []
    for name, spec in deps.items():
        conda_name = CONDA_FORGE_NAMES.get(name, name)
        if conda_name in conda:
            if conda[conda_name] != spec:
                wrong_bound.append(
                    f"{name}: pyproject {spec!r}, environment.yml {conda[conda_name]!r}"
                )
        elif name not in pip_names:
            missing.append(name)
    assert not missing, f"in pyproject.toml, not in environment.yml: {missing}"
    assert not wrong_bound, wrong_bound


def test_environment_yml_lists_nothing_pyproject_does_not() -> None:
    deps = pyproject_dependencies()
    allowed = {CONDA_FORGE_NAMES.get(n, n) for n in deps} | NOT_PYTHON_DEPENDENCIES
    _, conda, pip = environment()
    extra = sorted(set(conda) - allowed)
    extra += sorted({split(p)[0] for p in pip if not p.lstrip().startswith("-")} - set(deps))
    assert not extra, f"in environment.yml, not in pyproject.toml: {extra}"
