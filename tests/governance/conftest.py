"""Shared fixtures of the governance tests: a demo-sized run through the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sightgraph import cli
from sightgraph.ingest.pseudonymize import pseudonym_of

KEY = "test-only-key"


def _main(args: list[str | Path]) -> int:
    """Run the CLI in this process; its exit code."""
    with pytest.raises(SystemExit) as exc:
        cli.main([str(a) for a in args])
    return int(exc.value.code or 0)


def _env(mp: pytest.MonkeyPatch, work: Path) -> None:
    for k, v in {
        "SIGHTGRAPH_PSEUDONYM_KEY": KEY,
        "SIGHTGRAPH_PURPOSE": "test",
        "SIGHTGRAPH_ROLE": "admin",
        "SIGHTGRAPH_WORKDIR": str(work),
        "SIGHTGRAPH_COMMIT_WAIT": "5",
    }.items():
        mp.setenv(k, v)
    mp.delenv("SIGHTGRAPH_STORE", raising=False)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A demo-sized run through the CLI: generate, ingest (with a quarantine), colocate (pairs
    and events into the lake), contacts, trajectories, predict, load (embedded), one forget.
    Tests copy the lake before changing it."""
    root = tmp_path_factory.mktemp("demo")
    city, lake, work = root / "city", root / "lake", root / "work"
    with pytest.MonkeyPatch.context() as mp:
        _env(mp, work)
        assert _main(["generate", "--out", city, "--persons", "120", "--days", "3"]) == 0
        sightings = next(city.glob("sightings.*"))
        cams = city / "cameras.csv"
        assert _main(["ingest", sightings, "--cameras", cams, "--lake", lake]) == 0
        bad = root / "bad.csv"
        bad.write_text(
            'subject_id,camera_id,ts\nS00001,C0001,not-a-time\n"S00002,C0001,2024-01-01T00:00Z\n'
        )
        assert _main(["ingest", bad, "--lake", lake]) == 0
        assert (
            _main(
                [
                    "colocate",
                    "--lake",
                    lake,
                    "--out",
                    lake / "colocations" / "colocations.parquet",
                    "--events-out",
                    lake / "colocation_events",
                ]
            )
            == 0
        )
        assert _main(["contacts", "--lake", lake, "--out", lake / "contacts/contacts.parquet"]) == 0
        assert _main(["trajectories", "--lake", lake, "--out", root / "traj"]) == 0
        assert _main(["predict", "--lake", lake]) == 0
        assert _main(["load", "--lake", lake, "--store", "embedded"]) == 0
        raw = pd.read_parquet(sightings)["subject_id"] if sightings.suffix == ".parquet" else None
        ids = (
            sorted(set(raw))
            if raw is not None
            else sorted(set(pd.read_csv(sightings)["subject_id"]))
        )
        assert _main(["forget", pseudonym_of(ids[-1], KEY), "--lake", lake]) == 0
    yield {"root": root, "lake": lake, "work": work, "city": city, "raw_ids": ids}
