"""Fuzzing ingest (issue 10): hypothesis-generated CSV, JSON Lines and Parquet input.

Properties, for every generated file:

- ingest never crashes: it returns a report or refuses with one line (``UsageError``, exit 2);
  any other exception is what the CLI would show as an internal error (exit 1);
- it never writes a partial lake: a refused run leaves every lake file as it was;
- counts add up: ``rows read = ingested + duplicates + quarantined``, rows read is the number of
  data rows in the file, and the lake's new sightings and quarantine rows are those counts;
- NaN (and +-inf) is treated the same in every format: the same rows written as CSV, JSON Lines
  and Parquet give the same sightings and the same quarantine reasons per row.

Kept small here (a few seconds, derandomised by the ``ci`` profile); ``benchmarks/fuzz_ingest.py
--minutes N`` runs the same properties for as long as asked. The generators and checks live in
this module so that the benchmark runs exactly these.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sightgraph.errors import UsageError
from sightgraph.ingest.pipeline import IngestReport, ingest
from sightgraph.lake import LOCK_NAME

KEY = "fuzz-key"
COLUMNS = ("subject_id", "camera_id", "ts", "confidence")
NAN, INF = float("nan"), float("inf")
FUZZ_SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# ---------------------------------------------------------------------------------------------
# generators
_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x00"),
    max_size=10,
)
_HUGE = st.integers(20_000, 200_000).map(lambda n: "h" * n)
_ID = st.one_of(
    st.sampled_from(["a", "b", "S00001", " a ", "ünï", "x,y", 'q"uote', "'; DROP", "", "  ", "7"]),
    _TEXT,
    st.integers(-(2**63), 2**63 - 1),
    _HUGE,
)
_SPECIAL = st.sampled_from([NAN, INF, -INF, -0.0, 0.0, 1e300, -1e300, 5e-324])
_NUMBER = st.one_of(
    _SPECIAL,
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(1.5e9, 1.8e9),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(1_500_000_000, 1_800_000_000),
)
_TS = st.one_of(
    _NUMBER,
    st.none(),
    st.booleans(),
    st.sampled_from(
        [
            "2024-01-01T00:00:00Z",
            "2024-01-01T08:30:00+02:00",
            "2024-01-01 00:00:00",
            "2024-13-01T00:00:00Z",
            "nan",
            "NaN",
            "inf",
            "-Infinity",
            "",
            " ",
            "1700000000",
            "1.7e9",
            "2099-12-31T23:59:59Z",
            "1899-12-31T23:59:59Z",
        ]
    ),
    _TEXT,
)
_CONF = st.one_of(
    st.none(),
    _SPECIAL,
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(0, 1),
    st.sampled_from([0, 1, 2, -1, True, False, 1.0000001]),
)


@st.composite
def sighting_rows(draw: Any) -> tuple[list[tuple[Any, ...]], list[str]]:
    """Rows (subject, camera, ts, confidence) and a column order (with an extra column)."""
    rows = draw(st.lists(st.tuples(_ID, _ID, _TS, _CONF), min_size=1, max_size=25))
    rows += draw(st.lists(st.sampled_from(rows), max_size=3))  # duplicates
    order = list(draw(st.permutations(list(COLUMNS))))
    if draw(st.booleans()):
        order.insert(draw(st.integers(0, 4)), "extra")
    return rows, order


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_csv(rows: list[tuple[Any, ...]], order: list[str], path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(order)
        for r in rows:
            rec = dict(zip(COLUMNS, r, strict=True), extra='junk,"x"')
            w.writerow([_csv_cell(rec[c]) for c in order])
    return path


def write_jsonl(rows: list[tuple[Any, ...]], order: list[str], path: Path) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for r in rows:
            rec = dict(zip(COLUMNS, r, strict=True), extra=[1, {"a": None}])
            fh.write(json.dumps({c: rec[c] for c in order}) + "\n")  # NaN, Infinity tokens
    return path


def _arrow_column(values: list[Any]) -> pa.Array:
    """The column Parquet would hold: one type per column, text when the values are mixed."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pa.array(values, pa.bool_())
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pa.array(values, pa.int64())
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    return pa.array([None if v is None else _csv_cell(v) for v in values], pa.string())


