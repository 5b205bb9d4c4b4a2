"""End-to-end tests of sightgraph.ingest.ingest: files in, lake out, every row accounted for."""

from __future__ import annotations

import gzip
import hmac
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sightgraph.errors import UsageError
from sightgraph.ingest.lake_writer import INGEST_LOG, make_sighting_ids, read_ingest_log
from sightgraph.ingest.pipeline import IngestReport, ingest, ingest_cameras
from sightgraph.ingest.pseudonymize import pseudonymize_ids
from sightgraph.lake import read_cameras, read_sightings
from sightgraph.schema import SIGHTINGS_ARROW

KEY = "test-key-not-secret"
HEADER = "subject_id,camera_id,ts,confidence"


# ------------------------------------------------------------------------------------- helpers
def write_lines(
    path: Path, lines: list[str | bytes], end: bytes = b"\n", final: bool = True
) -> Path:
    """Write lines (str as UTF-8, bytes as given) joined by ``end`` (and ending with it if final)."""
    raw = [ln.encode("utf-8") if isinstance(ln, str) else ln for ln in lines]
    path.write_bytes(end.join(raw) + (end if final else b""))
    return path


def write_jsonl(path: Path, rows: list[dict | str]) -> Path:
    """One JSON object (or literal text, for broken lines) per line."""
    text = "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def read_quarantine(lake: Path) -> pd.DataFrame:
    """All quarantine rows of a lake, sorted by line."""
    files = sorted((lake / "quarantine").glob("*.parquet"))
    if not files:
        return pd.DataFrame({c: [] for c in ("source", "line", "reason", "field", "raw")})
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    return frame.sort_values("line", ignore_index=True)


def hmac_pid(raw: str, key: str = KEY) -> str:
    """Oracle for the pseudonym: HMAC-SHA256 hex, first 16 characters."""
    return hmac.new(key.encode(), raw.encode(), "sha256").hexdigest()[:16]


def us(text: str) -> int:
    """An aware ISO time -> epoch microseconds (oracle via pandas Timestamp)."""
    return int((pd.Timestamp(text) - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1))


def lake_rows(lake: Path) -> pd.DataFrame:
    """Sightings of a lake in a canonical order (for equality checks)."""
    df = read_sightings(lake)
    return df.sort_values("sighting_id", ignore_index=True)


# The messy file: every kind of bad row, with the expected fate of each line.
MESSY_LINES: list[str | bytes] = [
    HEADER,  # 1
    "RAWA01,c1,2015-10-01T17:38:52+00:00,0.9",  # 2 ok
    "RAWA01,c1,2015-10-01T17:38:52+00:00,0.9",  # 3 duplicate of line 2
    "RAWB02,c2,1443746332,",  # 4 ok: epoch seconds, blank confidence -> 1.0
    " ,c1,2015-10-01T17:38:52Z,0.5",  # 5 empty subject
    "RAWC03,   ,2015-10-01T17:38:52Z,0.5",  # 6 empty camera
    "RAWC03,c1,2015-10-01 17:38:52,0.5",  # 7 naive, no tz
    "RAWC03,c1,1700-01-01T00:00:00Z,0.5",  # 8 out of range
    "RAWC03,c1,3000-01-01T00:00:00Z,0.5",  # 9 out of range
    "RAWC03,c1,yesterday,0.5",  # 10 unparsable
    "RAWC03,c1,2015-10-01T17:38:52Z,high",  # 11 confidence not a number
    "RAWC03,c1,2015-10-01T17:38:52Z,1.5",  # 12 confidence outside 0..1
    "RAWC03,c9,2015-10-01T17:38:52Z,0.5",  # 13 camera c9 not in the cameras file
    "RAWC03,c1,2015-10-01T17:38:52Z,0.5,extra",  # 14 too many fields
    "",  # 15 blank: not a row
    b"RAWD04\xff,c1,2015-10-01T17:38:52Z,0.5",  # 16 not UTF-8
    '"RAWE05,c1,2015-10-01T17:38:52Z,0.5',  # 17 unbalanced quotes
    "RAWF06,c2,2015-10-02T08:00:00-07:00,0.25",  # 18 ok
    "RAWG07,c1,2015-10-01T17:38:5",  # 19 truncated last line (no newline)
]
MESSY_QUARANTINE = [
    (5, "empty subject_id", "subject_id"),
    (6, "empty camera_id", "camera_id"),
    (7, "naive timestamp, pass --tz", "ts"),
    (8, "ts out of range", "ts"),
    (9, "ts out of range", "ts"),
    (10, "unparsable ts", "ts"),
    (11, "confidence not a number", "confidence"),
    (12, "confidence outside 0..1", "confidence"),
    (13, "camera not in cameras file", "camera_id"),
    (14, "too many fields", None),
    (16, "not valid UTF-8", None),
    (17, "unbalanced quotes", None),
    (19, "truncated row", None),
]
RAW_IDS = ["RAWA01", "RAWB02", "RAWC03", "RAWD04", "RAWE05", "RAWF06", "RAWG07"]


