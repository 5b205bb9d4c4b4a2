"""What the quarantine keeps of a rejected row: never a raw subject id (DESIGN §8).

A row that cannot be split into fields is kept as line number, reason, byte length and a keyed
hash of its bytes (no text); a row that parses but fails validation is kept with its subject
field replaced by the pid, and a ``pid`` column, so that ``forget PID`` finds it.
"""

from __future__ import annotations

import hmac
import json
import math
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sightgraph.governance.erasure import forget_subject
from sightgraph.ingest.pipeline import ingest
from sightgraph.lake import read_sightings
from tests.ingest.test_ingest import HEADER, KEY, hmac_pid, read_quarantine, write_lines

SECRETS = ("ALICE77", "SMITH", "JOHN", "BOB55", "CAROL3")


def _line_hash(raw: bytes, key: str = KEY) -> str:
    """Oracle for the quarantine's keyed hash of an unparsable line."""
    return hmac.new(key.encode(), b"sightgraph quarantine line v1\x00" + raw, "sha256").hexdigest()


def _all_text(q: pd.DataFrame) -> str:
    return "\n".join(str(v) for col in q.columns for v in q[col].tolist())


def test_unparsable_csv_rows_keep_no_raw_text(tmp_path: Path) -> None:
    """Unbalanced quotes, an unquoted comma inside an id and a truncated row: no raw id (not
    even a part of one) reaches the lake; each is accounted for by line, reason, bytes, hash."""
    bad = {
        3: b'"ALICE77,c1,2024-03-01T08:00:00Z,0.5',
        4: b"SMITH, JOHN,c1,2024-03-01T08:00:00Z,0.5",
        5: b"BOB55,c1",
        6: b"CAROL3\xff,c1,2024-03-01T08:00:00Z,0.5",
    }
    src = write_lines(
        tmp_path / "s.csv",
        [HEADER, "ok1,c1,2024-03-01T08:00:00Z,0.5", *bad.values(), "ok2,c1,0,"],
    )
    lake = tmp_path / "lake"
    r = ingest(src, lake, key=KEY, progress=False)
    assert r.balanced and (r.rows_read, r.ingested, r.quarantined) == (6, 2, 4)
    q = read_quarantine(lake)
    text = _all_text(q)
    for secret in SECRETS:
        assert secret not in text
    assert q["line"].tolist() == [3, 4, 5, 6]
    assert q["reason"].tolist() == [
        "unbalanced quotes",
        "too many fields",
        "truncated row",
        "not valid UTF-8",
    ]
    assert q["raw"].isna().all()
    assert q["raw_bytes"].tolist() == [len(b) for b in bad.values()]
    assert q["raw_hash"].tolist() == [_line_hash(b) for b in bad.values()]


def test_unparsable_jsonl_lines_keep_no_raw_text(tmp_path: Path) -> None:
    lines = [
        b'{"subject_id": "ok1", "camera_id": "c1", "ts": 0}',
        b'{"subject_id": "ALICE77", "camera_id": ',
        b'{subject_id: "BOB55"}',
        b'["CAROL3", "c1", 0]',
    ]
    src = tmp_path / "s.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    r = ingest(src, tmp_path / "lake", key=KEY, progress=False)
    assert r.balanced and (r.ingested, r.quarantined) == (1, 3)
    q = read_quarantine(tmp_path / "lake")
    for secret in SECRETS:
        assert secret not in _all_text(q)
    assert q["line"].tolist() == [2, 3, 4]
    assert q["raw"].isna().all()
    assert q["raw_bytes"].tolist() == [len(b) for b in lines[1:]]
    assert q["raw_hash"].tolist() == [_line_hash(b) for b in lines[1:]]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_invalid_rows_carry_the_pid_and_forget_removes_them(tmp_path: Path, fmt: str) -> None:
    """Rows that parse but fail validation keep their text with the subject replaced by its
    pid (and a pid column): forgetting the pid removes them; other subjects' rows stay."""
    rows = [
        ("ALICE77", "c1", "2024-03-01T08:00:00Z"),
        ("ALICE77", "c1", "not a time"),
        ("BOB55", "c1", "not a time"),
    ]
    if fmt == "csv":
        src = write_lines(tmp_path / "s.csv", [HEADER] + [f"{s},{c},{t}," for s, c, t in rows])
    elif fmt == "jsonl":
        src = tmp_path / "s.jsonl"
        src.write_text(
            "\n".join(json.dumps({"subject_id": s, "camera_id": c, "ts": t}) for s, c, t in rows)
            + "\n"
        )
    else:
        src = tmp_path / "s.parquet"
        pq.write_table(
            pa.table({k: [r[i] for r in rows] for i, k in enumerate(HEADER.split(",")[:3])}), src
        )
    lake = tmp_path / "lake"
    r = ingest(src, lake, key=KEY, progress=False)
    assert (r.ingested, r.quarantined) == (1, 2)
    q = read_quarantine(lake)
    assert "ALICE77" not in _all_text(q) and "BOB55" not in _all_text(q)
    alice, bob = hmac_pid("ALICE77"), hmac_pid("BOB55")
    assert q["pid"].tolist() == [alice, bob]
    assert alice in q["raw"].iloc[0] and bob in q["raw"].iloc[1]

    report = forget_subject(lake, alice)
    assert report["sightings"] == 1 and report["quarantine"] == 1
    assert read_quarantine(lake)["pid"].tolist() == [bob]


def test_confidence_nan_is_quarantined_in_every_format(tmp_path: Path) -> None:
    """NaN is 'confidence not a number' whatever the format; a missing value (blank, null)
    still means 1.0."""
    ts = "2024-03-01T08:00:00Z"
    csv_src = write_lines(tmp_path / "s.csv", [HEADER, f"a,c1,{ts},nan", f"b,c1,{ts},"])
    jsonl_src = tmp_path / "s.jsonl"
    jsonl_src.write_text(
        json.dumps({"subject_id": "a", "camera_id": "c1", "ts": ts, "confidence": math.nan})
        + "\n"
        + json.dumps({"subject_id": "b", "camera_id": "c1", "ts": ts, "confidence": None})
        + "\n"
    )
    pq_src = tmp_path / "s.parquet"
    pq.write_table(
        pa.table(
            {
                "subject_id": ["a", "b"],
                "camera_id": ["c1", "c1"],
                "ts": [ts, ts],
                "confidence": pa.array([math.nan, None], pa.float64()),
            }
        ),
        pq_src,
    )
    for src in (csv_src, jsonl_src, pq_src):
        lake = tmp_path / f"lake-{src.suffix}"
        r = ingest(src, lake, key=KEY, progress=False)
        assert (r.ingested, r.quarantined) == (1, 1), src
        assert r.reasons == {"confidence not a number": 1}, src
        got = read_sightings(lake)
        assert got["pid"].tolist() == [hmac_pid("b")] and got["confidence"].tolist() == [1.0]
