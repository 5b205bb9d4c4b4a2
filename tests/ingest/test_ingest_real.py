"""Real data: the start of the feedr finches and Wytham Woods feeder files ingest cleanly."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sightgraph.ingest.pipeline import ingest
from sightgraph.ingest.pseudonymize import pseudonymize_ids
from sightgraph.lake import read_sightings

DATA = Path("/work/shared/data")
FINCHES = DATA / "feedr_finches" / "finches_lg.csv"
WYTHAM = DATA / "wytham_feeders" / "identified_individuals.csv"
KEY = "test-key-not-secret"


def head_copy(src: Path, dst: Path, n_lines: int) -> Path:
    """The first n_lines lines of src (header included) written to dst."""
    with src.open("rb") as fh:
        dst.write_bytes(b"".join(next(fh) for _ in range(n_lines)))
    return dst


@pytest.mark.skipif(not FINCHES.exists(), reason="feedr finches data not on this machine")
def test_finches_first_2000_lines(tmp_path: Path) -> None:
    """1999 reads, naive Vancouver local times: all ingested, first read 17:38:52 PDT -> 00:38:52 UTC."""
    src = head_copy(FINCHES, tmp_path / "finches.csv", 2000)
    mapping = {"subject_id": "animal_id", "camera_id": "logger_id", "ts": "time"}
    r = ingest(
        src,
        tmp_path / "lake",
        mapping=mapping,
        tz="America/Vancouver",
        key=KEY,
        progress=False,
        chunk_rows=700,
    )
    raw = pd.read_csv(src, dtype=str)
    expected_dups = int(raw.duplicated(["animal_id", "logger_id", "time"]).sum())
    assert r.rows_read == 1999 == len(raw)
    assert r.balanced and r.quarantined == 0
    assert (r.ingested, r.duplicates_in_file) == (1999 - expected_dups, expected_dups)
    got = read_sightings(tmp_path / "lake")
    assert set(got["pid"]) == set(pseudonymize_ids(raw["animal_id"], KEY))
    assert set(got["camera_id"]) == set(raw["logger_id"])
    first = raw.iloc[0]
    assert (first["animal_id"], first["time"]) == ("041868E9A8", "2015-10-01 17:38:52")
    first_pid = pseudonymize_ids(pd.Series(["041868E9A8"]), KEY)[0]
    assert pd.Timestamp("2015-10-02 00:38:52", tz="UTC") in set(
        got.loc[got["pid"] == first_pid, "ts"]
    )
    # oracle for every row: pandas localises the wall-clock times independently
    local = pd.to_datetime(raw["time"]).dt.tz_localize("America/Vancouver").dt.tz_convert("UTC")
    expected = set(
        zip(pseudonymize_ids(raw["animal_id"], KEY), raw["logger_id"], local, strict=True)
    )
    assert set(zip(got["pid"], got["camera_id"], got["ts"], strict=True)) == expected
    assert not any(a in " ".join(got["pid"]) for a in raw["animal_id"].unique())


@pytest.mark.skipif(not FINCHES.exists(), reason="feedr finches data not on this machine")
def test_finches_without_tz_are_all_quarantined_as_naive(tmp_path: Path) -> None:
    src = head_copy(FINCHES, tmp_path / "finches.csv", 200)
    mapping = {"subject_id": "animal_id", "camera_id": "logger_id", "ts": "time"}
    r = ingest(src, tmp_path / "lake", mapping=mapping, key=KEY, progress=False)
    assert r.reasons == {"naive timestamp, pass --tz": 199} and r.ingested == 0


@pytest.mark.skipif(not WYTHAM.exists(), reason="Wytham Woods data not on this machine")
def test_wytham_first_2000_lines_time_as_epoch_seconds(tmp_path: Path) -> None:
    """Time is seconds since the first observation; mapped to ts it reads as epoch seconds (1970)."""
    src = head_copy(WYTHAM, tmp_path / "wytham.csv", 2000)
    mapping = {"subject_id": "ID", "camera_id": "Location", "ts": "Time"}
    r = ingest(src, tmp_path / "lake", mapping=mapping, key=KEY, progress=False)
    raw = pd.read_csv(src, dtype=str)
    assert r.rows_read == 1999 and r.balanced and r.quarantined == 0
    got = read_sightings(tmp_path / "lake")
    seconds = raw["Time"].astype(int)
    assert got["ts"].min() == pd.Timestamp(int(seconds.min()), unit="s", tz="UTC")
    assert got["ts"].max() == pd.Timestamp(int(seconds.max()), unit="s", tz="UTC")
    assert set(got["camera_id"]) == set(raw["Location"])
