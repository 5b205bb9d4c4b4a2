"""forget_subject and retention_apply on small hand-built lakes, checked against what must remain."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sightgraph.errors import UsageError
from sightgraph.governance.erasure import forget_subject, retention_apply, retention_cutoff
from sightgraph.lake import LOCK_NAME, read_params, read_sightings, write_table
from sightgraph.schema import SIGHTINGS_ARROW

T = pd.Timestamp


def _ts(*texts: str) -> pd.Series:
    return pd.Series([T(t) for t in texts]).astype("datetime64[us, UTC]")


def _write_sightings(lake: Path, rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    """rows: (pid, camera_id, ts ISO); one part file per UTC date partition."""
    df = pd.DataFrame(rows, columns=["pid", "camera_id", "ts"])
    df["ts"] = _ts(*df["ts"])
    df.insert(0, "sighting_id", range(1, len(df) + 1))
    df["confidence"] = 0.9
    for date, part in df.groupby(df["ts"].dt.strftime("%Y-%m-%d")):
        folder = lake / "sightings" / f"date={date}"
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(part, schema=SIGHTINGS_ARROW, preserve_index=False)
        pq.write_table(table, folder / "part-0.parquet")
    return df


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    cols = ["sighting_id", "pid", "camera_id", "ts", "confidence"]
    return df[cols].sort_values("sighting_id").reset_index(drop=True)


def _files(lake: Path) -> list[str]:
    """The lake's data files (not the writer lock, which holds no data)."""
    return sorted(
        str(p.relative_to(lake)) for p in lake.rglob("*") if p.is_file() and p.name != LOCK_NAME
    )


# ---------------------------------------------------------------------------------------------
@pytest.fixture
def forget_lake(tmp_path: Path) -> Path:
    """Subjects p1, p2, p10 over three days, with derived tables and a quarantine.

    Forgetting p1 must remove: 3 sightings (1 on 03-01, both on 03-02, so that partition goes),
    2 contacts, 1 colocation pair, 2 visits, 2 quarantine rows ('p1' as a token, not inside 'p10'),
    and leave 03-03, transitions and cameras untouched.
    """
    lake = tmp_path / "lake"
    _write_sightings(
        lake,
        [
            ("p1", "c1", "2024-03-01T08:00:00Z"),
            ("p2", "c1", "2024-03-01T08:00:30Z"),
            ("p10", "c2", "2024-03-01T09:00:00Z"),
            ("p1", "c2", "2024-03-02T07:00:00Z"),
            ("p1", "c3", "2024-03-02T23:59:59Z"),
            ("p2", "c3", "2024-03-03T10:00:00Z"),
            ("p10", "c3", "2024-03-03T10:00:10Z"),
        ],
    )
    write_table(
        pd.DataFrame(
            {
                "pid_a": ["p1", "p10", "p1"],
                "pid_b": ["p2", "p2", "p10"],
                "score": [3.0, 1.0, 0.5],
                "last_ts": _ts("2024-03-01T08:00:30Z", "2024-03-03T10:00:10Z", "2024-03-01T09:00Z"),
            }
        ),
        lake / "contacts.parquet",
        params={"window_s": 60},
    )
    write_table(
        pd.DataFrame({"pid_a": ["p1", "p10"], "pid_b": ["p2", "p2"], "n_events": [1, 1]}),
        lake / "colocations" / "part-0.parquet",
    )
    write_table(
        pd.DataFrame({"pid": ["p1", "p1", "p2"], "camera_id": ["c1", "c2", "c1"]}),
        lake / "visits" / "visits.parquet",
    )
    write_table(
        pd.DataFrame({"camera_from": ["c1"], "camera_to": ["c2"], "count": [7]}),
        lake / "transitions.parquet",
    )
    write_table(
        pd.DataFrame(
            {
                "source": ["in.csv"] * 4,
                "line": [2, 3, 4, 5],
                "reason": ["bad ts"] * 4,
                "field": ["ts"] * 4,
                "raw": ["p1,c9,notatime", "p10,c1,bad", "x,y,z", '{"pid": "p1", "ts": null}'],
            }
        ),
        lake / "quarantine" / "in.parquet",
    )
    write_table(
        pd.DataFrame(
            {"camera_id": ["c1"], "lat": [0.0], "lon": [0.0], "name": ["a"], "site": ["s"]}
        ),
        lake / "cameras" / "cameras.parquet",
    )
    return lake


