"""Which contacts become CONTACT edges: `load` keeps pairs beyond chance (q < --max-q, default
0.05) and at least --min-score, online and in the bulk importer's files; the lake keeps all."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from sightgraph.errors import UsageError
from sightgraph.graph.bulk import write_import_files
from sightgraph.graph.embedded import EmbeddedStore
from sightgraph.graph.loader import LOAD_MAX_Q, contact_filter, derived_path, load_lake
from tests.graph.test_neo4j_load import SIGHTGRAPH, make_lake


def _pairs(store: EmbeddedStore, pids: list[str]) -> set[tuple[str, str]]:
    edges = pd.concat([store.ego_network(p, hops=1, min_score=-1e300).edges for p in pids])
    return set(zip(edges["pid_a"], edges["pid_b"], strict=True))


@pytest.mark.parametrize(("max_q", "min_score"), [(None, 0.0), (0.05, 0.0), (0.5, 2.0), (1.0, 0.0)])
def test_online_and_bulk_loads_keep_exactly_the_filtered_pairs(
    tmp_path: Path, max_q: float | None, min_score: float
) -> None:
    make_lake(tmp_path / "lake", 3_000, seed=5)
    contacts = pd.read_parquet(derived_path(tmp_path / "lake", "contacts"))
    keep = contacts["score"] >= min_score
    if max_q is not None:
        keep &= contacts["q_value"] < max_q
    want = set(zip(contacts["pid_a"][keep], contacts["pid_b"][keep], strict=True))
    assert 0 < len(want) <= len(contacts)
    store = EmbeddedStore(tmp_path / "graph.duckdb")
    try:
        counts = load_lake(
            tmp_path / "lake", store, progress=False, max_q=max_q, min_score=min_score
        )
        assert counts["contacts"] == len(want)
        pids = sorted(set(contacts["pid_a"]) | set(contacts["pid_b"]))
        assert _pairs(store, pids) == want
    finally:
        store.close()
    (tmp_path / "import").mkdir()
    _, rows = write_import_files(
        tmp_path / "lake", tmp_path / "import", max_q=max_q, min_score=min_score
    )
    assert rows["contacts"] == len(want)
    assert len(pd.read_parquet(derived_path(tmp_path / "lake", "contacts"))) == len(contacts)


def test_filter_arguments_are_checked() -> None:
    assert contact_filter() is None and contact_filter(1.0, 0.0) is None
    for bad in (0, -0.1, 1.5, float("nan")):
        with pytest.raises(UsageError, match="max_q"):
            contact_filter(bad)
    with pytest.raises(UsageError, match="min_score"):
        contact_filter(None, float("inf"))


def test_cli_load_keeps_significant_pairs_by_default(tmp_path: Path) -> None:
    make_lake(tmp_path / "lake", 3_000, seed=6)
    contacts = pd.read_parquet(derived_path(tmp_path / "lake", "contacts"))
    env = {
        **os.environ,
        "SIGHTGRAPH_ROLE": "admin",
        "SIGHTGRAPH_WORKDIR": str(tmp_path),
        "SIGHTGRAPH_STORE": "embedded",
    }
    done = subprocess.run(
        [str(SIGHTGRAPH), "load", "--lake", str(tmp_path / "lake")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    significant = int((contacts["q_value"] < LOAD_MAX_Q).sum())
    assert f"contacts {significant:,}" in done.stdout
    assert significant < len(contacts)