def write_parquet(rows: list[tuple[Any, ...]], order: list[str], path: Path) -> Path:
    cols = {c: [r[i] for r in rows] for i, c in enumerate(COLUMNS)}
    cols["extra"] = [None] * len(rows)
    pq.write_table(
        pa.table(
            {c: _arrow_column(cols[c]) if c != "extra" else pa.nulls(len(rows)) for c in order}
        ),
        path,
    )
    return path


WRITERS = {"csv": write_csv, "jsonl": write_jsonl, "parquet": write_parquet}


def _cross_format_rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Ids that are text in CSV but numbers elsewhere would differ by design ("5.0" vs 5.0 -> "5";
    "nan" is a CSV id, NaN is no id): ids in the cross-format check are text or integers."""
    return [
        r for r in rows if all(isinstance(v, str | int) and not isinstance(v, bool) for v in r[:2])
    ]


# ---------------------------------------------------------------------------------------------
# checks
def lake_snapshot(lake: Path) -> dict[str, bytes]:
    if not lake.exists():
        return {}
    return {
        str(p.relative_to(lake)): p.read_bytes()
        for p in sorted(lake.rglob("*"))
        if p.is_file() and p.name != LOCK_NAME
    }


def _rows_in(lake: Path, sub: str) -> int:
    files = [p for p in (lake / sub).rglob("*.parquet") if not p.name.startswith(".")]
    return sum(pq.ParquetFile(p).metadata.num_rows for p in files)


def checked_ingest(
    source: Path, lake: Path, chunk_rows: int, expected_rows: int | None = None
) -> IngestReport | None:
    """Ingest ``source``; assert the properties; the report, or None when refused (one line)."""
    before = lake_snapshot(lake)
    sightings, quarantined = _rows_in(lake, "sightings"), _rows_in(lake, "quarantine")
    try:
        report = ingest(source, lake, key=KEY, chunk_rows=chunk_rows, progress=False)
    except UsageError as exc:
        assert "\n" not in str(exc).strip(), f"a refusal is one line: {exc}"
        assert lake_snapshot(lake) == before, f"a refused ingest changed the lake: {exc}"
        assert not list(lake.rglob("*.tmp")) if lake.exists() else True
        return None
    assert report.balanced, report.summary()
    if expected_rows is not None:
        assert report.rows_read == expected_rows, (report.rows_read, expected_rows)
    assert _rows_in(lake, "sightings") - sightings == report.ingested
    assert _rows_in(lake, "quarantine") - quarantined == report.quarantined
    assert not list(lake.rglob("*.tmp")), "a finished ingest left temporary files"
    return report


@contextmanager
def scratch() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="sightgraph-fuzz-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _outcome(lake: Path, report: IngestReport, header_lines: int) -> tuple[Any, ...]:
    """What a run did, comparable across formats: the sightings written (as a multiset) and
    the quarantine reasons per input row (0-based)."""
    s = pd.read_parquet(lake / "sightings") if report.ingested else None
    got = (
        Counter()
        if s is None
        else Counter(
            zip(s["pid"], s["camera_id"], s["ts"].astype("int64"), s["confidence"], strict=True)
        )
    )
    reasons: dict[int, str] = {}
    if report.quarantine_path is not None:
        q = pq.read_table(report.quarantine_path, columns=["line", "reason"]).to_pylist()
        reasons = {r["line"] - 1 - header_lines: r["reason"] for r in q}
    return got, reasons, report.duplicates, report.rows_read


def check_formats_agree(rows: list[tuple[Any, ...]], order: list[str], chunk_rows: int) -> None:
    """The same rows as CSV, JSON Lines and Parquet: same counts, sightings and reasons."""
    outcomes = {}
    with scratch() as tmp:
        for fmt, write in WRITERS.items():
            lake = tmp / f"lake-{fmt}"
            source = write(rows, order, tmp / f"s.{fmt}")
            report = checked_ingest(source, lake, chunk_rows, expected_rows=len(rows))
            assert report is not None, f"{fmt}: refused a well-formed file"
            outcomes[fmt] = _outcome(lake, report, header_lines=1 if fmt == "csv" else 0)
    assert outcomes["csv"] == outcomes["jsonl"], "CSV and JSON Lines disagree"
    assert outcomes["csv"] == outcomes["parquet"], "CSV and Parquet disagree"


# -- garbage text ------------------------------------------------------------------------------
_LINE = st.one_of(
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b" ")),
    st.lists(
        st.one_of(_TEXT, st.sampled_from(['"', '""', '"a,b"', "'", "\\", ",", ";", "\t", "|"])),
        max_size=6,
    ).map(lambda cells: ",".join(cells).encode("utf-8")),
    st.builds(
        lambda r: ",".join(_csv_cell(v) for v in r).encode("utf-8"),
        st.tuples(_ID, _ID, _TS, _CONF),
    ),
    st.just(b""),
    st.just(b"   "),
    st.just(b"\r"),
)


@st.composite
def garbage_csv(draw: Any) -> tuple[bytes, int, str]:
    """(file bytes, data rows, suffix): a header of the four columns (any order, any of the
    delimiters), then lines of random bytes, random quoting and real rows; maybe CRLF, a BOM,
    latin-1, UTF-16 or gzip."""
    delim = draw(st.sampled_from([",", ";", "\t", "|"]))
    header = delim.join(draw(st.permutations(list(COLUMNS)))).encode()
    lines = draw(st.lists(_LINE, max_size=30))
    eol = draw(st.sampled_from([b"\n", b"\r\n"]))
    body = header + eol + eol.join(lines) + (eol if draw(st.booleans()) else b"")
    # data rows: non-blank lines after the header (a lone \r line is blank once its \n goes)
    rows = sum(1 for line in lines if line.strip())
    wrap = draw(st.sampled_from(["plain", "plain", "bom", "latin1", "utf16", "gzip"]))
    suffix = ".csv"
    if wrap == "bom":
        body = b"\xef\xbb\xbf" + body
    elif wrap == "latin1":
        body = body.decode("utf-8", "replace").encode("latin-1", "replace")
    elif wrap == "utf16":
        body = body.decode("utf-8", "replace").encode("utf-16")
    elif wrap == "gzip":
        body = gzip.compress(body)
        suffix = draw(st.sampled_from([".csv", ".csv.gz"]))
    return body, rows, suffix


_JSON_VALUE = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(),
        _TEXT,
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_TEXT, inner, max_size=3)),
    max_leaves=5,
)


@st.composite
def garbage_jsonl(draw: Any) -> tuple[bytes, int]:
    """(file bytes, data rows): objects with any subset of the columns, in any order, holding
    any JSON values (NaN and infinities included), and lines that are not JSON at all."""
    lines = []
    for _ in range(draw(st.integers(1, 25))):
        kind = draw(st.sampled_from(["row", "row", "any", "bytes", "blank"]))
        if kind == "row":
            keys = draw(st.permutations(list(COLUMNS)))
            rec = {k: draw(st.one_of(_JSON_VALUE, _ID, _TS, _CONF)) for k in keys}
            if draw(st.booleans()):
                rec.pop(draw(st.sampled_from(list(COLUMNS))), None)
            lines.append(json.dumps(rec).encode())
        elif kind == "any":
            lines.append(json.dumps(draw(_JSON_VALUE)).encode())
        elif kind == "bytes":
            lines.append(draw(st.binary(max_size=40)).replace(b"\n", b" "))
        else:
            lines.append(b"")
    rows = sum(1 for line in lines if line.strip())
    return b"\n".join(lines) + b"\n", rows


@st.composite
def garbage_parquet(draw: Any) -> tuple[bytes, int | None]:
    """(file bytes, rows or None when damaged): columns of any type (text, integers, floats with
    NaN and infinities, booleans, timestamps naive or aware, binary, lists), in any order, some
    missing; sometimes the file's bytes cut short or flipped."""
    n = draw(st.integers(1, 20))
    types = {
        "str": st.lists(st.one_of(st.none(), _TEXT), min_size=n, max_size=n).map(
            lambda v: pa.array(v, pa.string())
        ),
        "int": st.lists(
            st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)), min_size=n, max_size=n
        ).map(lambda v: pa.array(v, pa.int64())),
        "float": st.lists(
            st.one_of(
                st.none(),
                _SPECIAL,
                st.floats(allow_nan=True, allow_infinity=True),
                st.floats(1.5e9, 1.8e9),
            ),
            min_size=n,
            max_size=n,
        ).map(lambda v: pa.array(v, pa.float64())),
        "bool": st.lists(st.one_of(st.none(), st.booleans()), min_size=n, max_size=n).map(
            lambda v: pa.array(v, pa.bool_())
        ),
        "ts": st.lists(
            st.one_of(st.none(), st.integers(-(2**62), 2**62)), min_size=n, max_size=n
        ).map(lambda v: pa.array(v, pa.timestamp("us"))),
        "tsz": st.lists(
            st.one_of(st.none(), st.integers(-(2**50), 2**50)), min_size=n, max_size=n
        ).map(lambda v: pa.array(v, pa.timestamp("ms", "UTC"))),
        "bin": st.lists(st.one_of(st.none(), st.binary(max_size=8)), min_size=n, max_size=n).map(
            lambda v: pa.array(v, pa.binary())
        ),
        "list": st.lists(
            st.one_of(st.none(), st.lists(st.integers(0, 9), max_size=2)), min_size=n, max_size=n
        ).map(lambda v: pa.array(v, pa.list_(pa.int64()))),
    }
    cols = {}
    for c in draw(st.permutations(list(COLUMNS))):
        if c in ("subject_id", "camera_id", "ts") and draw(st.integers(0, 9)) == 0:
            continue  # a missing column: refused
        kind = draw(st.sampled_from(sorted(types)))
        cols[c] = draw(types[kind])
    buf = io.BytesIO()
    pq.write_table(pa.table(cols) if cols else pa.table({"x": pa.nulls(n)}), buf)
    data = buf.getvalue()
    damage = draw(st.sampled_from(["none", "none", "none", "cut", "flip"]))
    if damage == "cut":
        return data[: draw(st.integers(0, len(data) - 1))], None
    if damage == "flip":
        at = draw(st.integers(0, len(data) - 1))
        return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :], None
    return data, n