def test_forget_removes_exactly_the_subject_and_reports_counts(forget_lake: Path) -> None:
    lake = forget_lake
    before = read_sightings(lake)
    untouched = {
        rel: (lake / rel).read_bytes()
        for rel in (
            "sightings/date=2024-03-03/part-0.parquet",
            "transitions.parquet",
            "cameras/cameras.parquet",
        )
    }
    report = forget_subject(lake, "p1")
    assert report == {
        "sightings": 3,
        "quarantine": 2,
        "colocations": 1,
        "contacts": 2,
        "visits": 2,
    }
    after = read_sightings(lake)
    pd.testing.assert_frame_equal(_sorted(after), _sorted(before[before["pid"] != "p1"]))
    assert not (lake / "sightings" / "date=2024-03-02").exists()  # emptied partition removed
    for rel, data in untouched.items():
        assert (lake / rel).read_bytes() == data, rel

    contacts = pq.read_table(lake / "contacts.parquet").to_pandas()
    assert list(zip(contacts["pid_a"], contacts["pid_b"], strict=True)) == [("p10", "p2")]
    assert read_params(lake / "contacts.parquet") == {"window_s": 60}  # metadata survives
    assert pq.read_table(lake / "colocations" / "part-0.parquet").to_pandas()["pid_a"].tolist() == [
        "p10"
    ]
    assert pq.read_table(lake / "visits" / "visits.parquet").to_pandas()["pid"].tolist() == ["p2"]
    q = pq.read_table(lake / "quarantine" / "in.parquet").to_pandas()
    assert q["raw"].tolist() == ["p10,c1,bad", "x,y,z"]
    assert not any(Path(f).name.startswith(".") for f in _files(lake))  # no temp files left


def test_forget_twice_removes_nothing_the_second_time(forget_lake: Path) -> None:
    forget_subject(forget_lake, "p1")
    files = {f: (forget_lake / f).read_bytes() for f in _files(forget_lake)}
    second = forget_subject(forget_lake, "p1")
    assert set(second) == {"sightings", "quarantine", "colocations", "contacts", "visits"}
    assert all(v == 0 for v in second.values())
    assert {f: (forget_lake / f).read_bytes() for f in _files(forget_lake)} == files


def test_forget_unknown_pid_changes_nothing(forget_lake: Path) -> None:
    files = {f: (forget_lake / f).read_bytes() for f in _files(forget_lake)}
    assert sum(forget_subject(forget_lake, "nobody").values()) == 0
    assert {f: (forget_lake / f).read_bytes() for f in _files(forget_lake)} == files


def test_forget_keeps_an_emptied_derived_file_readable(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    _write_sightings(lake, [("p2", "c1", "2024-03-01T08:00:00Z")])
    write_table(pd.DataFrame({"pid": ["p1"], "x": [1]}), lake / "predictions" / "p.parquet")
    assert forget_subject(lake, "p1") == {"sightings": 0, "quarantine": 0, "predictions": 1}
    t = pq.read_table(lake / "predictions" / "p.parquet")
    assert t.num_rows == 0 and t.column_names == ["pid", "x"]


def test_forget_drops_files_in_a_pid_partition(tmp_path: Path) -> None:
    """visits/pid=p1/ holds only p1's rows (no pid column): its file goes, pid=p10's stays."""
    lake = tmp_path / "lake"
    _write_sightings(lake, [("p1", "c1", "2024-03-01T08:00:00Z")])
    write_table(pd.DataFrame({"seq": [1, 2]}), lake / "visits" / "pid=p1" / "a.parquet")
    write_table(pd.DataFrame({"seq": [1]}), lake / "visits" / "pid=p10" / "a.parquet")
    report = forget_subject(lake, "p1")
    assert report == {"sightings": 1, "quarantine": 0, "visits": 2}
    assert not (lake / "visits" / "pid=p1").exists()
    assert (lake / "visits" / "pid=p10" / "a.parquet").exists()
    assert not (lake / "sightings").exists() or not list((lake / "sightings").rglob("*.parquet"))


def test_forget_validates_inputs(tmp_path: Path, forget_lake: Path) -> None:
    with pytest.raises(UsageError, match="no lake at"):
        forget_subject(tmp_path / "missing", "p1")
    with pytest.raises(UsageError, match="pid"):
        forget_subject(forget_lake, "  ")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "ab", "b_"]),
            st.sampled_from(["c1", "c2"]),
            st.integers(0, 4 * 86400 - 1),
        ),
        min_size=1,
        max_size=30,
    ),
    victim=st.sampled_from(["a", "b", "zz"]),
)
def test_forget_matches_a_filter_oracle(rows: list[tuple[str, str, int]], victim: str) -> None:
    """Whatever the lake, forget leaves exactly the sightings whose pid is not the victim."""
    base = T("2024-03-01T00:00:00Z")
    with tempfile.TemporaryDirectory() as d:
        lake = Path(d)
        df = _write_sightings(
            lake, [(p, c, (base + pd.Timedelta(seconds=s)).isoformat()) for p, c, s in rows]
        )
        report = forget_subject(lake, victim)
        assert report["sightings"] == int((df["pid"] == victim).sum())
        expected = _sorted(df[df["pid"] != victim])
        if expected.empty:
            assert not list((lake / "sightings").rglob("*.parquet"))
        else:
            pd.testing.assert_frame_equal(_sorted(read_sightings(lake)), expected)


