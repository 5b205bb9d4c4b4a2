"""A small demo workdir (city -> lake -> analytics -> embedded store) shared by dashboard tests."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from sightgraph.demo import run_demo


@pytest.fixture(scope="session")
def demo_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("demo")
    os.environ.setdefault("SIGHTGRAPH_PSEUDONYM_KEY", "test-only-key")
    run_demo(workdir, persons=250, days=7)
    return workdir


@pytest.fixture()
def dashboard_env(
    demo_workdir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    env = {
        "SIGHTGRAPH_WORKDIR": str(demo_workdir),
        "SIGHTGRAPH_LAKE": str(demo_workdir / "lake"),
        "SIGHTGRAPH_STORE": "embedded",
        "SIGHTGRAPH_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
        "SIGHTGRAPH_USER": "tester",
        "SIGHTGRAPH_ROLE": "admin",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("SIGHTGRAPH_DASHBOARD_USERS", raising=False)
    return env


def top_pair(workdir: Path) -> tuple[str, str]:
    top = pd.read_parquet(workdir / "lake" / "contacts" / "contacts.parquet").iloc[0]
    return str(top["pid_a"]), str(top["pid_b"])