def write_messy(tmp: Path) -> tuple[Path, Path]:
    """The messy sightings file (no final newline) and a cameras file with c1 and c2."""
    src = write_lines(tmp / "messy.csv", MESSY_LINES, final=False)
    cams = write_lines(
        tmp / "cams.csv", ["camera_id,lat,lon,name", "c1,51.5,-0.1,gate", "c2,51.6,-0.2,yard"]
    )
    return src, cams


# ------------------------------------------------------------------------------------- tests
def test_messy_file_counts_add_up(tmp_path: Path) -> None:
    """17 data rows: 3 ingested (lines 2, 4, 18), 1 duplicate (line 3), 13 quarantined."""
    src, cams = write_messy(tmp_path)
    report = ingest(src, tmp_path / "lake", cameras=cams, key=KEY, progress=False)
    assert isinstance(report, IngestReport)
    assert (report.rows_read, report.ingested, report.quarantined) == (17, 3, 13)
    assert (report.duplicates_in_file, report.duplicates_in_lake, report.duplicates) == (1, 0, 1)
    assert report.balanced
    expected_reasons: dict[str, int] = {}
    for _, reason, _ in MESSY_QUARANTINE:
        expected_reasons[reason] = expected_reasons.get(reason, 0) + 1
    assert report.reasons == expected_reasons
    assert report.partitions == ["2015-10-01", "2015-10-02"]
    assert report.cameras == 2
    lines = report.summary()
    assert (
        lines[-1].endswith("ok")
        and "17 read = 3 ingested + 1 duplicates + 13 quarantined" in lines[-1]
    )
    assert any("camera not in cameras file" in ln for ln in lines)