# ---------------------------------------------------------------------------------------------
NOW = T("2024-03-10T12:00:00Z")
CUTOFF = T("2024-03-03T12:00:00Z")  # NOW - 7 days


@pytest.fixture
def retention_lake(tmp_path: Path) -> Path:
    """Cutoff 2024-03-03T12:00Z (now 03-10 12:00, keep 7 days).

    Removed: both 03-01 sightings, the 03-02 one, and 03-03 11:59:59.999999 (4 sightings);
    kept: 03-03 12:00:00 exactly, 12:00:00.000001 and 03-04. Contacts: the row whose last_ts is
    03-03T11:00 goes; rows with last_ts at the cutoff, with old first_ts but recent last_ts, and
    with no times at all stay. Colocation events: the row with both times old goes.
    """
    lake = tmp_path / "lake"
    _write_sightings(
        lake,
        [
            ("p1", "c1", "2024-03-01T08:00:00Z"),
            ("p2", "c1", "2024-03-01T23:59:59.999999Z"),
            ("p1", "c1", "2024-03-02T08:00:00Z"),
            ("p1", "c2", "2024-03-03T11:59:59.999999Z"),
            ("p2", "c2", "2024-03-03T12:00:00Z"),
            ("p3", "c2", "2024-03-03T12:00:00.000001Z"),
            ("p3", "c2", "2024-03-04T00:00:00Z"),
        ],
    )
    nat = pd.NaT
    write_table(
        pd.DataFrame(
            {
                "pid_a": ["p1", "p1", "p2", "p3"],
                "pid_b": ["p2", "p3", "p3", "p4"],
                "first_ts": _ts("2024-03-01T08:00Z", "2024-03-01T08:00Z", "2024-03-01T08:00Z", nat),
                "last_ts": _ts("2024-03-03T11:00Z", "2024-03-03T12:00Z", "2024-03-09T00:00Z", nat),
            }
        ),
        lake / "contacts" / "contacts.parquet",
        params={"gap_s": 900},
    )
    write_table(
        pd.DataFrame(
            {
                "pid_a": ["p1", "p2"],
                "pid_b": ["p2", "p3"],
                "ts_a": _ts("2024-03-01T08:00Z", "2024-03-03T11:59Z"),
                "ts_b": _ts("2024-03-01T08:00:30Z", "2024-03-03T12:00:30Z"),
            }
        ),
        lake / "colocation_events.parquet",
    )
    write_table(
        pd.DataFrame({"camera_from": ["c1"], "camera_to": ["c2"], "count": [7]}),
        lake / "transitions.parquet",
    )
    return lake


def test_retention_cutoff_is_now_minus_days() -> None:
    assert retention_cutoff(7, NOW) == CUTOFF
    assert retention_cutoff(0.5, "2024-03-10T12:00:00+02:00") == T(
        "2024-03-10T10:00:00Z"
    ) - pd.Timedelta(hours=12)
    now = pd.Timestamp.now(tz="UTC")
    assert abs(retention_cutoff(1) - (now - pd.Timedelta(days=1))) < pd.Timedelta(seconds=5)
    for bad in (-1, float("nan"), float("inf"), "7", True):
        with pytest.raises(UsageError, match="days"):
            retention_cutoff(bad)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="timezone-aware"):
        retention_cutoff(7, "2024-03-10T12:00:00")