_CHUNK = st.sampled_from([1, 3, 1_000_000])


def check_garbage(data: bytes, suffix: str, rows: int | None, chunk_rows: int, lake: Path) -> None:
    with scratch() as tmp:
        source = tmp / f"in{suffix}"
        source.write_bytes(data)
        checked_ingest(source, lake, chunk_rows, expected_rows=rows)


@contextmanager
def seeded_lake() -> Iterator[Path]:
    """A lake that already holds a run (so that 'unchanged' is checked on real files)."""
    with scratch() as tmp:
        lake = tmp / "lake"
        write_csv(
            [("seed-a", "C1", 1.7e9, 0.5), ("seed-b", "C1", "2024-01-01T00:00:00Z", None)],
            list(COLUMNS),
            tmp / "seed.csv",
        )
        ingest(tmp / "seed.csv", lake, key=KEY, progress=False)
        yield lake


# ---------------------------------------------------------------------------------------------
# the tests
@FUZZ_SETTINGS
@given(sighting_rows(), _CHUNK)
def test_nan_and_every_value_are_treated_the_same_in_every_format(
    data: tuple[list[tuple[Any, ...]], list[str]], chunk_rows: int
) -> None:
    rows, order = data
    rows = _cross_format_rows(rows)
    if rows:
        check_formats_agree(rows, order, chunk_rows)