def test_quarantine_names_lines_reasons_and_fields(tmp_path: Path) -> None:
    """The quarantine file holds one row per rejected line: source, 1-based line, reason, field,
    pid, raw (rows that parse only), raw_bytes and raw_hash (rows that do not), ts (when read)
    and ingested_at."""
    src, cams = write_messy(tmp_path)
    report = ingest(src, tmp_path / "lake", cameras=cams, key=KEY, progress=False)
    assert report.quarantine_path is not None
    assert report.quarantine_path.parent == tmp_path / "lake" / "quarantine"
    assert report.quarantine_path.name == f"messy-{report.run_id}.parquet"
    q = read_quarantine(tmp_path / "lake")
    assert list(q.columns) == [
        "source",
        "line",
        "reason",
        "field",
        "pid",
        "raw",
        "raw_bytes",
        "raw_hash",
        "ts",
        "ingested_at",
    ]
    got = [(int(r.line), r.reason, None if pd.isna(r.field) else r.field) for r in q.itertuples()]
    assert got == MESSY_QUARANTINE
    assert set(q["source"]) == {str(src)}
    raw = dict(zip(q["line"], q["raw"], strict=True))
    # the raw row is kept, with the subject field replaced by its pid
    # a row that parses is kept, with the subject field replaced by its pid
    assert raw[8] == f"{hmac_pid('RAWC03')},c1,1700-01-01T00:00:00Z,0.5"
    assert raw[5] == " ,c1,2015-10-01T17:38:52Z,0.5"
    pid = dict(zip(q["line"], q["pid"], strict=True))
    assert pid[8] == hmac_pid("RAWC03") and pd.isna(pid[5])
    # a row that does not parse keeps no text: its length and keyed hash account for it
    raw_bytes = dict(zip(q["line"], q["raw_bytes"], strict=True))
    for line in (14, 16, 17, 19):
        assert pd.isna(raw[line]) and pd.isna(pid[line])
        text = MESSY_LINES[line - 1]
        assert raw_bytes[line] == len(text if isinstance(text, bytes) else text.encode())
    assert q["raw_hash"].notna().tolist() == [r in (14, 16, 17, 19) for r in q["line"]]
    for value in q.to_numpy().ravel():
        assert not any(raw_id in str(value) for raw_id in RAW_IDS)
    # ts when it could be read (line 11: bad confidence), else null; ingested_at always
    ts = dict(zip(q["line"], q["ts"], strict=True))
    assert ts[11] == pd.Timestamp("2015-10-01T17:38:52Z") and pd.isna(ts[10])
    assert q["ingested_at"].notna().all()


