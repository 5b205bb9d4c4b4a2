"""A relative lake (and output) path with a distributed scheduler: the driver makes the paths
absolute before building tasks, so workers running in another working directory find the files
(issue 10, finding 9). Uses the real cluster of test_cluster.py (started from pytest's working
directory, which is not the directory the test changes to)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sightgraph.analytics.colocation import colocate_lake, map_event_partitions
from sightgraph.analytics.contacts import compute_contacts
from sightgraph.lake import read_params

from . import contacts_oracle
from .colocation_oracle import normalise_events, write_lake
from .test_cluster import cluster  # noqa: F401 - the module-scoped cluster fixture
from .test_colocation_lake import _city

pytestmark = pytest.mark.cluster


@pytest.fixture
def elsewhere(cluster, tmp_path, monkeypatch) -> Path:  # noqa: F811
    """A working directory of the test's own, unlike the cluster workers'."""
    from distributed import Client

    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)
    with Client(cluster, timeout=20) as client:
        worker_dirs = set(client.run(os.getcwd).values())
    assert worker_dirs and str(here) not in worker_dirs
    return here


def test_colocate_relative_lake_on_cluster(cluster, elsewhere):  # noqa: F811
    s, cams = _city(n=500, seed=5)
    write_lake(elsewhere / "lake", s, cams, split=2)
    absolute = colocate_lake(
        elsewhere / "lake",
        elsewhere / "abs" / "pairs.parquet",
        window_s=90,
        scheduler=cluster,
        npartitions=4,
        events_out=elsewhere / "abs-events",
        progress=False,
    )
    relative = colocate_lake(
        "lake",
        Path("rel") / "pairs.parquet",
        window_s=90,
        scheduler=cluster,
        npartitions=4,
        events_out=Path("rel-events"),
        progress=False,
    )
    assert relative.pairs == absolute.pairs > 0 and relative.events == absolute.events
    pd.testing.assert_frame_equal(
        pd.read_parquet(elsewhere / "rel" / "pairs.parquet"),
        pd.read_parquet(elsewhere / "abs" / "pairs.parquet"),
    )
    pd.testing.assert_frame_equal(
        normalise_events(pd.read_parquet(elsewhere / "rel-events")),
        normalise_events(pd.read_parquet(elsewhere / "abs-events")),
    )
    # the parameters keep the lake as the caller named it; no scratch directory is left
    assert read_params(elsewhere / "rel" / "pairs.parquet")["lake"] == "lake"
    assert not [p for p in (elsewhere / "rel").iterdir() if p.name.startswith(".")]
    parts = map_event_partitions("lake", len, window_s=90, scheduler=cluster, progress=False)
    assert sum(parts) == absolute.events


def test_contacts_relative_lake_on_cluster(cluster, elsewhere):  # noqa: F811
    s = contacts_oracle.friends_and_strangers(commuters=10, weekdays=5)
    s["confidence"] = np.round(np.random.default_rng(2).uniform(0.5, 1.0, len(s)), 3)
    contacts_oracle.write_lake(elsewhere / "lake", s)
    kw = {"window_s": 60, "progress": False, "npartitions": 3, "scheduler": cluster}
    absolute = compute_contacts(elsewhere / "lake", elsewhere / "abs.parquet", **kw)
    relative = compute_contacts("lake", "rel.parquet", **kw)
    assert relative.pairs == absolute.pairs > 0 and relative.meetings == absolute.meetings
    pd.testing.assert_frame_equal(
        pd.read_parquet(elsewhere / "rel.parquet"), pd.read_parquet(elsewhere / "abs.parquet")
    )
    assert read_params(elsewhere / "rel.parquet")["lake"] == "lake"