@FUZZ_SETTINGS
@given(garbage_csv(), _CHUNK)
def test_garbage_csv_never_crashes_and_counts_add_up(
    data: tuple[bytes, int, str], chunk_rows: int
) -> None:
    body, rows, suffix = data
    with seeded_lake() as lake:
        check_garbage(body, suffix, rows, chunk_rows, lake)


@FUZZ_SETTINGS
@given(garbage_jsonl(), _CHUNK)
def test_garbage_jsonl_never_crashes_and_counts_add_up(
    data: tuple[bytes, int], chunk_rows: int
) -> None:
    body, rows = data
    with seeded_lake() as lake:
        check_garbage(body, ".jsonl", rows, chunk_rows, lake)


@FUZZ_SETTINGS
@given(garbage_parquet(), _CHUNK)
def test_garbage_parquet_never_crashes_and_counts_add_up(
    data: tuple[bytes, int | None], chunk_rows: int
) -> None:
    body, rows = data
    with seeded_lake() as lake:
        check_garbage(body, ".parquet", rows, chunk_rows, lake)


def test_a_file_that_fails_after_its_first_chunks_leaves_no_partial_lake(tmp_path: Path) -> None:
    """A Parquet file whose third row group is damaged, read in chunks of one row group: the
    rows of the first two chunks were written when the damage shows; the refused run removes
    them (and the key record it wrote into the new lake), so the lake is as before."""
    n = 30
    table = pa.table(
        {
            "subject_id": [f"s{i}" for i in range(n)],
            "camera_id": ["C1"] * n,
            "ts": [1.7e9 + 3600 * 24 * i for i in range(n)],  # many date partitions
        }
    )
    source = tmp_path / "in.parquet"
    pq.write_table(table, source, row_group_size=10, compression="none")
    meta = pq.ParquetFile(source).metadata
    col = meta.row_group(2).column(0)
    start = col.dictionary_page_offset or col.data_page_offset
    data = bytearray(source.read_bytes())
    data[start : start + col.total_compressed_size] = b"\xff" * col.total_compressed_size
    source.write_bytes(bytes(data))
    for lake in (tmp_path / "new-lake", tmp_path / "lake"):
        if lake.name == "lake":
            write_csv([("seed", "C1", 1.7e9, None)], list(COLUMNS), tmp_path / "seed.csv")
            ingest(tmp_path / "seed.csv", lake, key=KEY, progress=False)
        before = lake_snapshot(lake)
        with pytest.raises(UsageError, match="Parquet"):
            ingest(source, lake, key=KEY, chunk_rows=10, progress=False)
        assert lake_snapshot(lake) == before
        assert not lake.exists() or not list(lake.rglob("*.tmp"))