def test_round_trip_through_read_sightings(tmp_path: Path) -> None:
    """The three good rows of the messy file come back exactly (pid = HMAC oracle, UTC times)."""
    src, cams = write_messy(tmp_path)
    ingest(src, tmp_path / "lake", cameras=cams, key=KEY, progress=False)
    got = lake_rows(tmp_path / "lake")
    expected = pd.DataFrame(
        {
            "pid": [hmac_pid("RAWA01"), hmac_pid("RAWB02"), hmac_pid("RAWF06")],
            "camera_id": ["c1", "c2", "c2"],
            "ts_us": [
                us("2015-10-01T17:38:52Z"),
                1443746332 * 1_000_000,
                us("2015-10-02T15:00:00Z"),
            ],
            "confidence": [0.9, 1.0, 0.25],
        }
    )
    expected["sighting_id"] = make_sighting_ids(
        expected["pid"], expected["camera_id"], expected["ts_us"]
    )
    expected = expected.sort_values("sighting_id", ignore_index=True)
    assert list(got.columns) == list(SIGHTINGS_ARROW.names)
    assert str(got["ts"].dtype) == "datetime64[us, UTC]"
    assert got["sighting_id"].tolist() == expected["sighting_id"].tolist()
    assert got["pid"].tolist() == expected["pid"].tolist()
    assert got["camera_id"].tolist() == expected["camera_id"].tolist()
    got_us = ((got["ts"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1)).tolist()
    assert got_us == expected["ts_us"].tolist()
    assert got["confidence"].tolist() == expected["confidence"].tolist()


def test_lake_layout_and_schema_exact(tmp_path: Path) -> None:
    """Files are LAKE/sightings/date=YYYY-MM-DD/part-<run>-<n>.parquet with SIGHTINGS_ARROW exactly."""
    src, cams = write_messy(tmp_path)
    report = ingest(src, tmp_path / "lake", key=KEY, progress=False, chunk_rows=2)
    files = sorted((tmp_path / "lake" / "sightings").rglob("*.parquet"))
    assert files
    for f in files:
        assert f.parent.name in {"date=2015-10-01", "date=2015-10-02"}
        assert f.name.startswith(f"part-{report.run_id}-")
        schema = pq.read_schema(f)
        assert schema.remove_metadata().equals(SIGHTINGS_ARROW)
        table = pq.read_table(f)
        dates = pd.Series(table.column("ts").to_pandas()).dt.strftime("%Y-%m-%d")
        assert set(dates) == {f.parent.name.removeprefix("date=")}
    assert not list((tmp_path / "lake").rglob(".*.tmp"))


def test_reingest_same_file_adds_nothing(tmp_path: Path) -> None:
    """Second run: every valid row is a lake duplicate (except the in-file duplicate); lake unchanged."""
    src, cams = write_messy(tmp_path)
    lake = tmp_path / "lake"
    first = ingest(src, lake, cameras=cams, key=KEY, progress=False)
    before = lake_rows(lake)
    second = ingest(src, lake, cameras=cams, key=KEY, progress=False)
    after = lake_rows(lake)
    assert second.ingested == 0
    assert second.duplicates_in_lake == first.ingested == 3
    assert second.duplicates_in_file == first.duplicates_in_file == 1
    assert second.quarantined == first.quarantined
    assert second.partitions == []
    pd.testing.assert_frame_equal(before, after)


def test_reingest_overlapping_file_adds_only_new_rows(tmp_path: Path) -> None:
    """File B repeats two rows of file A and adds one: only that one is written."""
    lake = tmp_path / "lake"
    a = write_lines(
        tmp_path / "a.csv", [HEADER, "s1,c1,1443746332,", "s2,c1,1443746333,", "s3,c2,1443746334,"]
    )
    b = write_lines(
        tmp_path / "b.csv", [HEADER, "s2,c1,1443746333,", "s3,c2,1443746334,", "s4,c2,1443746335,"]
    )
    ingest(a, lake, key=KEY, progress=False)
    rb = ingest(b, lake, key=KEY, progress=False)
    assert (rb.ingested, rb.duplicates_in_lake, rb.duplicates_in_file) == (1, 2, 0)
    assert sorted(read_sightings(lake)["pid"]) == sorted(
        hmac_pid(s) for s in ("s1", "s2", "s3", "s4")
    )


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 5])
def test_chunked_reading_equals_one_chunk(tmp_path: Path, chunk_rows: int) -> None:
    """Any chunk size gives the same counts, lake rows and quarantine rows as one big chunk."""
    src, cams = write_messy(tmp_path)
    whole = ingest(src, tmp_path / "whole", cameras=cams, key=KEY, progress=False)
    parts = ingest(
        src, tmp_path / "parts", cameras=cams, key=KEY, progress=False, chunk_rows=chunk_rows
    )
    for name in (
        "rows_read",
        "ingested",
        "duplicates_in_file",
        "duplicates_in_lake",
        "quarantined",
        "reasons",
        "partitions",
    ):
        assert getattr(parts, name) == getattr(whole, name), name
    pd.testing.assert_frame_equal(lake_rows(tmp_path / "whole"), lake_rows(tmp_path / "parts"))
    cols = ["line", "reason", "field", "raw"]
    pd.testing.assert_frame_equal(
        read_quarantine(tmp_path / "whole")[cols], read_quarantine(tmp_path / "parts")[cols]
    )


def test_duplicates_across_chunks_count_as_in_file(tmp_path: Path) -> None:
    """Line 2 and line 6 are the same sighting; with 2-row chunks they fall in different chunks."""
    lines = [HEADER] + [f"s{i},c1,{1443746332 + i}," for i in range(4)] + ["s0,c1,1443746332,0.3"]
    src = write_lines(tmp_path / "d.csv", lines)
    r = ingest(src, tmp_path / "lake", key=KEY, progress=False, chunk_rows=2)
    assert (r.rows_read, r.ingested, r.duplicates_in_file, r.duplicates_in_lake) == (5, 4, 1, 0)
    # the first occurrence wins: its confidence (blank -> 1.0) is kept, not the duplicate's 0.3
    assert read_sightings(tmp_path / "lake")["confidence"].tolist() == [1.0] * 4


