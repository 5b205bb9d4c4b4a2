"""Every kind of bad input ends as a clear UsageError or as quarantined rows, never a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sightgraph.errors import UsageError
from sightgraph.ingest.pipeline import ingest, ingest_cameras, parse_mapping, read_cameras_file
from sightgraph.lake import read_cameras, read_sightings
from tests.ingest.test_ingest import (
    HEADER,
    KEY,
    hmac_pid,
    read_quarantine,
    write_jsonl,
    write_lines,
)


def run(src: Path, lake: Path, **kw: object):
    """ingest with the test key and no progress bar."""
    kw.setdefault("key", KEY)
    return ingest(src, lake, progress=False, **kw)  # type: ignore[arg-type]


def reasons_by_line(lake: Path) -> list[tuple[int, str]]:
    q = read_quarantine(lake)
    return [(int(a), b) for a, b in zip(q["line"], q["reason"], strict=True)]


# ---------------------------------------------------------------------------- unusable files
def test_missing_required_column_names_it_and_lists_found(tmp_path: Path) -> None:
    src = write_lines(tmp_path / "s.csv", ["animal,camera_id,time", "a,c1,0"])
    with pytest.raises(UsageError) as err:
        run(src, tmp_path / "lake")
    msg = str(err.value)
    assert "missing required column(s) subject_id, ts" in msg
    assert "found: animal, camera_id, time" in msg
    assert not (tmp_path / "lake").exists()


def test_missing_mapped_column_names_source_and_target(tmp_path: Path) -> None:
    src = write_lines(tmp_path / "s.csv", ["animal_id,logger_id,time", "a,c1,0"])
    with pytest.raises(
        UsageError, match=r"animal \(mapped to subject_id\).*found: animal_id, logger_id, time"
    ):
        run(
            src,
            tmp_path / "lake",
            mapping={"subject_id": "animal", "camera_id": "logger_id", "ts": "time"},
        )


def test_mapping_onto_unknown_target_is_refused(tmp_path: Path) -> None:
    src = write_lines(tmp_path / "s.csv", [HEADER, "a,c1,0,"])
    with pytest.raises(UsageError, match="unknown target 'subject'"):
        run(src, tmp_path / "lake", mapping={"subject": "animal_id"})


def test_missing_optional_column_is_fine_but_mapped_optional_is_not(tmp_path: Path) -> None:
    src = write_lines(tmp_path / "s.csv", ["subject_id,camera_id,ts", "a,c1,0"])
    assert run(src, tmp_path / "lake").ingested == 1
    with pytest.raises(UsageError, match=r"score \(mapped to confidence\)"):
        run(src, tmp_path / "lake2", mapping={"confidence": "score"})


@pytest.mark.parametrize("content", [b"", b"   \n\n \r\n"])
def test_empty_csv_file(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "s.csv").write_bytes(content)
    with pytest.raises(UsageError, match="empty file"):
        run(tmp_path / "s.csv", tmp_path / "lake")


def test_header_only_file_has_no_data_rows(tmp_path: Path) -> None:
    src = write_lines(tmp_path / "s.csv", [HEADER, "", ""])
    with pytest.raises(UsageError, match="no data rows"):
        run(src, tmp_path / "lake")
    assert not (tmp_path / "lake" / "sightings").exists()


def test_empty_jsonl_and_parquet(tmp_path: Path) -> None:
    (tmp_path / "s.jsonl").write_text("\n\n")
    with pytest.raises(UsageError, match="empty file"):
        run(tmp_path / "s.jsonl", tmp_path / "lake")
    pq.write_table(
        pa.table(
            {
                "subject_id": pa.array([], pa.string()),
                "camera_id": pa.array([], pa.string()),
                "ts": pa.array([], pa.float64()),
            }
        ),
        tmp_path / "s.parquet",
    )
    with pytest.raises(UsageError, match="empty file"):
        run(tmp_path / "s.parquet", tmp_path / "lake")


@pytest.mark.parametrize("delim", [";", "\t", "|"])
def test_other_delimiters_are_detected(tmp_path: Path, delim: str) -> None:
    """A ; / TAB / | file is read like a comma file (the report names the delimiter)."""
    rows = [HEADER, "a,c1,2015-10-01T17:38:52Z,0.5", "b,c2,1443746332,"]
    src = write_lines(tmp_path / "s.csv", [r.replace(",", delim) for r in rows])
    r = run(src, tmp_path / "lake")
    assert (r.rows_read, r.ingested, r.delimiter) == (2, 2, delim)
    assert any("delimiter detected" in line for line in r.summary())


def test_unknown_delimiter_gets_a_hint(tmp_path: Path) -> None:
    src = write_lines(tmp_path / "s.csv", ["subject_id camera_id ts", "a c1 0"])
    with pytest.raises(
        UsageError,
        match="read as one column 'subject_id camera_id ts'.*comma, semicolon, tab, pipe",
    ):
        run(src, tmp_path / "lake")


def test_utf16_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_bytes((HEADER + "\na,c1,0,\n").encode("utf-16"))
    with pytest.raises(UsageError, match="UTF-16"):
        run(tmp_path / "s.csv", tmp_path / "lake")


def test_old_mac_line_endings_are_refused(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_bytes((HEADER + "\ra,c1,0,\rb,c1,1,\r").encode())
    with pytest.raises(UsageError, match="carriage return"):
        run(tmp_path / "s.csv", tmp_path / "lake")


def test_json_array_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text('[{"subject_id": "a", "camera_id": "c", "ts": 0}]')
    with pytest.raises(UsageError, match="JSON Lines"):
        run(tmp_path / "s.json", tmp_path / "lake")


def test_not_a_parquet_file(tmp_path: Path) -> None:
    (tmp_path / "s.parquet").write_text(HEADER + "\na,c1,0,\n")
    with pytest.raises(UsageError, match="not a Parquet file"):
        run(tmp_path / "s.parquet", tmp_path / "lake")


@pytest.mark.parametrize(
    ("name", "kind", "pattern"),
    [
        ("nope.csv", None, "not found"),
        ("dir.csv", "dir", "is a directory"),
        ("s.xlsx", "file", "cannot tell the format"),
    ],
)
def test_unusable_paths(tmp_path: Path, name: str, kind: str | None, pattern: str) -> None:
    path = tmp_path / name
    if kind == "dir":
        path.mkdir()
    elif kind == "file":
        path.write_text("x")
    with pytest.raises(UsageError, match=pattern):
        run(path, tmp_path / "lake")


def test_bad_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = write_lines(tmp_path / "s.csv", [HEADER, "a,c1,0,"])
    (tmp_path / "afile").write_text("x")
    with pytest.raises(UsageError, match="not a directory"):
        run(src, tmp_path / "afile")
    with pytest.raises(UsageError, match="unknown time zone 'Mars/Olympus'"):
        run(src, tmp_path / "lake", tz="Mars/Olympus")
    with pytest.raises(UsageError, match="chunk_rows"):
        run(src, tmp_path / "lake", chunk_rows=0)
    monkeypatch.delenv("SIGHTGRAPH_PSEUDONYM_KEY", raising=False)
    with pytest.raises(UsageError, match="SIGHTGRAPH_PSEUDONYM_KEY"):
        ingest(src, tmp_path / "lake", progress=False)
    assert not (tmp_path / "lake").exists()


# ---------------------------------------------------------------------------- quarantined rows
def test_non_utf8_bytes_are_quarantined_per_line(tmp_path: Path) -> None:
    """Line 3 has a latin-1 byte: only it is quarantined, by byte length and keyed hash (its
    text, which holds the raw id, is not kept)."""
    src = write_lines(tmp_path / "s.csv", [HEADER, "a,c1,0,", b"b,caf\xe9,1,", "c,c1,2,"])
    r = run(src, tmp_path / "lake")
    assert (r.ingested, r.quarantined) == (2, 1)
    q = read_quarantine(tmp_path / "lake")
    assert reasons_by_line(tmp_path / "lake") == [(3, "not valid UTF-8")]
    assert pd.isna(q["raw"].iloc[0]) and q["raw_bytes"].iloc[0] == len(b"b,caf\xe9,1,")


def test_timestamps_unparsable_and_out_of_range(tmp_path: Path) -> None:
    """Garbage, impossible dates, years 1700/3000 and epoch milliseconds are quarantined."""
    src = write_lines(
        tmp_path / "s.csv",
        [
            HEADER,
            "a,c1,tomorrow,",
            "a,c1,2015-13-40T00:00:00Z,",
            "a,c1,1700-01-01T00:00:00Z,",
            "a,c1,3000-06-01T00:00:00+00:00,",
            "a,c1,1443746332000,",
            "a,c1,,",
            "a,c1,nan,",
            "a,c1,1899-12-31T23:59:59Z,",
            "a,c1,1900-01-01T00:00:00Z,",
        ],
    )
    r = run(src, tmp_path / "lake")
    assert reasons_by_line(tmp_path / "lake") == [
        (2, "unparsable ts"),
        (3, "unparsable ts"),
        (4, "ts out of range"),
        (5, "ts out of range"),
        (6, "ts out of range"),
        (7, "empty ts"),
        (8, "unparsable ts"),
        (9, "ts out of range"),
    ]
    assert r.ingested == 1


def test_naive_times_without_tz_are_quarantined(tmp_path: Path) -> None:
    src = write_lines(tmp_path / "s.csv", [HEADER, "a,c1,2015-10-01 17:38:52,", "a,c1,2015-10-01,"])
    r = run(src, tmp_path / "lake2")
    assert r.reasons == {"naive timestamp, pass --tz": 2}
    r = run(src, tmp_path / "lake", tz="UTC")
    assert r.ingested == 2


def test_dst_ambiguous_and_nonexistent_local_times(tmp_path: Path) -> None:
    """Vancouver 2015-11-01 01:30 happened twice, 2015-03-08 02:30 never: both quarantined."""
    src = write_lines(
        tmp_path / "s.csv",
        [
            HEADER,
            "a,c1,2015-11-01 01:30:00,",
            "a,c1,2015-03-08 02:30:00,",
            "a,c1,2015-11-01 03:30:00,",
        ],
    )
    r = run(src, tmp_path / "lake", tz="America/Vancouver")
    assert reasons_by_line(tmp_path / "lake") == [
        (2, "ambiguous local time (DST change)"),
        (3, "nonexistent local time (DST change)"),
    ]
    assert read_sightings(tmp_path / "lake")["ts"].tolist() == [
        pd.Timestamp("2015-11-01 11:30", tz="UTC")
    ]
    assert r.ingested == 1


def test_empty_or_whitespace_subject_or_camera(tmp_path: Path) -> None:
    src = write_lines(
        tmp_path / "s.csv", [HEADER, ",c1,0,", "  ,c1,0,", "a,,0,", 'a,"  ",0,', " a , c1 ,0,"]
    )
    r = run(src, tmp_path / "lake")
    assert reasons_by_line(tmp_path / "lake") == [
        (2, "empty subject_id"),
        (3, "empty subject_id"),
        (4, "empty camera_id"),
        (5, "empty camera_id"),
    ]
    # surrounding spaces are trimmed, not an error
    assert r.ingested == 1
    got = read_sightings(tmp_path / "lake")
    assert got["pid"].tolist() == [hmac_pid("a")] and got["camera_id"].tolist() == ["c1"]


def test_confidence_not_a_number_or_outside_0_1(tmp_path: Path) -> None:
    src = write_lines(
        tmp_path / "s.csv",
        [
            HEADER,
            "a,c1,0,high",
            "a,c1,1,-0.1",
            "a,c1,2,1.0001",
            "a,c1,3,nan",
            "a,c1,4,0",
            "a,c1,5,1",
            "a,c1,6, 0.5 ",
            "a,c1,7,",
        ],
    )
    r = run(src, tmp_path / "lake")
    assert reasons_by_line(tmp_path / "lake") == [
        (2, "confidence not a number"),
        (3, "confidence outside 0..1"),
        (4, "confidence outside 0..1"),
        (5, "confidence not a number"),
    ]
    assert sorted(read_sightings(tmp_path / "lake")["confidence"]) == [0.0, 0.5, 1.0, 1.0]
    assert r.ingested == 4


def test_camera_not_in_cameras_file(tmp_path: Path) -> None:
    cams = write_lines(tmp_path / "cams.csv", ["camera_id,lat,lon", "c1,0,0", "2100,1,1"])
    src = write_lines(tmp_path / "s.csv", [HEADER, "a,c1,0,", "a,c2,0,", "a,2100,0,"])
    r = run(src, tmp_path / "lake", cameras=cams)
    assert reasons_by_line(tmp_path / "lake") == [(3, "camera not in cameras file")]
    assert r.ingested == 2 and r.cameras == 2
    # without a cameras file, any camera is accepted
    assert run(src, tmp_path / "lake2").ingested == 3


def test_exact_duplicate_rows(tmp_path: Path) -> None:
    """Lines 3 and 5 repeat line 2 (5 in another spelling of the same instant)."""
    src = write_lines(
        tmp_path / "s.csv",
        [
            HEADER,
            "a,c1,2015-10-01T17:38:52Z,",
            "a,c1,2015-10-01T17:38:52Z,",
            "a,c2,2015-10-01T17:38:52Z,",
            "a,c1,2015-10-01T19:38:52+02:00,",
        ],
    )
    r = run(src, tmp_path / "lake")
    assert (r.rows_read, r.ingested, r.duplicates_in_file, r.quarantined) == (4, 2, 2, 0)


def test_truncated_last_line_and_too_many_fields(tmp_path: Path) -> None:
    src = write_lines(tmp_path / "s.csv", [HEADER, "a,c1,0,,extra", "b,c1,1,", "c,c1"], final=False)
    r = run(src, tmp_path / "lake")
    assert reasons_by_line(tmp_path / "lake") == [(2, "too many fields"), (4, "truncated row")]
    assert (r.rows_read, r.ingested) == (3, 1)


def test_unbalanced_quotes_and_stray_carriage_return(tmp_path: Path) -> None:
    """A line with an odd number of quotes or a CR inside is one bad row, not a swallowed file."""
    src = write_lines(tmp_path / "s.csv", [HEADER, '"a,c1,0,', "b,c1,1,", b"c,c\r1,2,", "d,c1,3,"])
    r = run(src, tmp_path / "lake")
    assert reasons_by_line(tmp_path / "lake") == [
        (2, "unbalanced quotes"),
        (4, "carriage return inside a line"),
    ]
    assert r.ingested == 2


def test_blank_lines_are_not_rows_but_keep_line_numbers(tmp_path: Path) -> None:
    src = write_lines(tmp_path / "s.csv", ["", HEADER, "", "a,c1,0,", "   ", "b,c1,x,"])
    r = run(src, tmp_path / "lake")
    assert (r.rows_read, r.ingested) == (2, 1)
    assert reasons_by_line(tmp_path / "lake") == [(6, "unparsable ts")]


def test_jsonl_bad_lines(tmp_path: Path) -> None:
    src = write_jsonl(
        tmp_path / "s.jsonl",
        [
            {"subject_id": "a", "camera_id": "c", "ts": 0},
            "{oops",
            '"just a string"',
            {"subject_id": "b", "camera_id": "c"},
            {"subject_id": "c", "camera_id": None, "ts": 1},
        ],
    )
    r = run(src, tmp_path / "lake")
    assert reasons_by_line(tmp_path / "lake") == [
        (2, "invalid JSON"),
        (3, "JSON line is not an object"),
        (4, "empty ts"),
        (5, "empty camera_id"),
    ]
    assert r.ingested == 1


def test_broken_json_line_with_subject_is_redacted(tmp_path: Path) -> None:
    src = write_jsonl(
        tmp_path / "s.jsonl",
        [{"subject_id": "a", "camera_id": "c", "ts": 0}, '{"subject_id": "SECRET9", "camera_id": '],
    )
    run(src, tmp_path / "lake")
    q = read_quarantine(tmp_path / "lake")
    assert pd.isna(q["raw"].iloc[0]) and q["reason"].iloc[0] == "invalid JSON"
    assert not any("SECRET9" in str(v) for v in q.iloc[0].tolist())


# ---------------------------------------------------------------------------- cameras files
@pytest.mark.parametrize(
    ("lines", "pattern"),
    [
        (["camera_id,lat,lon", "c1,0,0", "c1,1,1"], r"duplicate camera_id 'c1' on lines 2, 3"),
        (["camera_id,lat,lon", "c1,95,0"], r"line 2: lat 95.0 outside -90..90"),
        (["camera_id,lat,lon", "c1,0,-181"], r"line 2: lon -181.0 outside -180..180"),
        (["camera_id,lat,lon", "c1,north,0"], r"line 2: lat is not a number \('north'\)"),
        (["camera_id,lat,lon", "c1,,0"], r"line 2: lat is not a number"),
        (["camera_id,lat,lon", " ,0,0"], r"line 2: empty camera_id"),
        (["camera_id,lat", "c1,0"], r"missing required column\(s\) lon; found: camera_id, lat"),
        (["camera_id,lat,lon", "c1,0"], r"line 2: truncated row"),
        (["camera_id,lat,lon"], r"no rows"),
    ],
)
def test_bad_cameras_files(tmp_path: Path, lines: list[str], pattern: str) -> None:
    cams = write_lines(tmp_path / "cams.csv", lines)
    src = write_lines(tmp_path / "s.csv", [HEADER, "a,c1,0,"])
    with pytest.raises(UsageError, match=pattern):
        ingest_cameras(cams, tmp_path / "lake")
    with pytest.raises(UsageError, match=pattern):
        run(src, tmp_path / "lake", cameras=cams)
    assert not (tmp_path / "lake").exists()


def test_cameras_in_parquet_and_jsonl(tmp_path: Path) -> None:
    pq.write_table(
        pa.table({"camera_id": [2100, 2200], "lat": [50.6, 50.7], "lon": [-120.3, -120.4]}),
        tmp_path / "c.parquet",
    )
    write_jsonl(tmp_path / "c.jsonl", [{"camera_id": "x", "lat": "1.5", "lon": 2, "site": "s"}])
    assert read_cameras_file(tmp_path / "c.parquet")["camera_id"].tolist() == ["2100", "2200"]
    ingest_cameras(tmp_path / "c.jsonl", tmp_path / "lake")
    got = read_cameras(tmp_path / "lake")
    assert got[["camera_id", "lat", "lon", "site"]].values.tolist() == [["x", 1.5, 2.0, "s"]]


# ---------------------------------------------------------------------------- fuzz: never a traceback
_FRAGMENTS = [
    "A1",
    "c1",
    "2015-10-01T17:38:52Z",
    "2015-10-01 17:38:52",
    "0.5",
    "1443746332",
    "1e99",
    ",",
    ",",
    ";",
    '"',
    " ",
    "",
    "\t",
    "x",
    "é",
    "\\",
    "{",
    "-",
    ":",
]
_BYTES = [b"\xff", b"\r", b"\x00", b"\xc3"]


@st.composite
def messy_csv(draw: st.DrawFn) -> bytes:
    lines = [HEADER.encode()]
    for _ in range(draw(st.integers(0, 10))):
        parts = draw(
            st.lists(
                st.one_of(st.sampled_from(_FRAGMENTS).map(str.encode), st.sampled_from(_BYTES)),
                max_size=9,
            )
        )
        lines.append(b"".join(parts))
    return b"\n".join(lines) + draw(st.sampled_from([b"", b"\n", b"\r\n"]))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=messy_csv(), chunk_rows=st.integers(1, 4), tz=st.sampled_from([None, "UTC"]))
def test_random_garbage_never_crashes_and_chunking_does_not_matter(
    tmp_path: Path, data: bytes, chunk_rows: int, tz: str | None
) -> None:
    """Random lines of fragments and bad bytes: only UsageError is ever raised; counts balance;
    reading in chunks of 1..4 rows gives exactly the result of one chunk."""
    work = tmp_path / "fuzz"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    (work / "f.csv").write_bytes(data)
    outcomes = []
    for rows in (chunk_rows, 1_000_000):
        lake = work / f"lake{rows}"
        try:
            r = run(work / "f.csv", lake, tz=tz, chunk_rows=rows)
        except UsageError as exc:
            outcomes.append(("usage", str(exc).split(":")[0]))
            continue
        assert r.balanced
        q = read_quarantine(lake)[["line", "reason", "raw"]]
        rows_ = (
            read_sightings(lake).sort_values("sighting_id", ignore_index=True)
            if r.ingested
            else None
        )
        outcomes.append(
            (
                r.rows_read,
                r.ingested,
                r.duplicates,
                r.reasons,
                q.to_dict("list"),
                None if rows_ is None else rows_.to_dict("list"),
            )
        )
    assert outcomes[0] == outcomes[1]


_JSON_VALUES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "A1",
            " a ",
            "",
            "c1",
            "2015-10-01T17:38:52Z",
            "2015-10-01 17:38:52",
            "0.5",
            "x",
            "1443746332",
        ]
    ),
    st.integers(-5, 2100),
    st.sampled_from([1443746332, 1443746332.5, 0.25, 2.0, 1e20, 2**70]),
    st.booleans(),
)


@st.composite
def messy_jsonl(draw: st.DrawFn) -> bytes:
    lines: list[bytes] = []
    for _ in range(draw(st.integers(1, 10))):
        if draw(st.integers(0, 9)) == 0:
            broken = [
                b"",
                b"{oops",
                b"[1]",
                b'"s"',
                b'{"subject_id": "A1"} {"x": 1}',
                b'{"subject_id": "\xff"}',
            ]
            lines.append(draw(st.sampled_from(broken)))
        else:
            keys = ("subject_id", "camera_id", "ts", "confidence")
            obj = {k: draw(_JSON_VALUES) for k in keys if draw(st.integers(0, 5))}
            lines.append(json.dumps(obj).encode())
    return b"\n".join(lines) + b"\n"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=messy_jsonl(), chunk_rows=st.integers(1, 3))
def test_random_jsonl_never_crashes_and_chunking_does_not_matter(
    tmp_path: Path, data: bytes, chunk_rows: int
) -> None:
    """JSON Lines with mixed value types and broken lines: same result in any chunk size
    (the fast whole-block parser and the line-by-line parser agree)."""
    work = tmp_path / "fuzz"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    (work / "f.jsonl").write_bytes(data)
    outcomes = []
    for rows in (chunk_rows, 1_000_000):
        lake = work / f"lake{rows}"
        try:
            r = run(work / "f.jsonl", lake, tz="UTC", chunk_rows=rows)
        except UsageError as exc:
            outcomes.append(("usage", str(exc).split(":")[0]))
            continue
        assert r.balanced
        q = read_quarantine(lake)[["line", "reason", "raw"]]
        got = (
            read_sightings(lake).sort_values("sighting_id", ignore_index=True)
            if r.ingested
            else None
        )
        outcomes.append(
            (
                r.rows_read,
                r.ingested,
                r.duplicates,
                r.reasons,
                q.to_dict("list"),
                None if got is None else got.to_dict("list"),
            )
        )
    assert outcomes[0] == outcomes[1]


def test_parse_mapping_cli_form() -> None:
    assert parse_mapping("subject_id=animal_id,camera_id=logger_id, ts = time") == {
        "subject_id": "animal_id",
        "camera_id": "logger_id",
        "ts": "time",
    }
    assert parse_mapping("") is None and parse_mapping(None) is None
    for bad, pattern in [
        ("subject_id", "target=column"),
        ("who=x", "unknown target 'who'"),
        ("ts=a,ts=b", "ts given twice"),
        ("ts=", "target=column"),
    ]:
        with pytest.raises(UsageError, match=pattern):
            parse_mapping(bad)