def test_nan_confidence_and_time_are_quarantined_alike_in_every_format() -> None:
    """Issue 10 finding 9: NaN confidence was quarantined from CSV and stored as 1.0 from Parquet
    and JSON Lines; NaN and infinite values now give one reason per field in every format."""
    rows = [
        ("a", "c", 1.7e9, NAN),
        ("b", "c", 1.7e9, INF),
        ("c", "c", NAN, 0.5),
        ("d", "c", -INF, 0.5),
        ("e", "c", 1.7e9, None),
    ]
    check_formats_agree(rows, list(COLUMNS), 1_000_000)
    with scratch() as tmp:
        report = ingest(
            write_parquet(rows, list(COLUMNS), tmp / "s.parquet"),
            tmp / "lake",
            key=KEY,
            progress=False,
        )
        assert report.reasons == {"confidence not a number": 2, "unparsable ts": 2}
        assert report.ingested == 1 and not math.isnan(
            pd.read_parquet(tmp / "lake" / "sightings")["confidence"].iloc[0]
        )


# -- regressions found by the fuzzer ---------------------------------------------------------
def test_a_json_lines_file_with_bare_values_does_not_crash_the_process(tmp_path: Path) -> None:
    """A ``null`` line read on its own (small chunks) used to reach pyarrow's JSON reader with an
    explicit schema, which crashed the whole process (SIGSEGV), not even an exit 1."""
    rows = [
        b"null",
        b'{"subject_id": "a", "camera_id": "c", "ts": 1700000000}',
        b"[1, 2]",
        b"7",
        b'"text"',
        b' {"subject_id": "b", "camera_id": "c", "ts": 1700000001} ',
    ]
    source = tmp_path / "s.jsonl"
    source.write_bytes(b"\n".join(rows) + b"\n")
    for chunk in (1, 2, 1_000_000):
        report = checked_ingest(source, tmp_path / f"lake-{chunk}", chunk, expected_rows=6)
        assert report is not None and report.ingested == 2 and report.quarantined == 4


def test_a_long_first_line_is_read_in_linear_time(tmp_path: Path) -> None:
    """Finding the header (or first object) searched the whole head with a regex once per 64 kB
    read: a 180 kB first line took 20 s, a few MB minutes. Now a 4 MB line takes well under a
    second (10 s allowed on a busy machine)."""
    import time

    source = tmp_path / "s.jsonl"
    first = json.dumps({"subject_id": "h" * 4_000_000, "camera_id": "c", "ts": 1.7e9})
    source.write_text(
        first + "\n" + json.dumps({"subject_id": "a", "camera_id": "c", "ts": 1.7e9}) + "\n"
    )
    t0 = time.perf_counter()
    report = checked_ingest(source, tmp_path / "lake", 1_000_000, expected_rows=2)
    assert report is not None and report.ingested == 2
    assert time.perf_counter() - t0 < 10