def test_naive_times_are_read_in_the_given_zone(tmp_path: Path) -> None:
    """Naive 2015-10-01 17:38:52 in America/Vancouver (PDT, UTC-7) is 2015-10-02 00:38:52 UTC;
    an explicit offset wins over tz; epoch seconds ignore tz."""
    src = write_lines(
        tmp_path / "tz.csv",
        [HEADER, "a,c1,2015-10-01 17:38:52,", "b,c1,2015-10-01T17:38:52+02:00,", "c,c1,0,"],
    )
    ingest(src, tmp_path / "lake", tz="America/Vancouver", key=KEY, progress=False)
    df = read_sightings(tmp_path / "lake").set_index("pid")["ts"]
    assert df[hmac_pid("a")] == pd.Timestamp("2015-10-02 00:38:52", tz="UTC")
    assert df[hmac_pid("b")] == pd.Timestamp("2015-10-01 15:38:52", tz="UTC")
    assert df[hmac_pid("c")] == pd.Timestamp("1970-01-01", tz="UTC")


def test_epoch_seconds_int_and_float(tmp_path: Path) -> None:
    """Integer and fractional epoch seconds (text or numbers) become exact microseconds."""
    src = write_lines(
        tmp_path / "e.csv", [HEADER, "a,c1,1443746332,", "b,c1,1443746332.25,", "c,c1,1.5e9,"]
    )
    ingest(src, tmp_path / "lake", key=KEY, progress=False)
    got = read_sightings(tmp_path / "lake").set_index("pid")["ts"]
    assert got[hmac_pid("a")] == pd.Timestamp(1443746332, unit="s", tz="UTC")
    assert got[hmac_pid("b")] == pd.Timestamp(1443746332_250000, unit="us", tz="UTC")
    assert got[hmac_pid("c")] == pd.Timestamp(1_500_000_000, unit="s", tz="UTC")


def test_jsonl_input_with_numbers_and_mapping(tmp_path: Path) -> None:
    """JSON Lines: numeric ids and epoch numbers; mapped names; a broken line is quarantined."""
    src = write_jsonl(
        tmp_path / "s.jsonl",
        [
            {"animal": "a1", "logger": 2100, "time": 1443746332, "p": 0.5},
            {"animal": 42, "logger": "2100", "time": "2015-10-01T17:38:52Z", "p": None},
            {"animal": "a3", "logger": 2200.0, "time": 1443746332.5},
            '{"animal": "a4", "logger": ',
            "[1, 2, 3]",
            {"animal": "a5", "logger": 2100, "time": True},
        ],
    )
    mapping = {"subject_id": "animal", "camera_id": "logger", "ts": "time", "confidence": "p"}
    r = ingest(src, tmp_path / "lake", mapping=mapping, key=KEY, progress=False)
    assert (r.rows_read, r.ingested, r.quarantined) == (6, 3, 3)
    q = read_quarantine(tmp_path / "lake")
    assert list(zip(q["line"], q["reason"], strict=True)) == [
        (4, "invalid JSON"),
        (5, "JSON line is not an object"),
        (6, "unparsable ts"),
    ]
    df = read_sightings(tmp_path / "lake").set_index("pid")
    assert df.loc[hmac_pid("42"), "camera_id"] == "2100"
    assert df.loc[hmac_pid("a3"), "camera_id"] == "2200"
    assert df.loc[hmac_pid("a1"), "confidence"] == 0.5
    assert df.loc[hmac_pid("42"), "confidence"] == 1.0
    assert df.loc[hmac_pid("a3"), "ts"] == pd.Timestamp(1443746332_500000, unit="us", tz="UTC")
    assert "a5" not in q["raw"].iloc[2] and hmac_pid("a5") in q["raw"].iloc[2]


