"""One key per lake (issue 10, finding 7): the lake records its key's fingerprint and mode before
its first row, and an ingest with another key, or the other mode, is refused with nothing written."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sightgraph.errors import UsageError
from sightgraph.ingest.lake_writer import INGEST_LOG, SightingsWriter, read_ingest_log
from sightgraph.ingest.pipeline import ingest, ingest_cameras
from sightgraph.ingest.pseudonymize import fingerprint_key
from sightgraph.lake import (
    KEY_RECORD_NAME,
    LOCK_NAME,
    read_key_record,
    read_sightings,
    write_key_record,
)

KEY_ONE = "lake-key-one-0f3a9c"
KEY_TWO = "lake-key-two-7d21e4"
ROOT = Path(__file__).resolve().parents[2]


def _source(path: Path, rows: int = 3, bad: bool = True) -> Path:
    lines = ["subject_id,camera_id,ts"]
    lines += [f"subj-{i},c1,2024-05-01T08:00:{i:02d}Z" for i in range(rows)]
    if bad:
        lines.append("subj-x,c1,not-a-time")  # would be quarantined
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _snapshot(lake: Path) -> dict[str, bytes]:
    """Every file of the lake with its bytes (the lock file's holder note aside)."""
    return {
        str(p.relative_to(lake)): b"" if p.name == LOCK_NAME else p.read_bytes()
        for p in sorted(lake.rglob("*"))
        if p.is_file()
    }


def _rows(lake: Path) -> dict[str, int]:
    return {
        str(p.relative_to(lake)): pq.read_metadata(p).num_rows
        for p in sorted(lake.rglob("*.parquet"))
    }


def _refused(lake: Path, match: str, **kwargs: object) -> None:
    """The ingest is refused with one line, and the lake keeps every file byte for byte."""
    before, rows = _snapshot(lake), _rows(lake)
    log = read_ingest_log(lake)
    with pytest.raises(UsageError, match=match) as info:
        ingest(_source(lake.parent / "again.csv", rows=5), lake, progress=False, **kwargs)  # type: ignore[arg-type]
    assert "\n" not in str(info.value) and str(lake) in str(info.value)
    assert _snapshot(lake) == before and _rows(lake) == rows and read_ingest_log(lake) == log


def test_another_key_is_refused_and_the_lake_is_unchanged(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    first = ingest(_source(tmp_path / "s.csv"), lake, key=KEY_ONE, progress=False)
    assert first.ingested == 3 and first.quarantined == 1
    _refused(lake, "different pseudonym key", key=KEY_TWO)
    assert len(read_sightings(lake)) == 3


def test_no_pseudonymize_into_a_pseudonymised_lake_is_refused(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    ingest(_source(tmp_path / "s.csv"), lake, key=KEY_ONE, progress=False)
    _refused(lake, "is pseudonymised .*--no-pseudonymize would put raw ids", pseudonymize=False)
    assert not any(pid.startswith("subj-") for pid in read_sightings(lake)["pid"])


def test_a_keyed_ingest_into_a_no_pseudonymize_lake_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = tmp_path / "lake"
    monkeypatch.setenv("SIGHTGRAPH_PSEUDONYM_KEY", KEY_TWO)  # the key from the environment
    ingest(_source(tmp_path / "s.csv"), lake, pseudonymize=False, progress=False)
    assert read_key_record(lake) is not None
    record = read_key_record(lake)
    assert record is not None and record["mode"] == "not-pseudonymised"
    assert record["key_fingerprint"] is None
    _refused(lake, "made with --no-pseudonymize", key=KEY_ONE)
    _refused(lake, "made with --no-pseudonymize")  # the key from the environment, same refusal
    again = ingest(_source(tmp_path / "s.csv"), lake, pseudonymize=False, progress=False)
    assert again.ingested == 0 and again.duplicates_in_lake == 3


def test_the_same_key_ingests_again(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    source = _source(tmp_path / "s.csv")
    ingest(source, lake, key=KEY_ONE, progress=False)
    record = read_key_record(lake)
    assert record is not None and record["mode"] == "pseudonymised"
    assert record["key_fingerprint"] == fingerprint_key(KEY_ONE.encode())
    assert record["origin"] == "first ingest"
    text = (lake / KEY_RECORD_NAME).read_bytes()
    again = ingest(source, lake, key=KEY_ONE, progress=False)  # idempotent re-ingest
    assert again.ingested == 0 and again.duplicates_in_lake == 3
    more = ingest(_source(tmp_path / "more.csv", rows=5), lake, key=KEY_ONE, progress=False)
    assert more.ingested == 2 and len(read_sightings(lake)) == 5
    assert (lake / KEY_RECORD_NAME).read_bytes() == text  # written once, never rewritten


def test_a_first_ingest_that_fails_before_any_row_leaves_no_lake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record is on disk before the first row, but a run that fails with an error (not a
    kill: see the next test) rolls itself back, key record included: no partial lake, and
    nothing that holds a key for a lake without data."""
    lake = tmp_path / "lake"

    def die(self: SightingsWriter, *args: object, **kwargs: object) -> int:
        raise RuntimeError("failed before the first row")

    with monkeypatch.context() as m:
        m.setattr(SightingsWriter, "write", die)
        with pytest.raises(RuntimeError, match="failed"):
            ingest(_source(tmp_path / "s.csv", bad=False), lake, key=KEY_ONE, progress=False)
    assert not lake.exists()  # no row, no log, no key record (nor the lock's folder)
    report = ingest(_source(tmp_path / "s.csv"), lake, key=KEY_ONE, progress=False)
    assert report.ingested == 3
    _refused(lake, "different pseudonym key", key=KEY_TWO)
    _refused(lake, "is pseudonymised", pseudonymize=False)


KILLER = """
import os, signal, sys
from sightgraph.ingest.lake_writer import SightingsWriter
from sightgraph.ingest.pipeline import ingest

def die(self, *args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

SightingsWriter.write = die
ingest(sys.argv[1], sys.argv[2], key=sys.argv[3], progress=False)
"""


def test_a_first_ingest_killed_by_sigkill_before_any_row(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    env = {k: v for k, v in os.environ.items() if k != "SIGHTGRAPH_PSEUDONYM_KEY"}
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(_source(tmp_path / "s.csv")), str(lake), KEY_ONE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not (lake / "sightings").exists() and not (lake / INGEST_LOG).exists()
    _refused(lake, "different pseudonym key", key=KEY_TWO)


def test_the_record_never_holds_the_key(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    ingest(_source(tmp_path / "s.csv"), lake, key=KEY_ONE, progress=False)
    record = json.loads((lake / KEY_RECORD_NAME).read_text())
    plain = hashlib.sha256(KEY_ONE.encode()).hexdigest()
    assert record["key_fingerprint"] not in plain  # a keyed fingerprint, not the key's SHA-256
    for name, data in _snapshot(lake).items():
        assert KEY_ONE.encode() not in data, name
        assert plain[:12].encode() not in data, name


def test_an_older_lake_takes_its_record_from_the_ingest_log(tmp_path: Path) -> None:
    """A lake made before the key record: the ingest log decides, and the record is written."""
    lake = tmp_path / "lake"
    ingest(_source(tmp_path / "s.csv"), lake, key=KEY_ONE, progress=False)
    (lake / KEY_RECORD_NAME).unlink()
    _refused(lake, "different pseudonym key .*per its ingest log", key=KEY_TWO)
    _refused(lake, "is pseudonymised", pseudonymize=False)
    assert not (lake / KEY_RECORD_NAME).exists()  # a refused run writes nothing, not even this
    ingest(_source(tmp_path / "s.csv"), lake, key=KEY_ONE, progress=False)
    record = read_key_record(lake)
    assert record is not None and record["origin"] == "ingest log"
    assert record["key_fingerprint"] == fingerprint_key(KEY_ONE.encode())


def test_an_older_lake_whose_log_mixes_keys_is_refused(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    ingest(_source(tmp_path / "s.csv"), lake, key=KEY_ONE, progress=False)
    (lake / KEY_RECORD_NAME).unlink()
    with (lake / INGEST_LOG).open("a") as fh:  # what the old code let through
        fh.write(json.dumps({"kind": "sightings", "run_id": "r2", "pseudonymized": False}) + "\n")
    _refused(lake, "already mixes", key=KEY_ONE)


def test_a_lake_without_sightings_adopts_the_first_ingest(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    cams = tmp_path / "cams.csv"
    cams.write_text("camera_id,lat,lon\nc1,1,2\n")
    ingest_cameras(cams, lake)
    assert read_key_record(lake) is None  # cameras carry no subject ids
    ingest(_source(tmp_path / "s.csv"), lake, pseudonymize=False, progress=False)
    record = read_key_record(lake)
    assert record is not None and record["mode"] == "not-pseudonymised"
    assert record["origin"] == "first ingest"


def test_a_refused_first_run_writes_no_record(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    empty = tmp_path / "empty.csv"
    empty.write_text("subject_id,camera_id,ts\n")
    with pytest.raises(UsageError, match="no data rows"):
        ingest(empty, lake, key=KEY_ONE, progress=False)
    assert not lake.exists()
    ingest(_source(tmp_path / "s.csv"), lake, key=KEY_TWO, progress=False)
    record = read_key_record(lake)
    assert record is not None and record["key_fingerprint"] == fingerprint_key(KEY_TWO.encode())


def test_a_damaged_record_is_refused(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    ingest(_source(tmp_path / "s.csv"), lake, key=KEY_ONE, progress=False)
    (lake / KEY_RECORD_NAME).write_text('{"mode": "pseudonymised"}')
    _refused(lake, "key record .* is damaged", key=KEY_ONE)
    with pytest.raises(UsageError, match="refusing to write"):
        write_key_record(lake, "pseudonymised", None, "test")
