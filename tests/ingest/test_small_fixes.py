"""Issue 10, finding 9: a gzip file named .csv is read (not called "UTF-16 or binary"), and the
temporary files a killed ingest left in the lake are removed by the next ingest."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from sightgraph.ingest.lake_writer import new_run_id, read_ingest_log
from sightgraph.ingest.pipeline import ingest, ingest_cameras
from sightgraph.lake import read_sightings

KEY = "test-key-not-secret"
BODY = (
    "subject_id,camera_id,ts,confidence\n"
    "a,c1,1443746332,0.5\n"
    "b,c1,1443746333,\n"
    "a,c2,1443832800,0.9\n"
    "a,c1,1443746332,0.5\n"  # a duplicate in the file
    "c,c2,not-a-time,0.7\n"  # quarantined
)


def _sightings(lake: Path) -> pd.DataFrame:
    s = read_sightings(lake)
    return s.sort_values("sighting_id", kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("name", ["s.csv", "s.csv.gz", "S.CSV"])
def test_gzip_csv_is_read_whatever_its_name(tmp_path: Path, name: str) -> None:
    """A gzip stream is recognised by its magic bytes: named .csv it reads like .csv.gz and
    like the plain file."""
    plain = tmp_path / "plain.csv"
    plain.write_text(BODY, encoding="utf-8")
    zipped = tmp_path / name
    zipped.write_bytes(gzip.compress(BODY.encode()))
    want = ingest(plain, tmp_path / "plain-lake", key=KEY, progress=False)
    got = ingest(zipped, tmp_path / "lake", key=KEY, progress=False)
    counts = ("rows_read", "ingested", "duplicates_in_file", "quarantined", "reasons")
    assert [getattr(got, c) for c in counts] == [getattr(want, c) for c in counts]
    assert (got.rows_read, got.ingested, got.duplicates, got.quarantined) == (5, 3, 1, 1)
    assert got.balanced
    pd.testing.assert_frame_equal(
        _sightings(tmp_path / "lake"), _sightings(tmp_path / "plain-lake")
    )


def test_gzip_jsonl_named_plainly_is_read(tmp_path: Path) -> None:
    src = tmp_path / "s.jsonl"
    src.write_bytes(gzip.compress(b'{"subject_id": "a", "camera_id": "c1", "ts": 1443746332}\n'))
    r = ingest(src, tmp_path / "lake", key=KEY, progress=False)
    assert (r.rows_read, r.ingested) == (1, 1)


def test_binary_csv_is_still_refused(tmp_path: Path) -> None:
    """Only gzip is unpacked: other binary data keeps its clear message."""
    from sightgraph.errors import UsageError

    src = tmp_path / "s.csv"
    src.write_bytes(b"\x1f\x00\x00\x01binary")
    with pytest.raises(UsageError, match="UTF-16 or binary"):
        ingest(src, tmp_path / "lake", key=KEY, progress=False)


def _leftovers(lake: Path) -> dict[str, Path]:
    """Temporary files under the writer's own names, as a killed ingest leaves them."""
    run = new_run_id()
    day = lake / "sightings" / "date=2015-10-01"
    day.mkdir(parents=True, exist_ok=True)
    (lake / "quarantine").mkdir(exist_ok=True)
    (lake / "cameras").mkdir(exist_ok=True)
    files = {
        "part": day / f".part-{run}-00003.parquet.tmp",
        "new_day_part": lake / "sightings" / "date=2030-01-01" / f".part-{run}-00000.parquet.tmp",
        "quarantine": lake / "quarantine" / f".s-{run}.parquet.tmp",
        "cameras": lake / "cameras" / ".cameras.parquet.tmp",
    }
    files["new_day_part"].parent.mkdir()
    for path in files.values():
        path.write_bytes(b"PAR1 half-written")
    return files


def test_next_ingest_removes_a_killed_runs_tmp_files(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    src = tmp_path / "s.csv"
    src.write_text(BODY, encoding="utf-8")
    first = ingest(src, lake, key=KEY, progress=False)
    assert first.stale_tmp_removed == 0
    assert not any("cleaned" in line for line in first.summary())
    stale = _leftovers(lake)
    # not the writer's: another tool's scratch file, a stranger's file, a lookalike name
    foreign = [
        lake / "sightings" / "date=2015-10-01" / ".part-x.parquet.tmp",
        lake / "sightings" / "date=2015-10-01" / ".notes.tmp",
        lake / "colocations.parquet.tmp-1a2b3c4d",
        lake / "quarantine" / "keep.parquet.tmp",
    ]
    for path in foreign:
        path.write_bytes(b"x")
    before = len(read_sightings(lake))

    second = ingest(src, lake, key=KEY, progress=False)
    assert second.stale_tmp_removed == len(stale) == 4
    assert not any(p.exists() for p in stale.values())
    assert all(p.exists() for p in foreign)
    assert any("cleaned" in line and " 4 " in line for line in second.summary())
    # the counts add up: every row of the re-ingest is a duplicate in the lake or quarantined
    assert second.balanced and second.ingested == 0
    assert (second.duplicates_in_lake, second.duplicates_in_file, second.quarantined) == (3, 1, 1)
    assert len(read_sightings(lake)) == before == first.ingested
    log = read_ingest_log(lake)
    assert [r.get("stale_tmp_removed") for r in log] == [0, 4]

    third = ingest(src, lake, key=KEY, progress=False)
    assert third.stale_tmp_removed == 0


def test_ingest_cameras_removes_them_too(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    cams = tmp_path / "cams.csv"
    cams.write_text("camera_id,lat,lon\nc1,52.0,5.1\n", encoding="utf-8")
    stale = _leftovers(lake)
    assert ingest_cameras(cams, lake) == 1
    assert not any(p.exists() for p in stale.values())
    assert read_ingest_log(lake)[-1]["stale_tmp_removed"] == 4