def test_parquet_input_with_typed_columns(tmp_path: Path) -> None:
    """Parquet: aware timestamps, int camera ids, dictionary strings; row numbers in quarantine."""
    table = pa.table(
        {
            "subject_id": pa.array(["p1", "p2", "", "p4"]).dictionary_encode(),
            "camera_id": pa.array([1, 2, 3, 4], pa.int64()),
            "ts": pa.array(
                [
                    pd.Timestamp("2020-01-01 10:00", tz="Europe/Paris"),
                    None,
                    pd.Timestamp("2020-01-01", tz="UTC"),
                    pd.Timestamp("2020-01-02", tz="UTC"),
                ],
                pa.timestamp("ms", tz="Europe/Paris"),
            ),
            "confidence": pa.array([0.5, None, 0.1, 2.0]),
        }
    )
    src = tmp_path / "s.parquet"
    pq.write_table(table, src, row_group_size=2)
    r = ingest(src, tmp_path / "lake", key=KEY, progress=False, chunk_rows=3)
    assert (r.rows_read, r.ingested, r.quarantined) == (4, 1, 3)
    q = read_quarantine(tmp_path / "lake")
    assert list(zip(q["line"], q["reason"], strict=True)) == [
        (2, "empty ts"),
        (3, "empty subject_id"),
        (4, "confidence outside 0..1"),
    ]
    assert json.loads(q["raw"].iloc[2])["subject_id"] == hmac_pid("p4")
    df = read_sightings(tmp_path / "lake")
    assert df["ts"].tolist() == [pd.Timestamp("2020-01-01 09:00", tz="UTC")]
    assert df["camera_id"].tolist() == ["1"]


def test_parquet_naive_timestamps_need_tz(tmp_path: Path) -> None:
    """A naive Parquet timestamp column is quarantined without tz and localised with it."""
    table = pa.table(
        {
            "subject_id": ["a"],
            "camera_id": ["c"],
            "ts": pa.array([pd.Timestamp("2015-10-01 17:38:52")], pa.timestamp("us")),
        }
    )
    pq.write_table(table, tmp_path / "n.parquet")
    r = ingest(tmp_path / "n.parquet", tmp_path / "l1", key=KEY, progress=False)
    assert r.reasons == {"naive timestamp, pass --tz": 1}
    ingest(tmp_path / "n.parquet", tmp_path / "l2", key=KEY, tz="America/Vancouver", progress=False)
    assert read_sightings(tmp_path / "l2")["ts"].tolist() == [
        pd.Timestamp("2015-10-02 00:38:52", tz="UTC")
    ]


def test_same_rows_in_csv_jsonl_parquet_give_the_same_lake(tmp_path: Path) -> None:
    """Format does not matter: identical sighting ids, pids, cameras, times, confidences."""
    frame = pd.DataFrame(
        {
            "subject_id": ["x1", "x2", "x3"],
            "camera_id": ["c1", "c2", "c1"],
            "ts": ["2021-03-01T10:00:00Z", "2021-03-01T10:00:01.5+01:00", "2021-03-02T00:00:00Z"],
            "confidence": [0.1, 0.2, 1.0],
        }
    )
    frame.to_csv(tmp_path / "s.csv", index=False)
    frame.to_json(tmp_path / "s.jsonl", orient="records", lines=True)
    frame.to_parquet(tmp_path / "s.parquet", index=False)
    lakes = []
    for ext in ("csv", "jsonl", "parquet"):
        ingest(tmp_path / f"s.{ext}", tmp_path / ext, key=KEY, progress=False)
        lakes.append(lake_rows(tmp_path / ext))
    pd.testing.assert_frame_equal(lakes[0], lakes[1])
    pd.testing.assert_frame_equal(lakes[0], lakes[2])