def test_retention_boundaries_are_exact_and_the_cutoff_is_kept(retention_lake: Path) -> None:
    lake = retention_lake
    untouched = (lake / "sightings/date=2024-03-04/part-0.parquet").read_bytes()
    transitions = (lake / "transitions.parquet").read_bytes()
    report = retention_apply(lake, 7, now=NOW)
    assert report == {"sightings": 4, "colocation_events": 1, "contacts": 1}
    left = read_sightings(lake).sort_values("ts")
    assert left["ts"].tolist() == [
        T("2024-03-03T12:00:00Z"),
        T("2024-03-03T12:00:00.000001Z"),
        T("2024-03-04T00:00:00Z"),
    ]
    assert sorted(p.name for p in (lake / "sightings").iterdir()) == [
        "date=2024-03-03",
        "date=2024-03-04",
    ]
    assert (lake / "sightings/date=2024-03-04/part-0.parquet").read_bytes() == untouched
    assert (lake / "transitions.parquet").read_bytes() == transitions
    contacts = pq.read_table(lake / "contacts" / "contacts.parquet").to_pandas()
    assert list(zip(contacts["pid_a"], contacts["pid_b"], strict=True)) == [
        ("p1", "p3"),
        ("p2", "p3"),
        ("p3", "p4"),
    ]
    assert read_params(lake / "contacts" / "contacts.parquet") == {"gap_s": 900}
    events = pq.read_table(lake / "colocation_events.parquet").to_pandas()
    assert events["pid_a"].tolist() == ["p2"]

    again = retention_apply(lake, 7, now=NOW)
    assert again == {"sightings": 0, "colocation_events": 0, "contacts": 0}


def test_retention_keeps_a_recent_row_misfiled_under_an_old_date(tmp_path: Path) -> None:
    """Whole files are dropped on their ts statistics, not the folder name: nothing recent is lost."""
    lake = tmp_path / "lake"
    df = pd.DataFrame(
        {
            "sighting_id": [1, 2],
            "pid": ["p1", "p2"],
            "camera_id": ["c1", "c1"],
            "ts": _ts("2024-03-01T08:00Z", "2024-03-09T08:00Z"),
            "confidence": [1.0, 1.0],
        }
    )
    folder = lake / "sightings" / "date=2024-03-01"
    folder.mkdir(parents=True)
    pq.write_table(
        pa.Table.from_pandas(df, schema=SIGHTINGS_ARROW, preserve_index=False), folder / "p.parquet"
    )
    assert retention_apply(lake, 7, now=NOW) == {"sightings": 1}
    assert read_sightings(lake)["pid"].tolist() == ["p2"]


def test_retention_with_zero_days_and_missing_lake(tmp_path: Path, retention_lake: Path) -> None:
    with pytest.raises(UsageError, match="no lake at"):
        retention_apply(tmp_path / "nope", 7, now=NOW)
    report = retention_apply(retention_lake, 0, now=T("2030-01-01T00:00Z"))
    assert report["sightings"] == 7
    assert not list((retention_lake / "sightings").rglob("*.parquet"))
    assert pq.read_table(retention_lake / "contacts" / "contacts.parquet").num_rows == 1  # no times


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seconds=st.lists(st.integers(0, 5 * 86400), min_size=1, max_size=30),
    cut=st.integers(0, 5 * 86400),
    days=st.integers(0, 3),
)
def test_retention_matches_a_filter_oracle(seconds: list[int], cut: int, days: int) -> None:
    """Whatever the lake and the cutoff, exactly the sightings with ts >= cutoff remain."""
    base = T("2024-03-01T00:00:00Z")
    now = base + pd.Timedelta(seconds=cut) + pd.Timedelta(days=days)
    cutoff = now - pd.Timedelta(days=days)
    with tempfile.TemporaryDirectory() as d:
        lake = Path(d)
        df = _write_sightings(
            lake,
            [
                (f"p{i % 3}", "c1", (base + pd.Timedelta(seconds=s)).isoformat())
                for i, s in enumerate(seconds)
            ],
        )
        report = retention_apply(lake, days, now=now)
        keep = df[df["ts"] >= cutoff]
        assert report["sightings"] == len(df) - len(keep)
        if keep.empty:
            assert not list((lake / "sightings").rglob("*.parquet"))
        else:
            pd.testing.assert_frame_equal(_sorted(read_sightings(lake)), _sorted(keep))
        assert retention_apply(lake, days, now=now)["sightings"] == 0
