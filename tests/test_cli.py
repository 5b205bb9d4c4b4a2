"""The command line as a user runs it: real subprocesses, exit codes, one-line errors.

Who may run what is tests/governance/test_access.py; here the pipeline runs as an admin (data
steps) and an analyst with a purpose (per-subject analytics), as README's quick tour does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

SG = [sys.executable, "-m", "sightgraph.cli"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {
        k: v for k, v in os.environ.items() if k not in ("SIGHTGRAPH_PURPOSE", "SIGHTGRAPH_ROLE")
    }
    full.update(SIGHTGRAPH_PSEUDONYM_KEY="cli-test-key", **(env or {}))
    return subprocess.run(
        [*SG, *map(str, args)], capture_output=True, text=True, env=full, timeout=300
    )


def admin(tmp_path: Path) -> dict[str, str]:
    return {"SIGHTGRAPH_WORKDIR": str(tmp_path), "SIGHTGRAPH_ROLE": "admin"}


def analyst(tmp_path: Path) -> dict[str, str]:
    """The default role, with a session purpose for the per-subject analytics."""
    return {"SIGHTGRAPH_WORKDIR": str(tmp_path), "SIGHTGRAPH_PURPOSE": "cli test"}


def test_missing_column_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "s.csv"
    bad.write_text("subject,camera_id,ts\na,c1,2026-01-01T00:00:00Z\n")
    r = run("ingest", bad, "--lake", tmp_path / "lake", env=admin(tmp_path))
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1
    assert "subject_id" in r.stderr and "found" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_bad_duration_and_negative_window(tmp_path: Path) -> None:
    env = analyst(tmp_path)
    r = run(
        "colocate",
        "--lake",
        tmp_path,
        "--out",
        tmp_path / "p.parquet",
        "--window",
        "5 parsecs",
        env=env,
    )
    assert r.returncode == 2 and "--window" in r.stderr
    r = run("colocate", "--lake", tmp_path, "--out", tmp_path / "p.parquet", env=env)
    assert r.returncode == 2 and "no sightings" in r.stderr


def test_quick_exit_after_numba_keeps_codes_streams_and_atexit(tmp_path: Path) -> None:
    """Once numba is loaded, the command leaves by ``os._exit`` (no teardown of the
    interpreter); its exit code, its buffered output and the atexit handlers are kept."""
    marker = tmp_path / "atexit-ran"
    code = (
        "import atexit, pathlib, sys, numba\n"
        f"atexit.register(lambda: pathlib.Path({str(marker)!r}).write_text('yes'))\n"
        "print('buffered line, never flushed by hand')\n"
        "from sightgraph.cli import run\n"
        "sys.argv = ['sightgraph', *sys.argv[1:]]\n"
        "run()\n"
    )
    env = {**os.environ, "SIGHTGRAPH_PSEUDONYM_KEY": "cli-test-key", **analyst(tmp_path)}
    args = ["colocate", "--lake", str(tmp_path), "--out", str(tmp_path / "p.parquet")]
    r = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert r.returncode == 2 and "no sightings" in r.stderr
    assert r.stdout == "buffered line, never flushed by hand\n"
    assert marker.read_text() == "yes"
    r = subprocess.run(
        [sys.executable, "-c", code, "--help"], capture_output=True, text=True, env=env, timeout=120
    )
    assert r.returncode == 0 and "colocate" in r.stdout


def test_pipeline_end_to_end_with_audit_and_forget(tmp_path: Path) -> None:
    city, lake = tmp_path / "city", tmp_path / "lake"
    env = admin(tmp_path)
    assert (
        run("generate", "--out", city, "--persons", "200", "--days", "5", env=env).returncode == 0
    )
    r = run(
        "ingest",
        city / "sightings.parquet",
        "--cameras",
        city / "cameras.csv",
        "--lake",
        lake,
        env=env,
    )
    assert r.returncode == 0 and ": ok" in r.stdout
    r = run(
        "contacts",
        "--lake",
        lake,
        "--out",
        tmp_path / "c.parquet",
        "--evaluate",
        city / "truth",
        "--purpose",
        "test",
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert "auc" in r.stdout
    traj = run("trajectories", "--lake", lake, "--out", tmp_path / "traj", env=analyst(tmp_path))
    assert traj.returncode == 0, traj.stderr
    r = run("load", "--lake", lake, env=env)
    assert r.returncode == 0 and "contacts" in r.stdout
    pid = str(pd.read_parquet(tmp_path / "c.parquet")["pid_a"].iloc[0])
    assert run("trajectory", pid, env=env).returncode == 2  # no purpose
    r = run("trajectory", pid, "--purpose", "test", env=env)
    assert r.returncode == 0 and "camera_id" in r.stdout
    r = run("forget", pid, "--lake", lake, env=env)
    assert r.returncode == 0 and "removed from graph: persons 1" in r.stdout
    assert run("trajectory", pid, "--purpose", "test", env=env).stdout.startswith("no sightings")
    r = run("audit", "verify", env=env)
    # contacts, trajectories, trajectory, forget, trajectory
    assert r.returncode == 0 and "5 entries" in r.stdout
    anchor = run("audit", "head", env=env).stdout.strip()
    assert anchor.startswith("5:") and len(anchor) == 2 + 64
    r = run("audit", "verify", "--anchor", anchor, env=env)
    assert r.returncode == 0 and "entry 5 matches the anchor" in r.stdout
    log = tmp_path / "audit.jsonl"
    full = log.read_text()
    log.write_text("".join(full.splitlines(keepends=True)[:-1]))  # the last entry cut off
    assert run("audit", "verify", env=env).returncode == 0  # the chain alone cannot see it
    r = run("audit", "verify", "--anchor", anchor, env=env)
    assert r.returncode == 2 and "removed at the end" in r.stderr
    r = run("audit", "verify", "--anchor", "5:nothex", env=env)
    assert r.returncode == 2 and "SEQ:HASH" in r.stderr and "Traceback" not in r.stderr
    log.write_text(full)
    log.write_text(log.read_text().replace('"test"', '"other"', 1))
    r = run("audit", "verify", env=env)
    assert r.returncode == 2 and "line" in r.stderr


def test_predict_evaluate_json_table_and_forget(tmp_path: Path) -> None:
    """`predict --evaluate --json` reports the three models and the bound; `predict` writes the
    predictions table (k rows per subject); `forget` removes the subject from it too."""
    import json

    city, lake = tmp_path / "city", tmp_path / "lake"
    env = admin(tmp_path)
    assert (
        run("generate", "--out", city, "--persons", "150", "--days", "7", env=env).returncode == 0
    )
    assert run("ingest", city / "sightings.parquet", "--lake", lake, env=env).returncode == 0
    r = run("predict", "--lake", lake, "--evaluate", "--json", env={"SIGHTGRAPH_ROLE": "viewer"})
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["test_visits"] > 0 and rep["subjects"] > 100
    assert set(rep["models"]) == {"most_frequent", "markov", "sightgraph", "ranker"}
    assert rep["chosen"] in rep["models"]
    for m in rep["models"].values():
        assert 0 <= m["acc1"] <= m["acc5"] <= 1 and m["acc1"] <= m["mrr"] <= 1
    assert rep["models"]["sightgraph"]["acc1"] > rep["models"]["most_frequent"]["acc1"]
    assert 0 < rep["predictability"]["median"] <= 1
    r = run("predict", "--lake", lake, "--k", "3", env=analyst(tmp_path))
    assert r.returncode == 0, r.stderr
    table = pd.read_parquet(lake / "predictions" / "predictions.parquet")
    assert table.groupby("pid")["rank"].max().eq(3).all()
    pid = str(table["pid"].iloc[0])
    r = run("forget", pid, "--lake", lake, env=env)
    assert r.returncode == 0, r.stderr
    after = pd.read_parquet(lake / "predictions" / "predictions.parquet")
    assert pid not in set(after["pid"]) and len(after) == len(table) - 3
    r = run("predict", "--lake", tmp_path / "nolake", "--evaluate")
    assert r.returncode == 2 and "no sightings" in r.stderr and "Traceback" not in r.stderr