def test_pseudonyms_are_keyed(tmp_path: Path) -> None:
    """Same key -> same pids; another key -> all pids differ; pids match pseudonymize_ids."""
    src = write_lines(tmp_path / "s.csv", [HEADER, "alice,c1,1443746332,", "bob,c1,1443746333,"])
    ingest(src, tmp_path / "k1", key="key-one", progress=False)
    ingest(src, tmp_path / "k2", key="key-two", progress=False)
    p1 = set(read_sightings(tmp_path / "k1")["pid"])
    p2 = set(read_sightings(tmp_path / "k2")["pid"])
    assert len(p1) == len(p2) == 2 and p1.isdisjoint(p2)
    assert p1 == set(pseudonymize_ids(pd.Series(["alice", "bob"]), "key-one"))
    assert p1 == {hmac_pid("alice", "key-one"), hmac_pid("bob", "key-one")}


def test_key_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without key=..., SIGHTGRAPH_PSEUDONYM_KEY is used."""
    monkeypatch.setenv("SIGHTGRAPH_PSEUDONYM_KEY", "env-key")
    src = write_lines(tmp_path / "s.csv", [HEADER, "alice,c1,1443746332,"])
    ingest(src, tmp_path / "lake", progress=False)
    assert read_sightings(tmp_path / "lake")["pid"].tolist() == [hmac_pid("alice", "env-key")]


def test_no_pseudonymize_keeps_ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pseudonymize=False needs no key and stores the (already pseudonymous) ids unchanged."""
    monkeypatch.delenv("SIGHTGRAPH_PSEUDONYM_KEY", raising=False)
    src = write_lines(tmp_path / "s.csv", [HEADER, " p-123 ,c1,1443746332,"])
    ingest(src, tmp_path / "lake", pseudonymize=False, progress=False)
    assert read_sightings(tmp_path / "lake")["pid"].tolist() == ["p-123"]


def test_raw_ids_never_reach_the_lake(tmp_path: Path) -> None:
    """No raw subject id in any lake file: not in the bytes, not in any decoded Parquet string."""
    src, cams = write_messy(tmp_path)
    lake = tmp_path / "lake"
    ingest(src, lake, cameras=cams, key=KEY, progress=False, chunk_rows=4)
    ingest(src, lake, cameras=cams, key=KEY, progress=False)  # re-ingest writes a second quarantine
    files = [p for p in lake.rglob("*") if p.is_file()]
    assert any(p.name == INGEST_LOG for p in files) and any("quarantine" in p.parts for p in files)
    for path in files:
        data = path.read_bytes()
        for raw in RAW_IDS:
            assert raw.encode() not in data, (raw, path)
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            for name in table.column_names:
                if pa.types.is_string(table.schema.field(name).type):
                    for value in table.column(name).to_pylist():
                        assert not any(raw in (value or "") for raw in RAW_IDS), (path, name, value)


def test_lake_with_another_key_is_refused(tmp_path: Path) -> None:
    """Mixing keys in one lake would make pids unjoinable: the second key is refused up front."""
    src = write_lines(tmp_path / "s.csv", [HEADER, "alice,c1,1443746332,"])
    ingest(src, tmp_path / "lake", key="key-one", progress=False)
    with pytest.raises(UsageError, match="different pseudonym key"):
        ingest(src, tmp_path / "lake", key="key-two", progress=False)
    assert len(read_sightings(tmp_path / "lake")) == 1


def test_cameras_are_upserted(tmp_path: Path) -> None:
    """A second cameras file replaces c2 and adds c3; c1 stays. Returns the file's camera count."""
    lake = tmp_path / "lake"
    first = write_lines(
        tmp_path / "c1.csv", ["camera_id,lat,lon,name,site", "c1,1,2,one,s", "c2,3,4,two,s"]
    )
    second = write_lines(tmp_path / "c2.csv", ["camera_id,lat,lon", "c2,5,6", "c3,-7,-8"])
    assert ingest_cameras(first, lake) == 2
    assert ingest_cameras(second, lake) == 2
    cams = read_cameras(lake).set_index("camera_id")
    assert list(cams.index) == ["c1", "c2", "c3"]
    assert cams.loc["c2", ["lat", "lon"]].tolist() == [5.0, 6.0]
    assert cams.loc["c1", "name"] == "one" and pd.isna(cams.loc["c3", "name"])
    assert pq.read_schema(lake / "cameras" / "cameras.parquet").remove_metadata().names == [
        "camera_id",
        "lat",
        "lon",
        "name",
        "site",
    ]


def test_ingest_log_has_counts_and_no_ids(tmp_path: Path) -> None:
    """Each run appends one JSON line with its counts; raw ids never appear in it."""
    src, cams = write_messy(tmp_path)
    lake = tmp_path / "lake"
    r1 = ingest(src, lake, cameras=cams, key=KEY, progress=False)
    r2 = ingest(src, lake, cameras=cams, key=KEY, progress=False)
    log = [rec for rec in read_ingest_log(lake) if rec["kind"] == "sightings"]
    assert [rec["run_id"] for rec in log] == [r1.run_id, r2.run_id]
    assert (
        log[0]["rows_read"] == 17 and log[0]["ingested"] == 3 and log[1]["duplicates_in_lake"] == 3
    )
    assert log[0]["reasons"] == r1.reasons and log[0]["pseudonymized"] is True
    text = (lake / INGEST_LOG).read_text()
    assert not any(raw in text for raw in RAW_IDS) and KEY not in text


def test_progress_bar_goes_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """progress=True draws a rich bar on stderr and prints nothing on stdout."""
    src, _ = write_messy(tmp_path)
    ingest(src, tmp_path / "lake", key=KEY, progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "ingest messy.csv" in err


def test_gzip_bom_and_crlf_input(tmp_path: Path) -> None:
    """A gzip-compressed CSV with a UTF-8 BOM and CRLF line ends reads like a plain one."""
    body = (
        "\ufeff" + HEADER + "\r\n" + "a,c1,1443746332,0.5\r\n" + "b,c1,1443746333,\r\n"
    ).encode()
    with gzip.open(tmp_path / "s.csv.gz", "wb") as fh:
        fh.write(body)
    r = ingest(tmp_path / "s.csv.gz", tmp_path / "lake", key=KEY, progress=False)
    assert (r.rows_read, r.ingested, r.quarantined) == (2, 2, 0)
    assert sorted(read_sightings(tmp_path / "lake")["confidence"]) == [0.5, 1.0]


def test_extra_columns_are_ignored_and_order_free(tmp_path: Path) -> None:
    """Columns may come in any order, with extra ones; quoted fields may hold the delimiter."""
    src = write_lines(
        tmp_path / "s.csv", ["note,ts,camera_id,subject_id", '"a, b",1443746332,c1,s1']
    )
    r = ingest(src, tmp_path / "lake", key=KEY, progress=False)
    assert r.ingested == 1
    assert read_sightings(tmp_path / "lake")["camera_id"].tolist() == ["c1"]


def test_many_rows_are_vectorised(tmp_path: Path) -> None:
    """20 000 rows with 1% bad timestamps: exact counts, in a few seconds at most."""
    n = 20_000
    rng = np.random.default_rng(3)
    ts = (1_600_000_000 + rng.integers(0, 86_400 * 5, n)).astype(str).astype(object)
    bad = rng.choice(n, n // 100, replace=False)
    ts[bad] = "not-a-time"
    frame = pd.DataFrame(
        {
            "subject_id": [f"s{i % 500}" for i in range(n)],
            "camera_id": [f"c{i % 7}" for i in range(n)],
            "ts": ts,
        }
    )
    frame.to_csv(tmp_path / "big.csv", index=False)
    r = ingest(tmp_path / "big.csv", tmp_path / "lake", key=KEY, progress=False, chunk_rows=6000)
    expected_dups = int(frame.drop(index=bad).duplicated(["subject_id", "camera_id", "ts"]).sum())
    assert r.quarantined == n // 100 and r.reasons == {"unparsable ts": n // 100}
    assert r.duplicates_in_file == expected_dups
    assert r.ingested == n - n // 100 - expected_dups
    assert r.seconds < 30
